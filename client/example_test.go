package client_test

import (
	"fmt"
	"strings"

	"github.com/reprolog/reprolog/buildinfo"
	"github.com/reprolog/reprolog/client"
	"github.com/reprolog/reprolog/proofs"
	"github.com/reprolog/reprolog/statement"
)

// Three rebuilders are trusted and two must agree. Alice and Bob built
// exactly the file being installed; Carol, with a newer compiler (other
// build inputs), built another binary: that is toolchain drift, not
// dissent. Mallory is not in the policy and does not count.
func ExampleDecide() {
	fpr := func(name string) string { return strings.Repeat(strings.ToUpper(name[:1]), 40) }
	p := &client.Policy{Threshold: 2, Builders: []client.Builder{
		{Name: "alice", Fingerprint: fpr("a")}, {Name: "bob", Fingerprint: fpr("b")}, {Name: "carol", Fingerprint: fpr("c")}}}

	deb := client.Target{Package: "hello", Version: "2.10-3", Arch: "amd64", SHA256: strings.Repeat("1", 64)}
	built := func(i int64, builder, sha, inputs string) proofs.Verified {
		f, _ := buildinfo.FileFromName("hello_2.10-3_amd64.deb")
		f.SHA256, f.Size = sha, 1000
		return proofs.Verified{Index: i, Statement: &statement.Statement{Source: "hello", SourceVersion: "2.10-3",
			Version: "2.10-3", Architectures: []string{"amd64"}, BuildArchitecture: "amd64", Inputs: inputs,
			Builder: fpr(builder), Record: strings.Repeat("0", 64), Files: []statement.File{f}}}
	}
	same, newer := strings.Repeat("a", 64), strings.Repeat("b", 64)
	d := client.Decide(p, deb, client.Checkpoint{Origin: "log.example.org", Size: 4}, []proofs.Verified{
		built(0, "alice", deb.SHA256, same),
		built(1, "bob", deb.SHA256, same),
		built(2, "carol", strings.Repeat("2", 64), newer),
		built(3, "mallory", strings.Repeat("3", 64), same),
	})
	fmt.Println(d.Verdict, d.Agreeing, d.Drifting, d.RebuildDue)
	fmt.Println(d.Summary())
	// Output:
	// reproducible [alice bob] [carol] true
	// hello: hello 2.10-3 amd64: reproducible: 2 of 3 voters agree, 2 needed; agreeing: alice, bob; drifting: carol (checkpoint log.example.org at size 4)
}
