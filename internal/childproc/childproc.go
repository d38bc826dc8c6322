// Package childproc re-runs the current test binary as a second process that runs one test, so a
// crash test can SIGKILL a component mid-transaction: no deferred cleanup, no client-side abort,
// exactly what a killed pod leaves behind.
package childproc

import (
	"bufio"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Child is a running child process.
type Child struct {
	cmd   *exec.Cmd
	lines chan string
	done  chan struct{} // closed once the process has exited and been waited for
	err   error         // its exit status; read after done
}

// Start runs the test function named test in a child process, with env added to the
// environment (the child test reads it, and skips itself when it is absent). The child is
// killed when the calling test ends, if it still runs.
func Start(t testing.TB, test string, env ...string) *Child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("childproc: start %s: %v", test, err)
	}
	c := &Child{cmd: cmd, lines: make(chan string, 64), done: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case c.lines <- sc.Text():
			default: // nobody is waiting for this line
			}
		}
		close(c.lines)
		// Wait only after stdout is drained (it closes the pipe); stdout ends when the
		// process exits.
		c.err = cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-c.done })
	return c
}

// Done is closed once the child has exited; Err then says how.
func (c *Child) Done() <-chan struct{} { return c.done }

// Err is the child's exit status (nil: exit 0), once Done is closed.
func (c *Child) Err() error {
	<-c.done
	return c.err
}

// Signal sends sig to the child (SIGTERM to stop it the way a supervisor does).
func (c *Child) Signal(t testing.TB, sig os.Signal) {
	t.Helper()
	if err := c.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("childproc: signal %v: %v", sig, err)
	}
}

// Announce prints marker for the parent's WaitFor; call it in the child.
func Announce(marker string) {
	_, _ = os.Stdout.WriteString(marker + "\n")
}

// WaitFor blocks until the child announces marker, failing the test after timeout or if the
// child exits first.
func (c *Child) WaitFor(t testing.TB, marker string, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case line, ok := <-c.lines:
			if !ok {
				t.Fatalf("childproc: child exited before announcing %q", marker)
			}
			if strings.Contains(line, marker) {
				return
			}
		case <-deadline:
			t.Fatalf("childproc: child did not announce %q within %v", marker, timeout)
		}
	}
}

// Kill sends SIGKILL and waits for the process to be gone.
func (c *Child) Kill(t testing.TB) {
	t.Helper()
	if err := c.cmd.Process.Kill(); err != nil {
		t.Fatalf("childproc: kill: %v", err)
	}
	<-c.done
}
