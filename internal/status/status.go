// Package status gathers the one-screen view `strike status` prints: consumer groups and their
// lag, live ring-downs, DLQ records by reason over the last 24 hours, failing Render instances
// and each component's readiness. Each part is gathered on its own; a part that fails shows its
// error and the others still show.
package status

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/internal/dlqreplay"
	"github.com/osprey-strike/strike/internal/kafkaclient"
	"github.com/osprey-strike/strike/internal/lag"
	"github.com/osprey-strike/strike/internal/topics"
)

// The phases of a live ring-down in strike.callout.state.v1, as the dialer writes them
// (consumers/dialer/ringdown; its tests pin these values). Shared plumbing does not import a
// component, so the state topic's contract is restated here.
const (
	PhaseRinging      = "ringing"
	PhaseWaitingRetry = "waiting_retry"
)

// DLQWindow is how far back DLQ records are counted.
const DLQWindow = 24 * time.Hour

// OpsURL is one component's ops server.
type OpsURL struct {
	Name, URL string
}

// Config says what to gather.
type Config struct {
	Base   []kgo.Opt     // Kafka connection
	Pool   *pgxpool.Pool // nil: no Render instances part
	Groups []lag.Group   // consumer groups to measure
	Ops    []OpsURL      // components whose /readyz to ask
	HTTP   *http.Client  // default: 3 s timeout
	Now    func() time.Time
}

// Report is what was gathered.
type Report struct {
	At        time.Time
	Groups    []string
	Lag       lag.Snapshot
	LagErr    error
	Ringing   map[string]int // live ring-downs by phase (ringing, waiting_retry)
	RingErr   error
	DLQ       map[string]int // DLQ records by reason since At-DLQWindow
	DLQErr    error
	Render    []Instance // enabled instances whose last poll failed
	RenderOK  int        // enabled instances not failing
	RenderErr error
	Ready     []Readiness
}

// Instance is a failing Render instance.
type Instance struct {
	ID, OSP    string
	Failures   int
	LastResult string
	LastError  string
	LastPollAt *time.Time
}

// Readiness is one component's /readyz answer.
type Readiness struct {
	Name, URL string
	Ready     bool
	Detail    string // HTTP status or the error
}

// Gather collects every part, concurrently.
func Gather(ctx context.Context, cfg Config) Report {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Timeout: 3 * time.Second}
	}
	r := Report{At: cfg.Now()}
	for _, g := range cfg.Groups {
		r.Groups = append(r.Groups, g.Name)
	}
	var wg sync.WaitGroup
	run := func(f func()) { wg.Add(1); go func() { defer wg.Done(); f() }() }
	run(func() {
		cl, err := kgo.NewClient(cfg.Base...)
		if err != nil {
			r.LagErr = err
			return
		}
		defer cl.Close()
		r.Lag = lag.New(kadm.NewClient(cl), lag.Config{}, cfg.Groups...).Snapshot(ctx)
	})
	run(func() { r.Ringing, r.RingErr = liveRingDowns(ctx, cfg.Base) })
	run(func() {
		counts := map[string]int{}
		_, err := dlqreplay.Run(ctx, cfg.Base, dlqreplay.Options{
			Filter: dlqreplay.Filter{Since: r.At.Add(-DLQWindow)},
			DryRun: true,
			OnItem: func(it dlqreplay.Item) { counts[cmp.Or(it.Reason, "(none)")]++ },
		})
		r.DLQ, r.DLQErr = counts, err
	})
	if cfg.Pool != nil {
		run(func() { r.Render, r.RenderOK, r.RenderErr = failingInstances(ctx, cfg.Pool) })
	}
	r.Ready = make([]Readiness, len(cfg.Ops))
	for i, o := range cfg.Ops {
		run(func() { r.Ready[i] = ready(ctx, cfg.HTTP, o) })
	}
	wg.Wait()
	return r
}

