package ecoprocessor

// SetBeforeCommit installs a hook that runs after a batch's outputs are produced and before its
// transaction ends: crash tests use it to die with a transaction open.
func (p *Processor) SetBeforeCommit(f func()) { p.beforeCommit = f }
