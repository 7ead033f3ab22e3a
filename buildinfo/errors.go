package buildinfo

import (
	"errors"
	"fmt"
)

var (
	// ErrMalformed is wrapped by every error about a buildinfo that breaks
	// the format.
	ErrMalformed = errors.New("malformed buildinfo")
	// ErrUnsupported is wrapped by errors about well-formed input of a kind
	// this package does not read.
	ErrUnsupported = errors.New("unsupported buildinfo")
)

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

func unsupported(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUnsupported, fmt.Sprintf(format, args...))
}

// quote shortens attacker-controlled text before it goes into a message.
func quote(s string) string {
	const max = 48
	if len(s) > max {
		s = s[:max] + "..."
	}
	return fmt.Sprintf("%q", s)
}
