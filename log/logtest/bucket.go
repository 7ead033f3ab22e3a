package logtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/reprolog/reprolog/internal/testenv"
	rlog "github.com/reprolog/reprolog/log"
)

// S3Bucket returns the object store S3Env names, with its credentials and
// no bucket name. It skips the test when S3Env is not set.
func S3Bucket(t testing.TB) rlog.Bucket {
	t.Helper()
	raw := os.Getenv(S3Env)
	if raw == "" {
		testenv.Unavailable(t, "no S3-compatible object store: %s is not set", S3Env)
	}
	u, err := url.Parse(raw)
	if err != nil || u.User == nil || u.Host == "" {
		t.Fatalf("%s: want http://ACCESS_KEY:SECRET_KEY@HOST:PORT", S3Env)
	}
	secret, _ := u.User.Password()
	return rlog.Bucket{
		Endpoint:    u.Scheme + "://" + u.Host,
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(u.User.Username(), secret, ""),
	}
}

// S3Client is a client of the object store S3Env names.
func S3Client(t testing.TB) *s3.Client {
	t.Helper()
	b := S3Bucket(t)
	return s3.New(s3.Options{
		BaseEndpoint: aws.String(b.Endpoint),
		Region:       b.Region,
		Credentials:  b.Credentials,
		UsePathStyle: true,
	})
}

// NewBucket creates a fresh, empty bucket on the object store S3Env names,
// empties and removes it when the test ends, and returns it. It skips the
// test when S3Env is not set.
func NewBucket(t testing.TB) rlog.Bucket {
	t.Helper()
	b := S3Bucket(t)
	c := S3Client(t)
	r := make([]byte, 8)
	rand.Read(r)
	b.Name = "reprolog-test-" + hex.EncodeToString(r)
	ctx := context.Background()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b.Name)}); err != nil {
		t.Fatalf("creating a test bucket on %s: %v", b.Endpoint, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := removeBucket(ctx, c, b.Name); err != nil {
			t.Errorf("removing the test bucket %s: %v", b.Name, err)
		}
	})
	return b
}

func removeBucket(ctx context.Context, c *s3.Client, name string) error {
	pages := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(name)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, o := range page.Contents {
			if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(name), Key: o.Key}); err != nil {
				return err
			}
		}
	}
	_, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(name)})
	return err
}
