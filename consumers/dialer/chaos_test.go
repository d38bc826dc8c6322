package dialer_test

import (
	"bufio"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/osprey-strike/strike/internal/devdata"
	"github.com/osprey-strike/strike/internal/pg"
	"github.com/osprey-strike/strike/internal/tenancy"
	"github.com/osprey-strike/strike/internal/twiliosim"
)

// child is a dialer replica in its own process (TestChildDialer in chaos mode), so the test can
// SIGKILL it, SIGTERM it, or stop it past its session timeout and let it run on as a zombie.
type child struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
}

func (e *env) startChild(name string, cps float64, env ...string) *child {
	e.t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestChildDialer$", "-test.count=1")
	cmd.Env = append(append(os.Environ(), env...), "STRIKE_CHILD_MODE=chaos", "STRIKE_CHILD_TXN=chaos-"+name,
		"STRIKE_CHILD_CPS="+strconv.FormatFloat(cps, 'f', -1, 64),
		"STRIKE_CHILD_BROKERS="+e.kafka.Brokers, "STRIKE_CHILD_DB="+e.db.URLAs(pg.RoleDialer), e.kafka.ChildEnv(),
		"STRIKE_CHILD_SIM="+e.sim.URL(), "STRIKE_CHILD_GW="+e.gateway,
		"STRIKE_CHILD_BASE="+strconv.FormatInt(e.clock.base.UnixNano(), 10),
		"STRIKE_CHILD_REAL0="+strconv.FormatInt(e.clock.real0.UnixNano(), 10))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	must(e.t, err)
	must(e.t, cmd.Start())
	c := &child{name: name, cmd: cmd, done: make(chan struct{})}
	started := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "STARTED") {
				close(started)
			}
		}
		_ = cmd.Wait()
		close(c.done)
	}()
	e.t.Cleanup(func() { _ = cmd.Process.Kill(); <-c.done })
	select {
	case <-started:
	case <-time.After(30 * time.Second):
		e.t.Fatalf("child %s did not start", name)
	}
	return c
}

func (c *child) signal(t testing.TB, sig os.Signal) {
	t.Helper()
	if err := c.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v to %s: %v", sig, c.name, err)
	}
}

// chaosECOs is how many ECOs the chaos test rings: a short form in `make test`, the long form
// (`make chaos`) sets STRIKE_CHAOS_ECOS=200.
func chaosECOs() int {
	if n, err := strconv.Atoi(os.Getenv("STRIKE_CHAOS_ECOS")); err == nil && n > 0 {
		return n
	}
	return 24
}