// liveRingDowns reads the compacted state topic to its stable end and counts the ECOs whose
// latest state is not final, by phase.
func liveRingDowns(ctx context.Context, base []kgo.Opt) (map[string]int, error) {
	cl, err := kgo.NewClient(append(slices.Clone(base),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords(), kgo.FetchMaxWait(100*time.Millisecond))...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	from, end, err := kafkaclient.StableRange(ctx, kadm.NewClient(cl), topics.CalloutState, time.Time{})
	if err != nil {
		return nil, err
	}
	phase := map[string]string{} // eco_id → live phase
	if len(from) > 0 {
		cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{topics.CalloutState: from})
	}
	for len(end) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) { ferr = errors.Join(ferr, fmt.Errorf("%s/%d: %w", t, p, err)) })
		if ferr != nil {
			return nil, ferr
		}
		fs.EachRecord(func(r *kgo.Record) {
			last, ok := end[r.Partition]
			if !ok || r.Offset >= last {
				return
			}
			if r.Offset+1 >= last {
				delete(end, r.Partition)
			}
			if r.Attrs.IsControl() {
				return
			}
			id := string(r.Key)
			delete(phase, id)
			var probe struct {
				Retired bool   `json:"retired"`
				Phase   string `json:"phase"`
			}
			if r.Value == nil || json.Unmarshal(r.Value, &probe) != nil || probe.Retired {
				return
			}
			if probe.Phase == PhaseRinging || probe.Phase == PhaseWaitingRetry {
				phase[id] = probe.Phase
			}
		})
	}
	out := map[string]int{PhaseRinging: 0, PhaseWaitingRetry: 0}
	for _, p := range phase {
		out[p]++
	}
	return out, nil
}

// failingInstances lists the enabled Render instances whose poll state counts failures.
func failingInstances(ctx context.Context, pool *pgxpool.Pool) ([]Instance, int, error) {
	rows, err := pool.Query(ctx, `SELECT i.id, i.osp_tenant_id, coalesce(s.failures, 0), coalesce(s.last_result, ''),
			coalesce(s.last_error, ''), s.last_poll_at
		FROM render_instances i LEFT JOIN render_poll_state s ON s.instance_id = i.id
		WHERE i.enabled ORDER BY i.osp_tenant_id, i.id`)
	if err != nil {
		return nil, 0, fmt.Errorf("render instances: %w", err)
	}
	all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Instance, error) {
		var in Instance
		err := r.Scan(&in.ID, &in.OSP, &in.Failures, &in.LastResult, &in.LastError, &in.LastPollAt)
		return in, err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("render instances: %w", err)
	}
	failing := slices.DeleteFunc(slices.Clone(all), func(in Instance) bool { return in.Failures == 0 })
	return failing, len(all) - len(failing), nil
}

func ready(ctx context.Context, hc *http.Client, o OpsURL) Readiness {
	out := Readiness{Name: o.Name, URL: o.URL}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(o.URL, "/")+"/readyz", nil)
	if err != nil {
		out.Detail = err.Error()
		return out
	}
	resp, err := hc.Do(req)
	if err != nil {
		out.Detail = err.Error()
		return out
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	out.Ready = resp.StatusCode == http.StatusOK
	out.Detail = fmt.Sprint(resp.StatusCode)
	if !out.Ready {
		if s := strings.Join(strings.Fields(string(body)), " "); s != "" {
			out.Detail += ": " + s
		}
	}
	return out
}

// Width is the widest line Print writes (texts that could be longer are cut).
const Width = 100

