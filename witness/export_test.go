package witness

// SetStall makes w call f after checking and cosigning a request and before
// committing it, so tests can interleave requests.
func SetStall(w *Witness, f func()) { w.stall = f }