// TestChaos rings many ECOs at CPS 1 per NOC subaccount across replicas that join, leave, are
// SIGKILLed and paused past their session timeout (zombies), while Twilio loses CreateCall
// answers and duplicates and reorders callbacks. The invariants are read from the callout events
// and the simulator's call log: every ring-down ends, accepted by the contact who presses 1 (no 1
// is lost); no attempt is placed twice and no call is created after its ECO was filled, except
// those whose CreateCall was in flight at the instant a replica was SIGKILLed or paused, and such
// a late call is hung up before anyone presses a key on it.
func TestChaos(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts replica processes")
	}
	const cps = 1
	e := newEnv(t, envOpts{cps: cps, sim: func(c *twiliosim.Config) {
		c.Faults = twiliosim.Faults{Duplicate: true}
	}})
	n := chaosECOs()
	type eco struct {
		id     string
		phones []string
	}
	ecos := make([]eco, 0, n)
	a := e.startChild("a", cps)
	b := e.startChild("b", cps)
	inproc := e.startDialer("c", nil)
	for i := range n {
		osp, ph := e.osp(2)
		e.sim.SetBehaviour(ph[1], accept(2*time.Second))
		if i%3 == 0 {
			e.sim.SetNumberFaults(ph[1], twiliosim.Faults{OutOfOrder: true})
		}
		var id string
		if i%2 == 1 { // Harbor's: its own subaccount and CPS budget
			must(t, e.tenancy.UpsertLink(t.Context(), tenancy.Link{NOCTenantID: devdata.NOCHarbor, OSPTenantID: osp, Status: tenancy.LinkActive}))
			id = e.createdFor(devdata.NOCHarbor, osp)
		} else {
			id = e.created(osp, engagement(1, 0, 1200, 10), 1)
		}
		ecos = append(ecos, eco{id, ph})
	}

	kills, pauses := 0, 0
	step := func(what string, f func()) {
		time.Sleep(2 * time.Second)
		t.Logf("chaos: %s", what)
		f()
	}
	// One round of chaos per 24 ECOs, so the long form keeps replicas churning while it rings.
	next := 0
	name := func() string { next++; return fmt.Sprintf("r%d", next) }
	for range max(1, n/24) {
		step("a CreateCall answer lost", func() { e.sim.FailAfterCreate(1, 0) })
		step("SIGKILL a replica", func() { a.signal(t, syscall.SIGKILL); <-a.done; kills++ })
		step("a replica joins", func() { a = e.startChild(name(), cps) })
		step("a replica paused past its session timeout", func() {
			b.signal(t, syscall.SIGSTOP)
			pauses++
			time.Sleep(4 * time.Second) // > the 1.5 s session timeout of fastGroupOpts
			b.signal(t, syscall.SIGCONT)
		})
		step("a CreateCall answered 500 after creating the call", func() { e.sim.FailAfterCreate(1, 500) })
		step("an in-process replica leaves (SIGTERM-like stop)", func() { inproc.Stop(t) })
		step("SIGKILL a replica", func() { a.signal(t, syscall.SIGKILL); <-a.done; kills++ })
		step("a replica joins", func() { a = e.startChild(name(), cps) })
		step("SIGTERM a replica", func() { b.signal(t, syscall.SIGTERM); <-b.done })
		step("replicas join", func() { b = e.startChild(name(), cps); inproc = e.startDialer(name(), nil) })
	}

	filledAt := map[string]time.Time{}
	for _, x := range ecos {
		evs := e.awaitFinalWithin(x.id, 3*time.Minute)
		acc := acceptedBy(t, evs)
		if acc.Contact.Position != 2 {
			t.Errorf("ECO %s accepted by position %d, want 2: a 1 was lost or miscounted", x.id, acc.Contact.Position)
		}
		filledAt[x.id] = acc.AcceptedAt
	}

	// The simulator's call log: each call's status callback URL names its ECO and attempt.
	attempts := map[string]int{}
	afterFill := 0
	for _, c := range e.sim.Calls() {
		u, err := url.Parse(c.StatusCallback)
		if err != nil {
			t.Fatal(err)
		}
		ecoID, callID := u.Query().Get("eco_id"), u.Query().Get("call_id")
		attempts[callID]++
		if at, ok := filledAt[ecoID]; ok && c.Created.After(at) {
			afterFill++
			t.Logf("ECO %s: call %s (%s) created at %v, after the fill at %v; ended %s, keys %q", ecoID, c.SID, callID, c.Created, at, c.Status, c.Pressed)
			if c.Pressed != "" {
				t.Errorf("ECO %s: a key was pressed on call %s, created after the ECO was filled", ecoID, c.SID)
			}
		}
	}
	twice := 0
	for id, k := range attempts {
		if k > 1 {
			twice++
			t.Logf("attempt %s placed %d times", id, k)
		}
	}
	// A SIGKILL or a pause can repeat only the CreateCalls in flight at that instant: at CPS 1
	// on two subaccounts, at most two each.
	if limit := (kills + pauses) * 2; twice > limit || afterFill > limit {
		t.Errorf("%d attempts placed more than once and %d calls after a fill, want at most %d each (those in flight at %d SIGKILLs and %d pauses)",
			twice, afterFill, limit, kills, pauses)
	}
	t.Logf("chaos: %d ECOs, %d calls, %d attempts repeated after %d SIGKILLs, %d calls after a fill",
		len(ecos), len(e.sim.Calls()), twice, kills, afterFill)
}
