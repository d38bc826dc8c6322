// Package topics is Strike's topic catalogue (DESIGN §2) and the start-up check that makes the
// cluster match it: missing topics are created, and a topic whose partition count or cleanup
// policy differs, or two co-partitioned topics whose counts differ, is a clear error.
package topics

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Topic names.
const (
	ECORequests        = "strike.eco.requests.v1"
	ECOEvents          = "strike.eco.events.v1"
	TelephonyCallbacks = "strike.telephony.callbacks.v1"
	CalloutEvents      = "strike.callout.events.v1"
	CalloutState       = "strike.callout.state.v1"
	// CalloutControls carries people's controls of running callouts (gateway → dialer), keyed
	// by eco_id and co-partitioned with ECOEvents, so a control reaches the dialer replica that
	// owns the ring-down and is applied between its own inputs.
	CalloutControls = "strike.callout.controls.v1"
	RenderChanges   = "strike.render.changes.v1"
	DLQ             = "strike.dlq.v1"
)

// Per-NOC topics (DESIGN §5): each NOC tool writes only its own ingress topic and reads only its
// own egress topic, so the NOC of a request is established by the broker's authentication (the
// topic its principal could write), never by a payload field. Ingress topics have the requests
// topic's partition count (requests of one OSP must hash to one partition).
const nocPrefix = "strike.noc."

// NOCIngress is the topic noc's tool produces its ECO requests and cancels to.
func NOCIngress(noc string) string { return nocPrefix + noc + ".requests.v1" }

// NOCEgress is the topic noc's tools read their ECO and callout outcomes from.
func NOCEgress(noc string) string { return nocPrefix + noc + ".outcomes.v1" }

// IngressPattern matches every NOC's ingress topic (for kgo.ConsumeRegex).
const IngressPattern = `^strike\.noc\.[A-Za-z0-9_-]+\.requests\.v1$`

// IngressNOC returns the NOC whose ingress topic is topic.
func IngressNOC(topic string) (string, bool) {
	rest, ok := strings.CutPrefix(topic, nocPrefix)
	if !ok {
		return "", false
	}
	noc, ok := strings.CutSuffix(rest, ".requests.v1")
	return noc, ok && noc != "" && !strings.Contains(noc, ".")
}

// DefaultPartitions is the partition count of every topic unless configured otherwise. It caps
// how many replicas of a consumer group can share the work, so it is generous.
const DefaultPartitions = 12

// Spec is what a topic must look like.
type Spec struct {
	Name       string
	Partitions int32
	Compacted  bool
	// RetentionMS is retention.ms; empty leaves the broker default.
	RetentionMS string
}

// Catalog returns every Strike topic with the given partition count.
func Catalog(partitions int32) []Spec {
	const thirtyDays = "2592000000"
	return []Spec{
		{Name: ECORequests, Partitions: partitions},
		{Name: ECOEvents, Partitions: partitions},
		{Name: TelephonyCallbacks, Partitions: partitions},
		{Name: CalloutEvents, Partitions: partitions},
		{Name: CalloutState, Partitions: partitions, Compacted: true},
		{Name: CalloutControls, Partitions: partitions},
		{Name: RenderChanges, Partitions: partitions},
		{Name: DLQ, Partitions: partitions, RetentionMS: thirtyDays},
	}
}

// CoPartitioned lists topic groups whose partition counts must be equal, because one consumer
// relies on partition p of each holding the same keys: the dialer reads a callback on the
// partition of its ECO, and restores state from the same partition number.
var CoPartitioned = [][]string{{ECOEvents, TelephonyCallbacks, CalloutState, CalloutControls}}

// Result says what Ensure did.
type Result struct {
	Created  []string
	Verified []string
}

