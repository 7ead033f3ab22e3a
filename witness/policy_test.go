package witness_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"strings"
	"testing"

	"filippo.io/torchwood"
	"github.com/reprolog/reprolog/witness"
	"github.com/transparency-dev/tessera"
	"golang.org/x/mod/sumdb/note"
)

// keys makes the vkeys policies refer to.
type keys struct {
	t    testing.TB
	priv map[string]ed25519.PrivateKey
}

func newKeys(t testing.TB) *keys { return &keys{t: t, priv: map[string]ed25519.PrivateKey{}} }

func (k *keys) key(id string) ed25519.PrivateKey {
	if p, ok := k.priv[id]; ok {
		return p
	}
	_, p, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		k.t.Fatal(err)
	}
	k.priv[id] = p
	return p
}

// log returns the Ed25519 vkey for key id under name.
func (k *keys) log(id, name string) string {
	v, err := note.NewEd25519VerifierKey(name, k.key(id).Public().(ed25519.PublicKey))
	if err != nil {
		k.t.Fatal(err)
	}
	return v
}

// cosigner returns the cosignature/v1 signer for key id under name.
func (k *keys) cosigner(id, name string) *torchwood.CosignatureSigner {
	s, err := torchwood.NewCosignatureSigner(name, k.key(id))
	if err != nil {
		k.t.Fatal(err)
	}
	return s
}

func (k *keys) witness(id, name string) string { return k.cosigner(id, name).Verifier().String() }

