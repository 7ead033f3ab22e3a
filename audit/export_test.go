package audit

import "time"

// SetRetryPause sets the first pause between the attempts of one request
// to the log's API (it doubles at each), so that tests of a log that keeps
// failing run quickly.
func SetRetryPause(a *Auditor, d time.Duration) { a.api.pause = d }
