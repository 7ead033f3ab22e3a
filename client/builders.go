package client

import (
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/reprolog/reprolog/pgp"
)

// OpenPolicy reads a policy file as LoadPolicy does, but returns once its
// log paragraph is read: the builders' keys, whose checks take longer, load
// in the background. Until Wait returns nil, only the fields that describe
// the log (LogURL, Log, Witnesses, MaxAge, StateDir, Allow, Timeout) may be
// used; a Verifier can fetch from the log meanwhile, and waits for the keys
// when it needs them. (It may then keep in State-Dir a checkpoint it
// verified with the log's fields even when the keys fail to load.)
func OpenPolicy(path string) (*Policy, error) {
	text, err := readFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPolicy, err)
	}
	dir := filepath.Dir(path)
	p, builders, err := parseLogParagraph(text, dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %v", path, ErrPolicy, err)
	}
	p.loaded = make(chan struct{})
	now := time.Now()
	go func() {
		defer close(p.loaded)
		if err := p.addBuilders(builders, dir, now); err != nil {
			p.loadErr = fmt.Errorf("%s: %w: %v", path, ErrPolicy, err)
		}
	}()
	return p, nil
}

// Wait waits until the builders of a policy from OpenPolicy are loaded,
// and returns the error that makes the policy unusable, if any: then
// Builders, Threshold and Warnings are set. For any other policy it
// returns nil at once.
func (p *Policy) Wait() error {
	if p.loaded == nil {
		return nil
	}
	<-p.loaded
	return p.loadErr
}

// addBuilders reads the builder paragraphs, then sets the default
// threshold and warns about a risky one.
func (p *Policy) addBuilders(paras []paragraph, dir string, now time.Time) error {
	if err := p.parseBuilders(paras, dir, now); err != nil {
		return err
	}
	n := p.Voters()
	if p.Threshold == 0 {
		p.Threshold = n/2 + 1
	}
	if p.Threshold > n {
		return fmt.Errorf("Threshold %d is more than the %d voters", p.Threshold, n)
	}
	if p.Threshold <= n/2 {
		p.Warnings = append(p.Warnings, fmt.Sprintf(
			"Threshold %d of %d voters is not a majority: two different binaries could both pass", p.Threshold, n))
	}
	if p.Threshold == n {
		p.Warnings = append(p.Warnings, fmt.Sprintf(
			"Threshold %d of %d voters: one lost rebuilder blocks every install", p.Threshold, n))
	}
	return nil
}

// builderEntry is one builder paragraph as it is read: its fields, then
// its key.
type builderEntry struct {
	b       Builder
	keyFile string
	err     error  // in the paragraph's fields, or its key
	warning string // about its key; with no key, the builder does not vote
}

// parseBuilders reads the builder paragraphs. Checking each key's
// self-signatures is the costly part, so the keys load on every core;
// the builders are then taken in order, and the first error in paragraph
// order is reported.
func (p *Policy) parseBuilders(paras []paragraph, dir string, now time.Time) error {
	entries := make([]builderEntry, len(paras))
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i, para := range paras {
		e := &entries[i]
		if e.b, e.keyFile, e.err = readBuilder(para); e.err != nil {
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			e.b.Key, e.warning, e.err = loadKey(e.b.Name, resolve(dir, e.keyFile), e.keyFile, now)
		})
	}
	wg.Wait()
	for i, e := range entries {
		if e.err == nil && e.warning != "" {
			p.Warnings = append(p.Warnings, e.warning)
		}
		if e.err == nil && e.b.Key != nil {
			e.err = p.addBuilder(e.b)
		}
		if e.err != nil {
			return fmt.Errorf("builder paragraph %d: %v", i+1, e.err)
		}
	}
	return nil
}

// readBuilder reads a builder paragraph's fields.
func readBuilder(para paragraph) (b Builder, keyFile string, err error) {
	for _, f := range []struct {
		name string
		to   *string
	}{{"Builder", &b.Name}, {"Key-File", &keyFile}, {"Operator", &b.Operator}} {
		v, _, err := para.take(f.name)
		if err != nil {
			return Builder{}, "", err
		}
		*f.to = v
	}
	if err := para.rest("builder", builderFields); err != nil {
		return Builder{}, "", err
	}
	if b.Name == "" {
		return Builder{}, "", fmt.Errorf("missing field Builder")
	}
	if keyFile == "" {
		return Builder{}, "", fmt.Errorf("builder %s: missing field Key-File", b.Name)
	}
	return b, keyFile, nil
}

// loadKey reads and checks builder name's key from path (keyFile as the
// policy names it). A revoked key gives no key and a warning: the builder
// does not vote. An expired key still checks the records signed before it
// expired, with a warning.
func loadKey(name, path, keyFile string, now time.Time) (*pgp.Key, string, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("builder %s: Key-File: %v", name, err)
	}
	key, err := pgp.ParseKey(data, now)
	switch {
	case errors.Is(err, pgp.ErrKeyRevoked):
		return nil, fmt.Sprintf("builder %s: its key is revoked, so it does not vote: remove it from the policy or update Key-File %s",
			name, keyFile), nil
	case errors.Is(err, pgp.ErrKeyExpired):
		var last time.Time
		if key, last, err = pgp.ParseExpiredKey(data, now); err != nil {
			return nil, "", fmt.Errorf("builder %s: Key-File %s: %v", name, keyFile, err)
		}
		return key, fmt.Sprintf("builder %s: its key expired at %s: only records it signed before then count; update Key-File %s if it was extended",
			name, last.UTC().Format(time.RFC3339), keyFile), nil
	case err != nil:
		return nil, "", fmt.Errorf("builder %s: Key-File %s: %v", name, keyFile, err)
	}
	return key, "", nil
}

// addBuilder adds b, whose key is loaded, to the policy.
func (p *Policy) addBuilder(b Builder) error {
	b.Fingerprint = b.Key.Fingerprint()
	for _, o := range p.Builders {
		switch {
		case o.Name == b.Name:
			return fmt.Errorf("builder %s named twice", b.Name)
		case o.Fingerprint == b.Fingerprint:
			return fmt.Errorf("builders %s and %s have the same key %s", o.Name, b.Name, b.Fingerprint)
		case o.Voter() == b.Name || o.Name == b.Operator && b.Operator != "":
			return fmt.Errorf("builder %s: a builder and an operator share the name", b.Name)
		}
	}
	p.Builders = append(p.Builders, b)
	return nil
}
