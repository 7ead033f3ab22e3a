package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"golang.org/x/mod/sumdb/note"

	"github.com/reprolog/reprolog/internal/testbin"
	"github.com/reprolog/reprolog/log/logtest"
	"github.com/reprolog/reprolog/pgp/pgptest"
)

// TestAWSFrontEnds runs two reprolog-server processes on Tessera's AWS
// storage (one MySQL database, one bucket of a real S3-compatible object
// store, credentials from the AWS environment variables): records
// submitted to either are logged once, both serve the whole log, and the
// bucket holds the very checkpoint and tiles they serve.
func TestAWSFrontEnds(t *testing.T) {
	dsn := logtest.NewDatabase(t)
	b := logtest.NewBucket(t)
	creds, err := b.Credentials.Retrieve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", creds.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", creds.SecretAccessKey)
	keys := t.TempDir()
	flags := []string{"--mysql", dsn, "--checkpoint-interval", "1s",
		"--s3-bucket", b.Name, "--s3-prefix", "debian", "--s3-endpoint", b.Endpoint}
	front := []*testbin.Server{testbin.StartServer(t, keys, flags...), testbin.StartServer(t, keys, flags...)}

	text, err := os.ReadFile("../../buildinfo/testdata/gen_local_rbtest_0.1_amd64.build1.buildinfo")
	if err != nil {
		t.Fatal(err)
	}
	var records [][]byte
	for i := range 4 {
		signer := pgptest.NewSigner(t, fmt.Sprintf("rebuilder%d", i))
		postStatus(t, front[i%2].URL+"/keys", signer.PublicArmored(), http.StatusCreated)
		rec := signer.ClearSign(t, text)
		records = append(records, rec)
		first := postStatus(t, front[i%2].URL+"/add", rec, http.StatusCreated)
		again := postStatus(t, front[(i+1)%2].URL+"/add", rec, http.StatusOK)
		if again.Index != first.Index || !again.Duplicate {
			t.Errorf("record %d: index %d at one front end, %d (duplicate %v) at the other", i, first.Index, again.Index, again.Duplicate)
		}
	}

	v, err := note.NewVerifier(front[0].VKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range front {
		cp, entries := logtest.ReadAll(t, f.URL, v)
		if cp.N != int64(len(records)) || len(entries) != len(records) {
			t.Fatalf("%s serves %d entries (checkpoint %d), want %d", f.URL, len(entries), cp.N, len(records))
		}
		for _, rec := range records {
			resp, err := http.Get(f.URL + "/record/" + sha256Hex(rec))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !bytes.Equal(body, rec) {
				t.Errorf("%s does not serve a record: %d", f.URL, resp.StatusCode)
			}
		}
	}

	// The bucket is the read API: its objects are what the log serves.
	c := logtest.S3Client(t)
	for _, path := range []string{"checkpoint", "tile/0/000.p/4", "tile/entries/000.p/4"} {
		obj, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(b.Name), Key: aws.String("debian/" + path)})
		if err != nil {
			t.Fatalf("bucket object %s: %v", path, err)
		}
		inBucket, _ := io.ReadAll(obj.Body)
		obj.Body.Close()
		resp, err := http.Get(front[1].URL + "/" + path)
		if err != nil {
			t.Fatal(err)
		}
		served, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !bytes.Equal(inBucket, served) {
			t.Errorf("/%s differs from the bucket's object:\n%q\n%q", path, served, inBucket)
		}
	}
}

// TestAWSFlags: what the S3 flags refuse before they touch anything.
func TestAWSFlags(t *testing.T) {
	bin := testbin.Build(t, "reprolog-server")
	for _, tt := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--s3-bucket", "logs"}, "--s3-bucket needs --mysql"},
		{[]string{"--s3-endpoint", "http://127.0.0.1:1"}, "need --s3-bucket"},
		{[]string{"--mysql", "u:p@tcp(127.0.0.1:1)/db", "--s3-bucket", "logs", "--s3-endpoint", "127.0.0.1:9000"}, "want an http:// or https:// URL"},
		{[]string{"--mysql", "u:p@tcp(127.0.0.1:1)/db", "--s3-bucket", "logs", "--checkpoint-interval", "100ms"}, "at most every 1s"},
	} {
		dir := t.TempDir() + "/data"
		_, errOut, code := testbin.Run(t, bin, append([]string{"--data", dir, "--listen", "127.0.0.1:0"}, tt.args...)...)
		if code == 0 || !strings.Contains(errOut, tt.msg) {
			t.Errorf("%q: exit %d, %s", tt.args, code, errOut)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("%q: the data directory was created", tt.args)
		}
	}
}