// Print writes the report as plain aligned text within Width columns.
func (r Report) Print(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Strike status at %s\n", r.At.UTC().Format(time.RFC3339))

	section(&b, "Consumer groups")
	if r.LagErr != nil {
		line(&b, "  error: "+r.LagErr.Error())
	} else {
		tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  GROUP\tSTATE\tMEMBERS\tLAG\tMAX PARTITION LAG")
		for _, g := range r.Groups {
			st := r.Lag.Groups[g]
			if st.Err != nil {
				fmt.Fprintf(tw, "  %s\terror\t-\t-\t%s\n", cut(g, 30), cut(st.Err.Error(), 40))
				continue
			}
			var worst lag.Partition
			for _, p := range r.Lag.Partitions {
				if p.Group == g && p.Lag > worst.Lag {
					worst = p
				}
			}
			max := "-"
			if worst.Lag > 0 {
				max = fmt.Sprintf("%d (%s/%d)", worst.Lag, cut(worst.Topic, 30), worst.Partition)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%d\t%d\t%s\n", cut(g, 30), cmp.Or(st.State, "-"), st.Members, r.Lag.Total(g), max)
		}
		_ = tw.Flush()
	}

	section(&b, "Live ring-downs ("+topics.CalloutState+")")
	if r.RingErr != nil {
		line(&b, "  error: "+r.RingErr.Error())
	} else {
		fmt.Fprintf(&b, "  ringing %d, waiting_retry %d, total %d\n", r.Ringing[PhaseRinging],
			r.Ringing[PhaseWaitingRetry], r.Ringing[PhaseRinging]+r.Ringing[PhaseWaitingRetry])
	}

	section(&b, "DLQ records, last 24 h ("+topics.DLQ+")")
	if r.DLQErr != nil {
		line(&b, "  error: "+r.DLQErr.Error())
	}
	if len(r.DLQ) == 0 && r.DLQErr == nil {
		b.WriteString("  none\n")
	} else if len(r.DLQ) > 0 {
		reasons := make([]string, 0, len(r.DLQ))
		total := 0
		for k, n := range r.DLQ {
			reasons = append(reasons, k)
			total += n
		}
		slices.Sort(reasons)
		tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', tabwriter.AlignRight)
		for _, k := range reasons {
			fmt.Fprintf(tw, "  %s\t%d\t\n", cut(k, 40), r.DLQ[k])
		}
		fmt.Fprintf(tw, "  total\t%d\t\n", total)
		_ = tw.Flush()
	}

	section(&b, "Render instances")
	switch {
	case r.RenderErr != nil:
		line(&b, "  error: "+r.RenderErr.Error())
	case len(r.Render) == 0:
		fmt.Fprintf(&b, "  none failing (%d enabled)\n", r.RenderOK)
	default:
		fmt.Fprintf(&b, "  %d failing, %d healthy\n", len(r.Render), r.RenderOK)
		tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  INSTANCE\tOSP\tFAILURES\tLAST POLL\tLAST ERROR")
		for _, in := range r.Render {
			last := "never"
			if in.LastPollAt != nil {
				last = r.At.Sub(*in.LastPollAt).Round(time.Second).String() + " ago"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\t%s\n", cut(in.ID, 20), cut(in.OSP, 16), in.Failures, last,
				cut(strings.Join(strings.Fields(cmp.Or(in.LastError, in.LastResult)), " "), 30))
		}
		_ = tw.Flush()
	}

	section(&b, "Readiness")
	if len(r.Ready) == 0 {
		b.WriteString("  no --ops-url given\n")
	} else {
		tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
		for _, rd := range r.Ready {
			state := "NOT READY"
			if rd.Ready {
				state = "ready"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", cut(rd.Name, 20), state, cut(rd.URL, 30), cut(rd.Detail, 33))
		}
		_ = tw.Flush()
	}
	// Whatever the data, no line exceeds Width.
	var out strings.Builder
	for _, l := range strings.SplitAfter(b.String(), "\n") {
		if n := strings.TrimSuffix(l, "\n"); len([]rune(n)) > Width {
			l = string([]rune(n)[:Width]) + "\n"
		}
		out.WriteString(l)
	}
	_, err := io.WriteString(w, out.String())
	return err
}

func section(b *strings.Builder, title string) { fmt.Fprintf(b, "\n%s\n", title) }

func line(b *strings.Builder, s string) { b.WriteString(cut(s, Width) + "\n") }

// cut shortens s to n runes, marking the cut with "…".
func cut(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
