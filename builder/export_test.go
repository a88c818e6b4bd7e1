package builder

// SetBeforeRename installs a hook run just before the finished temporary
// file is renamed over the output, to simulate a build killed at the last
// moment. Tests using it must not run in parallel.
func SetBeforeRename(f func(tmp string) error) (restore func()) {
	old := beforeRename
	beforeRename = f
	return func() { beforeRename = old }
}
