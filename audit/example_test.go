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

// An alerting hook that may be down for a while: findings are printed as
// they come, and passed on to the hook on their own goroutine, tried again
// with backoff, without holding the audit up.
func ExampleAuditor_Notifier() {
	ctx := context.Background()
	a, err := audit.Open(ctx, audit.Config{
		Log:      "https://log.example.org",
		LogKey:   "log.example.org+a5b8c4a2+AUlF...",
		StateDir: "/var/lib/reprolog-audit",
		Deliver:  func(f audit.Finding) error { return json.NewEncoder(os.Stdout).Encode(f) },
	})
	if err != nil {
		log.Fatal(err)
	}
	defer a.Close()
	alert := func(ctx context.Context, f audit.Finding) error {
		return sendAlert(ctx, f.Summary) // fails while the alerting service is down
	}
	n, err := a.Notifier(ctx, "alerts", alert)
	if err != nil {
		log.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	if _, err := a.Sync(ctx); err != nil {
		log.Print(err)
	}
	n.Finish(5) // pass on what is left, or give up after 5 failures in a row
	if err := <-done; err != nil {
		log.Printf("alerts: %v (passed on at the next start)", err)
	}
}

func sendAlert(context.Context, string) error { return nil }
