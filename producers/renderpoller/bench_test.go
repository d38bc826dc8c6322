package renderpoller_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/internal/devdata"
	"github.com/osprey-strike/strike/internal/kafkatest"
	"github.com/osprey-strike/strike/internal/pgtest"
	"github.com/osprey-strike/strike/internal/render"
	"github.com/osprey-strike/strike/internal/rendersim"
	"github.com/osprey-strike/strike/internal/secrets"
	"github.com/osprey-strike/strike/internal/tenancy"
	"github.com/osprey-strike/strike/internal/topics"
	"github.com/osprey-strike/strike/producers/renderpoller"
	"github.com/osprey-strike/strike/schemas"
)

// BenchmarkPoller1000InstancesAt15s runs one replica over 1,000 simulated instances polled every
// 15 s (the production default, not scaled down). Each instance has one job whose first
// transition falls at a random moment in a 15 s window (then two more, 8 s apart), so changes
// land at every phase of the poll cycle. It reports:
//
//   - detect_p50_s / detect_p99_s / detect_max_s: a change's updated_at in Render to the
//     moment its event was read back from Kafka (target p99 ≤ interval + 2 s = 17 s);
//   - cpu_s: process CPU (user+sys, getrusage) while the poller ran, and baseline_cpu_s:
//     process CPU for the same number of bare polls (the Render adapter alone: token, HTTP,
//     JSON; no leases, no PostgreSQL, no Kafka). Both include the in-process simulator; the
//     poller's figure also includes the in-process kfake broker and the test's Kafka reader;
//   - quiet_cpu_s and quiet_baseline_cpu_s: the same over 30 s in which nothing changes.
//
// It takes about 100 s, so `make bench` (-benchtime 1x) runs it once.
func BenchmarkPoller1000InstancesAt15s(b *testing.B) {
	const (
		n        = 1000
		interval = 15 * time.Second
		first    = 16 * time.Second // earliest first transition: after every instance's first poll
		step     = 8 * time.Second
		quiet    = 30 * time.Second // the quiet phase: two polls per instance
	)
	for range b.N {
		ctx := context.Background()
		db := pgtest.New(b)
		must(b, devdata.Seed(ctx, tenancy.Store{Pool: db.Pool}))
		k := kafkatest.New(b)
		sim := rendersim.New(rendersim.SystemClock{}, rendersim.Config{})
		srv := httptest.NewServer(sim)
		b.Cleanup(srv.Close)
		b.Cleanup(sim.Close)
		kr, err := secrets.ParseKeyring("bench:" + secrets.GenerateKey())
		must(b, err)
		admin := renderpoller.Admin{Pool: db.Pool, Keyring: kr}
		insts := make([]simInstance, n)
		for i := range insts {
			in := simInstance{id: fmt.Sprintf("bench-%04d", i), secret: "s-" + secrets.GenerateKey()}
			insts[i] = in
			must(b, sim.AddInstance(in.id, in.id+"-client", in.secret))
			must(b, admin.Add(ctx, renderpoller.InstanceSpec{ID: in.id, OSPTenantID: devdata.OSPAcme,
				BaseURL: rendersim.BaseURL(srv.URL, in.id), ClientID: in.id + "-client", PollInterval: interval,
				Region: fmt.Sprintf("r%04d", i)}, secrets.Secret(in.secret)))
		}

		// The reader records when each change event becomes visible in Kafka.
		type seen struct {
			at      time.Time
			updated time.Time
		}
		var (
			mu      sync.Mutex
			arrived = map[string]seen{}
		)
		rctx, stopReader := context.WithCancel(ctx)
		reader := kafkatest.Client(b, k.Brokers, kgo.ConsumeTopics(topics.RenderChanges),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(50*time.Millisecond))
		go func() {
			for rctx.Err() == nil {
				fs := reader.PollFetches(rctx)
				now := time.Now()
				fs.EachRecord(func(r *kgo.Record) {
					var ev schemas.RenderJobChanged
					if json.Unmarshal(r.Value, &ev) != nil || ev.Status == rendersim.StatusDispatched {
						return // the creation happened before the poller started: not a detection
					}
					mu.Lock()
					if _, dup := arrived[ev.ChangeID]; !dup {
						arrived[ev.ChangeID] = seen{at: now, updated: ev.UpdatedAt}
					}
					mu.Unlock()
				})
			}
		}()

		p, err := renderpoller.New(renderpoller.Deps{Pool: db.Pool, Keyring: kr, Log: zerolog.Nop(), Registry: prometheus.NewRegistry()},
			renderpoller.Config{Brokers: k.Brokers, ReplicaID: "bench"})
		must(b, err)
		for _, in := range insts {
			must(b, sim.SetSchedule(in.id, rendersim.Schedule{
				EnRoute: first + time.Duration(rand.Int64N(int64(interval))), OnSite: step, Resolved: step}))
			_, _, err := sim.CreateJob(in.id, rendersim.JobSpec{ExternalRef: "MANUAL-" + in.id})
			must(b, err)
		}
		pctx, stopPoller := context.WithCancel(ctx)
		done := make(chan error, 1)
		b.ResetTimer()
		cpu0 := cpuTime()
		start := time.Now()
		go func() { done <- p.Run(pctx) }()
		want := 3 * n
		deadline := start.Add(first + interval + 2*step + 2*interval)
		for {
			mu.Lock()
			got := len(arrived)
			mu.Unlock()
			if got >= want || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		cpu := cpuTime() - cpu0
		wall := time.Since(start)
		polls := simPolls(b, sim, insts)

		stopReader() // the test's reader is not part of the quiet figure

		// Quiet phase: every job is resolved, nothing changes; this is the steady cost of
		// watching 1,000 instances.
		quietPolls0, quietCPU0, quietStart := polls, cpuTime(), time.Now()
		time.Sleep(quiet)
		quietCPU := cpuTime() - quietCPU0
		quietWall := time.Since(quietStart)
		quietPolls := simPolls(b, sim, insts) - quietPolls0
		stopPoller()
		must(b, <-done)
		b.StopTimer()

		mu.Lock()
		lat := make([]float64, 0, len(arrived))
		for _, s := range arrived {
			lat = append(lat, s.at.Sub(s.updated).Seconds())
		}
		mu.Unlock()
		if len(lat) < want {
			b.Errorf("%d of %d changes detected within %s", len(lat), want, wall.Round(time.Second))
		}
		slices.Sort(lat)
		pct := func(q float64) float64 {
			if len(lat) == 0 {
				return 0
			}
			return lat[min(int(q*float64(len(lat))), len(lat)-1)]
		}

		// Baselines: the same numbers of polls through the bare adapter, 64 at a time.
		baseline := baselinePolls(b, srv.URL, insts, polls)
		quietBaseline := baselinePolls(b, srv.URL, insts, quietPolls)

		b.ReportMetric(float64(n), "instances")
		b.ReportMetric(float64(polls), "polls")
		b.ReportMetric(pct(0.5), "detect_p50_s")
		b.ReportMetric(pct(0.99), "detect_p99_s")
		b.ReportMetric(pct(1), "detect_max_s")
		b.ReportMetric(cpu.Seconds(), "cpu_s")
		b.ReportMetric(baseline.Seconds(), "baseline_cpu_s")
		b.ReportMetric(wall.Seconds(), "wall_s")
		b.ReportMetric(float64(quietPolls), "quiet_polls")
		b.ReportMetric(quietCPU.Seconds(), "quiet_cpu_s")
		b.ReportMetric(quietBaseline.Seconds(), "quiet_baseline_cpu_s")
		b.Logf("quiet phase: %d polls in %s, CPU %.2fs (%.1f%% of one core) vs baseline %.2fs for the same polls bare",
			quietPolls, quietWall.Round(time.Second), quietCPU.Seconds(), 100*quietCPU.Seconds()/quietWall.Seconds(), quietBaseline.Seconds())
		b.Logf("%d instances at %s: %d changes, %d polls in %s; detection p50 %.2fs p99 %.2fs max %.2fs (target p99 ≤ %s); CPU %.2fs (%.0f%% of one core) vs baseline %.2fs for the same polls bare",
			n, interval, len(lat), polls, wall.Round(time.Second), pct(0.5), pct(0.99), pct(1), interval+2*time.Second,
			cpu.Seconds(), 100*cpu.Seconds()/wall.Seconds(), baseline.Seconds())
		if p99 := pct(0.99); p99 > (interval + 2*time.Second).Seconds() {
			b.Errorf("detection p99 %.2fs exceeds the target interval + 2 s", p99)
		}
	}
}

type simInstance struct{ id, secret string }

// simPolls is how many polls the simulator has seen across the instances.
func simPolls(b *testing.B, sim *rendersim.Server, insts []simInstance) int {
	b.Helper()
	n := 0
	for _, in := range insts {
		st, err := sim.Requests(in.id)
		must(b, err)
		n += st.Polls
	}
	return n
}

// baselinePolls makes total ChangedJobs calls round-robin over the instances with one adapter
// client per instance and returns the process CPU they took.
func baselinePolls(b *testing.B, root string, insts []simInstance, total int) time.Duration {
	b.Helper()
	hc := renderpoller.NewHTTPClient()
	clients := make([]*render.Client, len(insts))
	for i, in := range insts {
		c, err := render.New(render.InstanceConfig{BaseURL: rendersim.BaseURL(root, in.id), ClientID: in.id + "-client",
			ClientSecret: secrets.Secret(in.secret)}, hc, zerolog.Nop())
		must(b, err)
		clients[i] = c
	}
	const workers = 64
	cursors := make([]string, len(clients))
	var wg sync.WaitGroup
	cpu0 := cpuTime()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Worker w owns instances w, w+64, …; instance i gets its share of total, round by
			// round, as a poller would poll it.
			for round := 0; round*len(clients) < total; round++ {
				for i := w; i < len(clients) && round*len(clients)+i < total; i += workers {
					ch, err := clients[i].ChangedJobs(context.Background(), cursors[i])
					if err != nil {
						b.Error(err)
						continue
					}
					cursors[i] = ch.NextCursor
				}
			}
		}()
	}
	wg.Wait()
	return cpuTime() - cpu0
}

// cpuTime is the process's user + system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
