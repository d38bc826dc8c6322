package sink

// SetBeforeCommit installs a hook run before each batch write (tests kill a replica there).
func (s *Sink) SetBeforeCommit(f func(n int)) { s.beforeCommit = f }
