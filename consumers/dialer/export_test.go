package dialer

// SetBeforeCommit installs a hook that runs after a batch is produced (with the number of
// side effects it will start) and
// before its transaction ends: crash tests use it to die with a transaction open.
func (d *Dialer) SetBeforeCommit(f func(commands int)) { d.beforeCommit = f }
