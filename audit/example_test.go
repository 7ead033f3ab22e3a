package audit_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"

	"github.com/reprolog/reprolog/audit"
)

// An auditor that prints findings as JSON lines and goes through the log
// once, then a report of what it knows.
func Example() {
	ctx := context.Background()
	a, err := audit.Open(ctx, audit.Config{
		Log:          "https://log.example.org",
		LogKey:       "log.example.org+a5b8c4a2+AUlF...",
		StateDir:     "/var/lib/reprolog-audit",
		LookupSample: 8,
		Deliver:      func(f audit.Finding) error { return json.NewEncoder(os.Stdout).Encode(f) },
	})
	if err != nil {
		log.Fatal(err)
	}
	defer a.Close()
	res, err := a.Sync(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Fprintf(os.Stderr, "%d of %d entries audited\n", res.Position, res.TreeSize)

	r, err := audit.ReadReport(ctx, "/var/lib/reprolog-audit")
	if err != nil {
		log.Fatal(err)
	}
	r.WriteText(os.Stdout)
}