func TestParsePolicy(t *testing.T) {
	k := newKeys(t)
	text := fmt.Sprintf(`# reprolog test policy
log %s https://log.example/
  log	%s

witness X1 %s https://x1.example/
witness X2 %s
witness X3 %s
group X-witnesses 2 X1 X2 X3
	# indented comment
witness Y1 %s
witness Y2 %s
witness Y3 %s
group Y-witnesses any Y1 Y2 Y3

group X-and-Y all X-witnesses Y-witnesses
quorum X-and-Y`,
		k.log("l1", "log.example/one"), k.log("l2", "log.example/two"),
		k.witness("x1", "x1.example"), k.witness("x2", "x2.example"), k.witness("x3", "x3.example"),
		k.witness("y1", "y1.example"), k.witness("y2", "y2.example"), k.witness("y3", "y3.example"))
	p, err := witness.ParsePolicy([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	logs := p.Logs()
	if len(logs) != 2 || logs[0].Origin != "log.example/one" || logs[0].URL != "https://log.example/" ||
		logs[1].Origin != "log.example/two" || logs[1].URL != "" || logs[0].Line != 2 || logs[1].Line != 3 {
		t.Fatalf("logs = %+v", logs)
	}
	if logs[0].Verifier.Name() != "log.example/one" || logs[0].VKey != k.log("l1", "log.example/one") {
		t.Errorf("log verifier = %s", logs[0].Verifier.Name())
	}
	ws := p.Witnesses()
	if len(ws) != 6 || ws[0].Name != "X1" || ws[0].URL != "https://x1.example/" || ws[0].Verifier.Name() != "x1.example" || ws[5].Name != "Y3" {
		t.Fatalf("witnesses = %+v", ws)
	}
}

func TestParsePolicyErrors(t *testing.T) {
	k := newKeys(t)
	log1, w1, w2 := k.log("l", "log.example"), k.witness("a", "a.example"), k.witness("b", "b.example")
	head := "log " + log1 + "\nwitness A " + w1 + "\nwitness B " + w2 + "\n" // lines 1-3
	tests := []struct {
		name, text string
		line       int // 0: an error about the whole file
		want       string
	}{
		{"empty", "", 0, "no quorum"},
		{"only comments", "# nothing\n", 0, "no quorum"},
		{"no quorum", head, 0, "no quorum"},
		{"unknown keyword", head + "witnesses C " + w1 + "\nquorum A\n", 4, "unknown keyword"},
		{"log without key", "log\nquorum none\n", 1, "log <vkey>"},
		{"log with extra field", "log " + log1 + " https://l.example/ x\nquorum none\n", 1, "log <vkey>"},
		{"log with cosigner key", "log " + w1 + "\nquorum none\n", 1, "0x04"},
		{"log key malformed", "log example+1234+!!!!\nquorum none\n", 1, "malformed"},
		{"log key of type 0", "log example+1234+AAAA\nquorum none\n", 1, "0x00"},
		{"log key wrong hash", "log " + wrongHash(log1) + "\nquorum none\n", 1, "invalid verifier hash"},
		{"duplicate log key", "log " + log1 + "\nlog " + k.log("l", "other.example") + "\nquorum none\n", 2, "duplicates the one on line 1"},
		{"log URL not http", "log " + log1 + " ftp://l.example/\nquorum none\n", 1, "http"},
		{"log URL relative", "log " + log1 + " /path\nquorum none\n", 1, "http"},
		{"witness without key", "witness A\nquorum A\n", 1, "witness <name>"},
		{"witness with log key", "witness A " + log1 + "\nquorum A\n", 1, "0x01"},
		{"witness key wrong hash", "witness A " + wrongHash(w1) + "\nquorum A\n", 1, "key hash"},
		{"witness named for a keyword", "witness all " + w1 + "\nquorum none\n", 1, "keyword"},
		{"witness named none", "witness none " + w1 + "\nquorum none\n", 1, "keyword"},
		{"duplicate witness name", head + "witness A " + k.witness("c", "c.example") + "\nquorum A\n", 4, "already defined"},
		{"duplicate witness key", head + "witness C " + k.witness("a", "other.example") + "\nquorum A\n", 4, "duplicates the one on line 2"},
		{"witness bad URL", "witness A " + w1 + " not-a-url\nquorum A\n", 1, "URL"},
		{"group without members", head + "group G any\nquorum G\n", 4, "at least one member"},
		{"group threshold zero", head + "group G 0 A B\nquorum G\n", 4, "outside 1..2"},
		{"group threshold too large", head + "group G 3 A B\nquorum G\n", 4, "outside 1..2"},
		{"group threshold leading zero", head + "group G 01 A B\nquorum G\n", 4, "decimal"},
		{"group threshold negative", head + "group G -1 A B\nquorum G\n", 4, "outside 1..2"},
		{"group threshold word", head + "group G most A B\nquorum G\n", 4, "decimal"},
		{"group undefined member", head + "group G any A C\nquorum G\n", 4, "\"C\" is not a witness or group"},
		{"group member twice", head + "group G any A A\nquorum G\n", 4, "already a group member on line 4"},
		{"member of two groups", head + "group G any A\ngroup H any A B\nquorum G\n", 5, "already a group member on line 4"},
		{"group named like witness", head + "group A any B\nquorum A\n", 4, "already defined"},
		{"group named for keyword", head + "group quorum any A\nquorum A\n", 4, "keyword"},
		{"group refers to later group", head + "group G all A H\ngroup H any B\nquorum G\n", 4, "\"H\" is not a witness or group"},
		{"quorum before its group", head + "quorum G\ngroup G any A B\n", 4, "not a witness or group defined on an earlier line"},
		{"quorum undefined", head + "quorum C\n", 4, "not a witness or group"},
		{"two quorums", head + "quorum A\nquorum B\n", 5, "second quorum line (the first is line 4)"},
		{"quorum without name", head + "quorum\n", 4, "quorum <name>"},
		{"quorum with two names", head + "quorum A B\n", 4, "quorum <name>"},
		{"inline comment", head + "quorum A # the first\n", 4, "start of a comment line"},
		{"CRLF", head + "quorum A\r\n", 4, "carriage return"},
		{"NUL", head + "quorum A\x00\n", 4, "control character 0x00"},
		{"DEL", head + "quorum A\x7f\n", 4, "control character 0x7f"},
		{"vertical tab", head + "quorum\vA\n", 4, "control character 0x0b"},
		{"too large", head + strings.Repeat("#\n", 200<<10) + "quorum A\n", 0, "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := witness.ParsePolicy([]byte(tt.text))
			if err == nil {
				t.Fatal("ParsePolicy accepted it")
			}
			msg := err.Error()
			if tt.line > 0 && !strings.HasPrefix(msg, fmt.Sprintf("policy line %d: ", tt.line)) {
				t.Errorf("error %q does not name line %d", msg, tt.line)
			}
			if !strings.Contains(msg, tt.want) {
				t.Errorf("error %q does not mention %q", msg, tt.want)
			}
		})
	}
}

// TestPolicyAcceptedByTessera checks that policies we accept (with witness
// URLs) are accepted by Tessera's reader too, so a log and its clients can
// share one file.
func TestPolicyAcceptedByTessera(t *testing.T) {
	k := newKeys(t)
	w := func(id string) string { return k.witness(id, id+".example") + " https://" + id + ".example/w" }
	policies := []string{
		"log " + k.log("l", "log.example") + "\nquorum none\n",
		"witness A " + w("a") + "\nquorum A\n",
		"# c\n\twitness A " + w("a") + "\n witness B\t" + w("b") + "\ngroup G all A B\nquorum G",
		"witness A " + w("a") + "\nwitness B " + w("b") + "\nwitness C " + w("c") +
			"\ngroup G 2 A B\ngroup H any G C\nquorum H\n",
	}
	for i, text := range policies {
		if _, err := witness.ParsePolicy([]byte(text)); err != nil {
			t.Errorf("policy %d: ParsePolicy: %v", i, err)
		}
		if _, err := tessera.NewWitnessGroupFromPolicy([]byte(text)); err != nil {
			t.Errorf("policy %d: Tessera: %v", i, err)
		}
	}
}

// wrongHash changes the key hash of a vkey.
func wrongHash(vkey string) string {
	i := strings.Index(vkey, "+") + 1
	c := byte('0')
	if vkey[i] == '0' {
		c = '1'
	}
	return vkey[:i] + string(c) + vkey[i+1:]
}
