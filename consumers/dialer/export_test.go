package dialer

// SetBeforeCommit installs a hook that runs after a batch with side effects is produced and
// before its transaction ends: crash tests use it to die with a transaction open.
func (d *Dialer) SetBeforeCommit(f func()) { d.beforeCommit = f }
