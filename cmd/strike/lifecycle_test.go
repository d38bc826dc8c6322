package main

// Shutdown and failover of every `strike run` component, each replica a real child process (this
// test binary re-run as `strike run <component>`, with main's signal handling), on kfake and a
// real PostgreSQL schema: SIGTERM must leave no Kafka transaction open and no member in the
// group, and a replacement must take the next record; SIGKILL must hand the dead replica's work
// to a survivor. The tests here check what happens; bench_lifecycle_test.go measures how fast.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/consumers/dialer"
	"github.com/osprey-strike/strike/consumers/ecoprocessor"
	"github.com/osprey-strike/strike/consumers/egress"
	"github.com/osprey-strike/strike/consumers/sink"
	"github.com/osprey-strike/strike/internal/childproc"
	"github.com/osprey-strike/strike/internal/cloudevents"
	"github.com/osprey-strike/strike/internal/devdata"
	"github.com/osprey-strike/strike/internal/ecorequest"
	"github.com/osprey-strike/strike/internal/ids"
	"github.com/osprey-strike/strike/internal/kafkatest"
	"github.com/osprey-strike/strike/internal/pgtest"
	"github.com/osprey-strike/strike/internal/rendersim"
	"github.com/osprey-strike/strike/internal/secrets"
	"github.com/osprey-strike/strike/internal/tenancy"
	"github.com/osprey-strike/strike/internal/topics"
	"github.com/osprey-strike/strike/internal/twilio"
	"github.com/osprey-strike/strike/internal/twiliosim"
	"github.com/osprey-strike/strike/producers/gateway"
	"github.com/osprey-strike/strike/producers/renderpoller"
	"github.com/osprey-strike/strike/schemas"
)

const envChildArgs = "STRIKE_LIFECYCLE_CHILD_ARGS"

// TestChildStrikeRun is the child process: `strike <args>` exactly as main runs it (SIGTERM
// cancels the command's context), then exit. It skips itself in a normal test run.
func TestChildStrikeRun(t *testing.T) {
	raw := os.Getenv(envChildArgs)
	if raw == "" {
		t.Skip("child process of the lifecycle tests")
	}
	var args []string
	if err := json.Unmarshal([]byte(raw), &args); err != nil {
		t.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRoot()
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "strike:", err)
		os.Exit(1)
	}
	os.Exit(0) // as main returns: no test framework teardown in the measured exit
}

// Test Twilio context of the lifecycle world (the simulator accepts it). Not secrets.
const (
	lcTwilioSID   = "AC1c0000000000000000000000000000ff"
	lcTwilioToken = "lifecycletesttoken00000000000000"
)

// lcWorld is one test's cluster, database and simulators, shared by its replicas.
type lcWorld struct {
	t         testing.TB
	kafka     *kafkatest.Cluster
	db        *pgtest.Schema
	validator *schemas.Validator
	twilio    *twiliosim.Sim
	render    *rendersim.Server
	renderURL string
	keys      string // STRIKE_SECRET_KEYS of the render-poller
	adm       *kadm.Client
	producer  *kgo.Client
	part      kgo.Partitioner
}

func newLCWorld(t testing.TB) *lcWorld {
	t.Helper()
	ctx := context.Background()
	db := pgtest.New(t)
	if err := devdata.Seed(ctx, tenancy.Store{Pool: db.Pool}); err != nil {
		t.Fatal(err)
	}
	k := kafkatest.New(t)
	cl := kafkatest.Client(t, k.Brokers, kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)), kgo.ProducerLinger(0))
	adm := kadm.NewClient(cl)
	// Northwind's egress topic, as `strike kafka access --apply` creates it: egress copies to it.
	// (CreateTopic, not topics.Ensure: the component checks what it needs, and Ensure's wait for
	// the metadata cache costs seconds.)
	if _, err := adm.CreateTopic(ctx, kafkatest.Partitions, -1, nil, topics.NOCEgress(devdata.NOCNorthwind)); err != nil {
		t.Fatal(err)
	}
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	var subs []string
	for _, n := range devdata.NOCs {
		subs = append(subs, n.TwilioSubaccountSID)
	}
	sim, err := twiliosim.New(twiliosim.Config{AccountSID: lcTwilioSID, AuthToken: lcTwilioToken, Subaccounts: subs}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	simCtx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	if err := sim.Start(simCtx); err != nil {
		t.Fatal(err)
	}
	rs := rendersim.New(rendersim.SystemClock{}, rendersim.Config{})
	srv := httptest.NewServer(rs)
	t.Cleanup(srv.Close)
	t.Cleanup(rs.Close)
	return &lcWorld{t: t, kafka: k, db: db, validator: v, twilio: sim, render: rs, renderURL: srv.URL,
		keys: "k1:" + secrets.GenerateKey(), adm: adm, producer: cl, part: kgo.StickyKeyPartitioner(nil)}
}