// Ensure creates missing topics and verifies existing ones against specs. replicationFactor -1
// uses the broker default.
func Ensure(ctx context.Context, adm *kadm.Client, specs []Spec, replicationFactor int16) (Result, error) {
	var res Result
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.Name
	}
	details, err := adm.ListTopics(ctx, names...)
	if err != nil {
		return res, fmt.Errorf("list topics: %w", err)
	}
	for _, s := range specs {
		if d, ok := details[s.Name]; ok && d.Err == nil {
			continue
		} else if ok && !errors.Is(d.Err, kerr.UnknownTopicOrPartition) {
			return res, fmt.Errorf("describe topic %s: %w", s.Name, d.Err)
		}
		configs := map[string]*string{}
		policy := "delete"
		if s.Compacted {
			policy = "compact"
		}
		configs["cleanup.policy"] = &policy
		if s.RetentionMS != "" {
			r := s.RetentionMS
			configs["retention.ms"] = &r
		}
		resp, err := adm.CreateTopic(ctx, s.Partitions, replicationFactor, configs, s.Name)
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return res, fmt.Errorf("create topic %s: %w", s.Name, err)
		}
		if resp.Err != nil && !errors.Is(resp.Err, kerr.TopicAlreadyExists) {
			return res, fmt.Errorf("create topic %s: %w", s.Name, resp.Err)
		}
		res.Created = append(res.Created, s.Name)
	}
	// New topics take a moment to show in metadata (and kgo caches metadata briefly), so a
	// fresh creation is verified until it appears, within a bound.
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := Verify(ctx, adm, specs)
		if err == nil {
			break
		}
		var mm *MismatchError
		if len(res.Created) == 0 || !errors.As(err, &mm) || len(mm.Missing) == 0 || time.Now().After(deadline) {
			return res, err
		}
		select {
		case <-ctx.Done():
			return res, err
		case <-time.After(250 * time.Millisecond):
		}
	}
	for _, s := range specs {
		if !slices.Contains(res.Created, s.Name) {
			res.Verified = append(res.Verified, s.Name)
		}
	}
	return res, nil
}

// Verify checks that every topic in specs exists with its partition count and cleanup policy,
// and that co-partitioned topics agree. It changes nothing: components that only consume call
// it at start-up and refuse to run on a mismatch.
func Verify(ctx context.Context, adm *kadm.Client, specs []Spec) error {
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.Name
	}
	details, err := adm.ListTopics(ctx, names...)
	if err != nil {
		return fmt.Errorf("list topics: %w", err)
	}
	configs, err := adm.DescribeTopicConfigs(ctx, names...)
	if err != nil {
		return fmt.Errorf("describe topic configs: %w", err)
	}
	var problems, missing []string
	counts := map[string]int{}
	for _, s := range specs {
		d, ok := details[s.Name]
		if !ok || d.Err != nil {
			problems = append(problems, fmt.Sprintf("topic %s is missing (run `strike topics`)", s.Name))
			missing = append(missing, s.Name)
			continue
		}
		n := len(d.Partitions)
		counts[s.Name] = n
		if int32(n) != s.Partitions {
			problems = append(problems, fmt.Sprintf("topic %s has %d partitions, want %d", s.Name, n, s.Partitions))
		}
		want := "delete"
		if s.Compacted {
			want = "compact"
		}
		if got := cleanupPolicy(configs, s.Name); got != "" && !strings.Contains(got, want) {
			problems = append(problems, fmt.Sprintf("topic %s has cleanup.policy=%s, want %s", s.Name, got, want))
		}
	}
	for _, group := range CoPartitioned {
		seen := map[int][]string{}
		for _, t := range group {
			if n, ok := counts[t]; ok {
				seen[n] = append(seen[n], t)
			}
		}
		if len(seen) > 1 {
			var parts []string
			for n, ts := range seen {
				parts = append(parts, fmt.Sprintf("%s: %d", strings.Join(ts, ", "), n))
			}
			sort.Strings(parts)
			problems = append(problems, fmt.Sprintf("co-partitioned topics differ in partition count (%s)", strings.Join(parts, "; ")))
		}
	}
	if len(problems) > 0 {
		return &MismatchError{Problems: problems, Missing: missing}
	}
	return nil
}

// MismatchError lists every way the cluster differs from the catalogue.
type MismatchError struct {
	Problems []string
	Missing  []string // topics that do not exist
}

func (e *MismatchError) Error() string {
	return "kafka topics do not match Strike's catalogue:\n  - " + strings.Join(e.Problems, "\n  - ")
}

func cleanupPolicy(rcs kadm.ResourceConfigs, topic string) string {
	for _, rc := range rcs {
		if rc.Name != topic || rc.Err != nil {
			continue
		}
		for _, c := range rc.Configs {
			if c.Key == "cleanup.policy" && c.Value != nil {
				return *c.Value
			}
		}
	}
	return ""
}
