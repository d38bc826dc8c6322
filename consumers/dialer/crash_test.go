package dialer_test

import (
	"bufio"
	"cmp"
	"context"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/consumers/dialer"
	"github.com/osprey-strike/strike/internal/kafkatest"
	"github.com/osprey-strike/strike/internal/pg"
	"github.com/osprey-strike/strike/internal/twilio"
	"github.com/osprey-strike/strike/schemas"
)

// TestChildDialer is not a test on its own: TestReplicaKilledMidRingDown runs the test binary
// again with it selected, as a real second process that it can SIGKILL. It shares the parent's
// virtual clock (same origin and speed), simulator and gateway.
func TestChildDialer(t *testing.T) {
	brokers := os.Getenv("STRIKE_CHILD_BROKERS")
	if brokers == "" {
		t.Skip("only runs as the child of TestReplicaKilledMidRingDown")
	}
	// SIGTERM stops it cleanly, as a supervisor's rolling restart would.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	pool, err := pgxpool.New(ctx, os.Getenv("STRIKE_CHILD_DB"))
	must(t, err)
	v, err := schemas.NewValidator()
	must(t, err)
	base, _ := strconv.ParseInt(os.Getenv("STRIKE_CHILD_BASE"), 10, 64)
	real0, _ := strconv.ParseInt(os.Getenv("STRIKE_CHILD_REAL0"), 10, 64)
	clock := newVClock(speed)
	clock.base, clock.real0 = time.Unix(0, base), time.Unix(0, real0)
	adapter, err := twilio.New(twilio.Config{AccountSID: mainSID, AuthToken: authToken, BaseURL: os.Getenv("STRIKE_CHILD_SIM"), CPS: -1,
		HTTPClient: &http.Client{Timeout: 10 * time.Second}}, zerolog.Nop(), nil)
	must(t, err)
	log := zerolog.Nop()
	if os.Getenv("STRIKE_TEST_LOG") != "" {
		log = zerolog.New(os.Stderr).With().Timestamp().Str("replica", os.Getenv("STRIKE_CHILD_TXN")).Logger()
	}
	d, err := dialer.New(dialer.Deps{Store: dialer.PGStore{Pool: pool}, Twilio: adapter, Validator: v, Log: log},
		dialer.Config{Brokers: brokers, Security: kafkatest.ChildPrincipal(t, "dialer"), WebhookBase: os.Getenv("STRIKE_CHILD_GW"),
			TransactionalID: "strike-dialer-" + cmp.Or(os.Getenv("STRIKE_CHILD_TXN"), "child"),
			CPS:             childCPS(), Clock: dialerClock{clock}, PlaceRetry: 5 * time.Second, ReconcileMargin: 60 * time.Second,
			RestoreTimeout: 20 * time.Second, KafkaOpts: childGroupOpts()})
	must(t, err)
	if os.Getenv("STRIKE_CHILD_MODE") == "chaos" {
		os.Stdout.WriteString("STARTED\n")
		if err := d.Run(ctx); err != nil {
			t.Fatal(err)
		}
		return
	}
	placing := 0
	d.SetBeforeCommit(func(cmds int) {
		// Die in the middle of the ring-downs: in the first transaction after the second one
		// that placed calls (the second contacts, after the first ones did not answer), so
		// those calls are in flight with their SIDs not yet recorded.
		if placing >= 2 {
			os.Stdout.WriteString("TRANSACTION-OPEN\n")
			select {}
		}
		if cmds > 0 {
			placing++
		}
	})
	_ = d.Run(ctx)
}

func childGroupOpts() []kgo.Opt {
	if os.Getenv("STRIKE_CHILD_TIMING") == "production" {
		return productionGroupOpts()
	}
	return fastGroupOpts()
}

func childCPS() float64 {
	if v, err := strconv.ParseFloat(os.Getenv("STRIKE_CHILD_CPS"), 64); err == nil {
		return v
	}
	return -1
}

// TestReplicaKilledMidRingDown kills a dialer (SIGKILL, a real process) in the middle of its
// ring-downs with a transaction open. A survivor restores every ring-down from
// strike.callout.state.v1 and finishes it: every ECO is accepted by the contact who accepts, no
// call is made after an acceptance, and at most the calls that were in flight are repeated.
func TestReplicaKilledMidRingDown(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts a second process")
	}
	e := newEnv(t, envOpts{})
	type eco struct {
		id     string
		phones []string
	}
	var ecos []eco
	for range 8 {
		osp, ph := e.osp(3)
		e.sim.SetBehaviour(ph[1], accept(2*time.Second))
		ecos = append(ecos, eco{e.created(osp, engagement(1, 0, 1200, 10), 1), ph})
	}

	child := exec.Command(os.Args[0], "-test.run=^TestChildDialer$", "-test.count=1")
	child.Env = append(os.Environ(), "STRIKE_CHILD_BROKERS="+e.kafka.Brokers, "STRIKE_CHILD_DB="+e.db.URLAs(pg.RoleDialer), e.kafka.ChildEnv(),
		"STRIKE_CHILD_SIM="+e.sim.URL(), "STRIKE_CHILD_GW="+e.gateway,
		"STRIKE_CHILD_BASE="+strconv.FormatInt(e.clock.base.UnixNano(), 10),
		"STRIKE_CHILD_REAL0="+strconv.FormatInt(e.clock.real0.UnixNano(), 10))
	child.Stderr = os.Stderr
	out, err := child.StdoutPipe()
	must(t, err)
	must(t, child.Start())
	t.Cleanup(func() { _ = child.Process.Kill(); _ = child.Wait() })
	open := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if testing.Verbose() {
				t.Log("child:", sc.Text())
			}
			if strings.Contains(sc.Text(), "TRANSACTION-OPEN") {
				close(open)
				return
			}
		}
	}()
	select {
	case <-open:
	case <-time.After(60 * time.Second):
		t.Fatal("child never reached an open transaction")
	}
	placedBeforeKill := len(e.sim.Calls())
	if placedBeforeKill == 0 {
		t.Fatal("the child had placed no call before the kill; the test would prove nothing")
	}
	must(t, child.Process.Signal(os.Kill))
	_ = child.Wait()

	e.startDialer("survivor", nil)
	repeats := 0
	for _, x := range ecos {
		evs := e.awaitFinal(x.id)
		a := acceptedBy(t, evs)
		if a.Contact.Position != 2 {
			t.Errorf("ECO %s accepted by position %d, want 2", x.id, a.Contact.Position)
		}
		for _, c := range e.sim.Calls() {
			for _, p := range x.phones {
				if c.To == p && c.Created.After(a.AcceptedAt) {
					t.Errorf("ECO %s: a call to %s at %v after the acceptance at %v", x.id, p, c.Created, a.AcceptedAt)
				}
			}
		}
		seq := e.callSequence(x.phones)
		counts := map[int]int{}
		for _, p := range seq {
			counts[p]++
		}
		if counts[3] != 0 || counts[1] < 1 || counts[2] < 1 {
			t.Errorf("ECO %s calls %v, want contacts 1 then 2", x.id, seq)
		}
		r := len(seq) - 2
		t.Logf("ECO %s: calls to positions %v", x.id, seq)
		if r > 1 {
			t.Errorf("ECO %s: %d calls repeated (%v); only the in-flight one may be", x.id, r, seq)
		}
		repeats += r
	}
	t.Logf("calls before the kill: %d; calls repeated after it: %d", placedBeforeKill, repeats)
}