// partitionOf is the partition the producers' murmur2 partitioner gives key.
func (w *lcWorld) partitionOf(topic, key string) int32 {
	return int32(w.part.ForTopic(topic).Partition(&kgo.Record{Key: []byte(key)}, kafkatest.Partitions))
}

// lcComponent is one `strike run` component as the lifecycle tests drive it.
type lcComponent struct {
	name  string
	group string // its consumer group; "" for the gateway, which has none
	// args are the flags of replica id (beyond --brokers, --database-url and --ops-addr);
	// env is added to the child's environment.
	args func(w *lcWorld, id string, r *lcReplica) []string
	env  func(w *lcWorld) []string
	// prepare readies the world once (rosters, instances, OSPs); send sends the next input for
	// partition p (the gateway ignores p) to the replicas (any of them for the gateway) and
	// returns a check that reports whether it has been processed.
	prepare func(w *lcWorld)
	send    func(w *lcWorld, reps []*lcReplica, p int32) (done func() bool)
}

// lcReplica is one child process running `strike run <component>`.
type lcReplica struct {
	id       string
	child    *childproc.Child
	opsAddr  string
	httpAddr string
}

func (w *lcWorld) start(c lcComponent, id string) *lcReplica {
	w.t.Helper()
	r := &lcReplica{id: id, opsAddr: lcFreeAddr(w.t), httpAddr: lcFreeAddr(w.t)}
	args := append([]string{"run", c.name, "--brokers", w.kafka.Brokers, "--database-url", w.db.URL, "--ops-addr", r.opsAddr,
		"--log-level", lcLogLevel(), "--log-format", "json"}, c.args(w, id, r)...)
	raw, _ := json.Marshal(args)
	env := []string{envChildArgs + "=" + string(raw)}
	if c.env != nil {
		env = append(env, c.env(w)...)
	}
	r.child = childproc.Start(w.t, "TestChildStrikeRun", env...)
	waitUntil(w.t, 60*time.Second, c.name+" "+id+" ready", func() bool {
		select {
		case <-r.child.Done():
			w.t.Fatalf("%s %s exited at start: %v", c.name, id, r.child.Err())
		default:
		}
		resp, err := http.Get("http://" + r.opsAddr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return r
}

// members is the number of members of group now.
func (w *lcWorld) members(group string) (int, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	gs, err := w.adm.DescribeGroups(ctx, group)
	if err != nil {
		return -1, err.Error()
	}
	g := gs[group]
	return len(g.Members), g.State
}

// openTransactions lists the transactional ids whose transaction is not complete. An ended
// transaction may show as PrepareCommit/PrepareAbort while a real broker writes its markers, so
// those get up to 3 s to complete (less than the 5 s transaction timeout, after which the broker
// would abort even an abandoned one); Ongoing, a transaction never ended, counts at once.
func (w *lcWorld) openTransactions() []string {
	w.t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		txns, err := w.adm.ListTransactions(ctx, nil, nil)
		cancel()
		if err != nil {
			w.t.Fatalf("list transactions: %v", err)
		}
		var open []string
		ongoing := false
		for id, tx := range txns {
			switch tx.State {
			case "Ongoing":
				ongoing = true
				open = append(open, id+" ("+tx.State+")")
			case "PrepareCommit", "PrepareAbort", "PrepareEpochFence":
				open = append(open, id+" ("+tx.State+")")
			}
		}
		if len(open) == 0 || ongoing || time.Now().After(deadline) {
			slices.Sort(open)
			return open
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sendAll sends one input per partition and returns a check that all were processed.
func (w *lcWorld) sendAll(c lcComponent, reps []*lcReplica) func() bool {
	var checks []func() bool
	for p := range int32(kafkatest.Partitions) {
		checks = append(checks, c.send(w, reps, p))
		if c.group == "" {
			break // the gateway has no partitions of its own
		}
	}
	return func() bool {
		for _, ok := range checks {
			if !ok() {
				return false
			}
		}
		return true
	}
}

// settled waits until n replicas are members of the group and every partition takes records.
func (w *lcWorld) settled(c lcComponent, reps []*lcReplica) {
	w.t.Helper()
	if c.group != "" {
		waitUntil(w.t, 60*time.Second, fmt.Sprintf("%d members in %s", len(reps), c.group), func() bool {
			n, state := w.members(c.group)
			return n == len(reps) && state == "Stable"
		})
	}
	waitUntil(w.t, 60*time.Second, c.name+": one record per partition processed", w.sendAll(c, reps))
	if c.name == "render-poller" {
		waitUntil(w.t, 60*time.Second, "every Render instance leased", func() bool {
			var n int
			err := w.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM render_poll_state WHERE owner IS NOT NULL AND lease_until > now()`).Scan(&n)
			return err == nil && n == lcRenderInstances
		})
	}
}

// components lists every process `strike run` starts.
func lcComponents() []lcComponent {
	txnID := func(name string) func(*lcWorld, string, *lcReplica) []string {
		return func(_ *lcWorld, id string, _ *lcReplica) []string {
			return []string{"--transactional-id", "lc-" + name + "-" + id}
		}
	}
	return []lcComponent{
		{name: "eco-processor", group: "strike-eco-processor", args: txnID("eco-processor"), prepare: prepareOSPsOnEveryPartition, send: sendRequest},
		{name: "dialer", group: dialer.DefaultGroup, send: sendECO(outTopic(topics.CalloutEvents)),
			args: func(w *lcWorld, id string, _ *lcReplica) []string {
				return []string{"--transactional-id", "lc-dialer-" + id, "--twilio-account-sid", lcTwilioSID, "--twilio-api-url", w.twilio.URL(),
					"--public-base-url", "http://127.0.0.1:1", "--twilio-cps", "0"}
			},
			env: func(*lcWorld) []string { return []string{"STRIKE_TWILIO_AUTH_TOKEN=" + lcTwilioToken} }},
		{name: "egress", group: egress.DefaultGroup, args: txnID("egress"), send: sendECO(outTopic(topics.NOCEgress(devdata.NOCNorthwind)))},
		{name: "sink", group: sink.DefaultGroup, args: func(*lcWorld, string, *lcReplica) []string { return nil },
			send: sendECO(inTable("eco_board"))},
		{name: "render-poller", group: "strike-render-dispatch", prepare: prepareRenderInstances, send: sendECO(inTable("render_dispatches")),
			args: func(_ *lcWorld, id string, _ *lcReplica) []string {
				return []string{"--replica-id", "lc-render-" + id}
			},
			env: func(w *lcWorld) []string { return []string{secrets.EnvKeys + "=" + w.keys} }},
		{name: "gateway", prepare: prepareAPIUser, send: sendIntakeAndWebhook,
			args: func(w *lcWorld, _ string, r *lcReplica) []string {
				return []string{"--http-addr", r.httpAddr, "--twilio-account-sid", lcTwilioSID, "--twilio-api-url", w.twilio.URL(),
					"--public-base-url", "http://" + r.httpAddr}
			},
			env: func(*lcWorld) []string { return []string{"STRIKE_TWILIO_AUTH_TOKEN=" + lcTwilioToken} }},
	}
}

// prepareOSPsOnEveryPartition adds OSPs linked to Northwind until each partition of the
// requests topic has one (requests are keyed by OSP).
func prepareOSPsOnEveryPartition(w *lcWorld) {
	ctx := context.Background()
	store := tenancy.Store{Pool: w.db.Pool}
	have := map[int32]bool{}
	for i := 0; len(have) < kafkatest.Partitions; i++ {
		id := fmt.Sprintf("osp-lc-%02d", i)
		p := w.partitionOf(topics.ECORequests, id)
		if have[p] {
			continue
		}
		must(w.t, store.UpsertOSP(ctx, tenancy.OSP{ID: id, Name: id, JobPrefix: fmt.Sprintf("LC%02d", i)}))
		must(w.t, store.UpsertLink(ctx, tenancy.Link{NOCTenantID: devdata.NOCNorthwind, OSPTenantID: id, Status: tenancy.LinkActive}))
		must(w.t, store.SetRoster(ctx, id, devdata.RegionMetro, "", []tenancy.Contact{{Position: 1, Name: "On Call", Phone: "+15550199000"}}))
		have[p] = true
	}
}

func ospOnPartition(w *lcWorld, p int32) string {
	for i := 0; ; i++ {
		id := fmt.Sprintf("osp-lc-%02d", i)
		if w.partitionOf(topics.ECORequests, id) == p {
			return id
		}
	}
}

// sendRequest produces a valid ECO request on partition p; done when its eco.created is readable.
func sendRequest(w *lcWorld, _ []*lcReplica, p int32) func() bool {
	req := &schemas.ECORequest{RequestID: uuid.NewString(), NOCTenantID: devdata.NOCNorthwind, OSPTenantID: ospOnPartition(w, p),
		Region: devdata.RegionMetro, Priority: "P1", Site: schemas.Site{Name: "Exchange 7", Address: "1 Main St"},
		Summary: "lifecycle", RequestedBy: schemas.Requester{Name: "Noor"}}
	rec, err := ecorequest.Record(w.validator, req, "lifecycle-test", time.Now())
	must(w.t, err)
	w.produce(rec)
	return outTopic(topics.ECOEvents)(w, ids.ECOID(devdata.NOCNorthwind, req.RequestID))
}

// sendECO allocates a job number and produces the ECO's eco.created on partition p, as the
// eco-processor would; processed(w, ecoID) says when the component has handled it.
func sendECO(processed func(w *lcWorld, ecoID string) func() bool) func(*lcWorld, []*lcReplica, int32) func() bool {
	return func(w *lcWorld, _ []*lcReplica, p int32) func() bool {
		reqID := uuid.NewString()
		for w.partitionOf(topics.ECOEvents, ids.ECOID(devdata.NOCNorthwind, reqID)) != p {
			reqID = uuid.NewString()
		}
		allocs, err := ecoprocessor.PGStore{Pool: w.db.Pool}.Allocate(context.Background(), []ecoprocessor.AllocationRequest{{
			RequestID: reqID, ECOID: ids.ECOID(devdata.NOCNorthwind, reqID), NOCTenantID: devdata.NOCNorthwind, OSPTenantID: devdata.OSPAcme, Region: devdata.RegionMetro,
		}})
		must(w.t, err)
		a := allocs[0]
		if !a.Created {
			w.t.Fatalf("allocation rejected: %s %s", a.Reason, a.Detail)
		}
		ev := schemas.ECOCreated{
			ECOID: a.ECOID, RequestID: reqID, JobNumber: a.JobNumber, Number: a.Number, NOCTenantID: devdata.NOCNorthwind,
			OSPTenantID: devdata.OSPAcme, Region: devdata.RegionMetro, Priority: "P1", Site: schemas.Site{Name: "Exchange 7", Address: "1 Main St"},
			Summary: "lifecycle", RequestedBy: schemas.Requester{Name: "Noor"}, PeopleNeeded: 1,
			Engagement: schemas.Engagement{LoopCount: 1, RetryAfterSeconds: 1200, FailoverOSPIDs: []string{}, RingDurationSeconds: 25},
			CreatedAt:  a.AllocatedAt.UTC(),
		}
		value, err := json.Marshal(ev)
		must(w.t, err)
		must(w.t, w.validator.Validate(schemas.TypeECOCreated, value))
		w.produce(cloudevents.Record(topics.ECOEvents, ev.ECOID, cloudevents.Event{
			ID: ids.EventID(schemas.TypeECOCreated, ev.ECOID), Type: schemas.TypeECOCreated, Source: "strike/lifecycle-test", Time: ev.CreatedAt,
		}, value))
		return processed(w, ev.ECOID)
	}
}

func (w *lcWorld) produce(recs ...*kgo.Record) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	must(w.t, w.producer.ProduceSync(ctx, recs...).FirstErr())
}

// outTopic: processed once a record keyed by the ECO id is readable (read-committed) on topic.
func outTopic(topic string) func(w *lcWorld, ecoID string) func() bool {
	return func(w *lcWorld, ecoID string) func() bool {
		return w.watch(topic).seen(ecoID)
	}
}

// inTable: processed once table has a row for the ECO.
func inTable(table string) func(w *lcWorld, ecoID string) func() bool {
	return func(w *lcWorld, ecoID string) func() bool {
		return func() bool {
			var n int
			err := w.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM `+pgx.Identifier{table}.Sanitize()+` WHERE eco_id = $1`, ecoID).Scan(&n)
			return err == nil && n > 0
		}
	}
}

var (
	watchersMu sync.Mutex
	watchers   = map[string]*watcher{} // by brokers and topic
)

// watcher reads a topic read-committed from the start and remembers every key it saw.
type watcher struct {
	mu   sync.Mutex
	keys map[string]bool
}

func (w *lcWorld) watch(topic string) *watcher {
	watchersMu.Lock()
	defer watchersMu.Unlock()
	k := w.kafka.Brokers + "/" + topic
	if wt := watchers[k]; wt != nil {
		return wt
	}
	wt := &watcher{keys: map[string]bool{}}
	watchers[k] = wt
	cl := kafkatest.Client(w.t, w.kafka.Brokers, kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(50*time.Millisecond))
	go func() {
		for {
			fs := cl.PollFetches(context.Background())
			if fs.IsClientClosed() {
				return
			}
			wt.mu.Lock()
			fs.EachRecord(func(r *kgo.Record) { wt.keys[string(r.Key)] = true })
			wt.mu.Unlock()
		}
	}()
	w.t.Cleanup(func() { watchersMu.Lock(); delete(watchers, k); watchersMu.Unlock() })
	return wt
}

func (wt *watcher) seen(key string) func() bool {
	return func() bool {
		wt.mu.Lock()
		defer wt.mu.Unlock()
		return wt.keys[key]
	}
}

// prepareRenderInstances registers Acme's Render instances (simulator), polled every second,
// for the render-poller's lease side.
func prepareRenderInstances(w *lcWorld) {
	kr, err := secrets.ParseKeyring(w.keys)
	must(w.t, err)
	admin := renderpoller.Admin{Pool: w.db.Pool, Keyring: kr}
	for i := range lcRenderInstances {
		id := fmt.Sprintf("lc-acme-%d", i)
		secret := "lc-secret-" + uuid.NewString()
		must(w.t, w.render.AddInstance(id, id+"-client", secret))
		must(w.t, admin.Add(context.Background(), renderpoller.InstanceSpec{
			ID: id, OSPTenantID: devdata.OSPAcme, BaseURL: rendersim.BaseURL(w.renderURL, id), ClientID: id + "-client",
			PollInterval: time.Second, Region: fmt.Sprintf("lc-%d", i),
		}, secrets.Secret(secret)))
	}
}

const lcRenderInstances = 4

// lcAPIToken is the bearer token of the gateway's test user (set by prepareAPIUser).
var lcAPIToken sync.Map // by database URL

func prepareAPIUser(w *lcWorld) {
	ctx := context.Background()
	acc := gateway.Accounts{Pool: w.db.Pool}
	const email = "lc@northwind.example"
	_, _, err := acc.EnsureUser(ctx, email, "Lifecycle", false)
	must(w.t, err)
	must(w.t, acc.AddMembership(ctx, email, "noc", devdata.NOCNorthwind, "operator"))
	tok, _, err := acc.IssueToken(ctx, email, "lifecycle", time.Hour)
	must(w.t, err)
	lcAPIToken.Store(w.db.URL, tok)
}

// sendIntakeAndWebhook sends the gateway process both of its inputs: an ECO through the HTTP
// intake and a signed Twilio status webhook (the callbacks producer); done when a live replica
// accepted the first and the second is readable on strike.telephony.callbacks.v1.
func sendIntakeAndWebhook(w *lcWorld, reps []*lcReplica, p int32) func() bool {
	intake := sendIntake(w, reps, p)
	hook := sendWebhook(w, reps)
	return func() bool { return intake() && hook() }
}

// sendWebhook posts a status callback signed with the main account's token, as Twilio would.
func sendWebhook(w *lcWorld, reps []*lcReplica) func() bool {
	ecoID, callID := uuid.NewString(), uuid.NewString()
	form := url.Values{"AccountSid": {lcTwilioSID}, "CallSid": {"CA" + strings.ReplaceAll(uuid.NewString(), "-", "")},
		"CallStatus": {twilio.StatusCompleted}, "SequenceNumber": {"0"}}
	seen := w.watch(topics.TelephonyCallbacks).seen(ecoID)
	var mu sync.Mutex
	accepted := false
	return func() bool {
		mu.Lock()
		defer mu.Unlock()
		if accepted {
			return seen()
		}
		for _, r := range reps {
			select {
			case <-r.child.Done():
				continue
			default:
			}
			u := "http://" + r.httpAddr + twilio.StatusPath + "?" + url.Values{"eco_id": {ecoID}, "call_id": {callID}}.Encode()
			req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set(twilio.SignatureHeader, twilio.Sign(lcTwilioToken, u, twilio.FormParams(form)))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				continue
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode < 300 {
				accepted = true
				return seen()
			}
			w.t.Logf("webhook on %s: %s", r.id, resp.Status)
		}
		return false
	}
}

// sendIntake posts an ECO through a live replica's HTTP intake: done when one accepted it.
func sendIntake(w *lcWorld, reps []*lcReplica, _ int32) func() bool {
	tok, _ := lcAPIToken.Load(w.db.URL)
	reqID := uuid.NewString()
	body := `{"request_id": "` + reqID + `", "osp_tenant_id": "` + devdata.OSPAcme + `", "region": "` + devdata.RegionMetro + `", "priority": "P1",
		"site": {"name": "Exchange 7", "address": "1 Main St"}, "summary": "lifecycle"}`
	var mu sync.Mutex
	accepted := false
	return func() bool {
		mu.Lock()
		defer mu.Unlock()
		if accepted {
			return true
		}
		for _, r := range reps {
			select {
			case <-r.child.Done():
				continue // a load balancer stops sending to a dead replica
			default:
			}
			req, _ := http.NewRequest(http.MethodPost, "http://"+r.httpAddr+"/v1/nocs/"+devdata.NOCNorthwind+"/ecos", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+tok.(string))
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				continue
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode < 300 {
				accepted = true
				return true
			}
			w.t.Logf("intake on %s: %s", r.id, resp.Status)
		}
		return false
	}
}

func waitUntil(t testing.TB, timeout time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func lcFreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestSIGTERMLeavesNothingOpenAndAReplacementResumes stops each component with SIGTERM while
// its input flows: it must exit 0, leave no Kafka transaction open (a read-committed consumer
// would stall behind one until the transaction timeout) and no member in its group (the next
// replica would wait out the session timeout), and a replacement must process the next record
// on every partition.
func TestSIGTERMLeavesNothingOpenAndAReplacementResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	for _, c := range lcComponents() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			w := newLCWorld(t)
			if c.prepare != nil {
				c.prepare(w)
			}
			a := w.start(c, "a")
			w.settled(c, []*lcReplica{a})
			for range 20 { // traffic in flight when the signal lands
				w.sendAll(c, []*lcReplica{a})
			}
			a.child.Signal(t, syscall.SIGTERM)
			select {
			case <-a.child.Done():
			case <-time.After(30 * time.Second):
				t.Fatalf("%s did not exit within 30 s of SIGTERM", c.name)
			}
			if err := a.child.Err(); err != nil {
				t.Errorf("%s exited with %v after SIGTERM, want status 0", c.name, err)
			}
			if open := w.openTransactions(); len(open) > 0 {
				t.Errorf("transactions left open after SIGTERM: %v", open)
			}
			if c.group != "" {
				if n, state := w.members(c.group); n != 0 {
					t.Errorf("group %s has %d members (%s) after its only replica exited: it did not leave", c.group, n, state)
				}
			}
			if c.name == "render-poller" {
				var owned int
				must(t, w.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM render_poll_state WHERE owner = 'lc-render-a' AND lease_until > now()`).Scan(&owned))
				if owned != 0 {
					t.Errorf("%d Render leases still held by the stopped replica: it did not release them", owned)
				}
			}
			b := w.start(c, "b")
			waitUntil(t, 30*time.Second, "the replacement to process the next record on every partition", w.sendAll(c, []*lcReplica{b}))
			if c.name == "render-poller" {
				waitUntil(t, 30*time.Second, "the replacement to hold every Render lease", func() bool {
					var n int
					err := w.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM render_poll_state WHERE owner = 'lc-render-b' AND lease_until > now()`).Scan(&n)
					return err == nil && n == lcRenderInstances
				})
			}
		})
	}
}

// lcLogLevel is the children's log level: warn, or STRIKE_LIFECYCLE_LOG_LEVEL to follow a run.
func lcLogLevel() string { return env("STRIKE_LIFECYCLE_LOG_LEVEL", "warn") }
