// Package kafkaacl is who may do what on Strike's Kafka cluster (DESIGN §5): each NOC tool's
// principal writes only its NOC's ingress topic and reads only its NOC's egress topic; each
// Strike component's principal holds only the ACLs its role needs. It builds the grants and
// applies them idempotently through kadm (Kafka keeps one copy of an identical ACL).
package kafkaacl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/osprey-strike/strike/internal/topics"
)

// Grant is one ACL: principal may do Op on the resource Name (a prefix if Prefixed).
type Grant struct {
	Principal string
	Resource  kmsg.ACLResourceType
	Name      string
	Prefixed  bool
	Op        kadm.ACLOperation
}

func topic(principal, name string, ops ...kadm.ACLOperation) []Grant {
	return grants(principal, kmsg.ACLResourceTypeTopic, name, false, ops...)
}

func grants(principal string, r kmsg.ACLResourceType, name string, prefixed bool, ops ...kadm.ACLOperation) []Grant {
	out := make([]Grant, 0, len(ops))
	for _, op := range ops {
		out = append(out, Grant{Principal: principal, Resource: r, Name: name, Prefixed: prefixed, Op: op})
	}
	return out
}

// NOCGroupPrefix is the prefix of the consumer groups a NOC's tools may use to read their egress.
func NOCGroupPrefix(noc string) string { return noc + "-" }

// ForNOC is what noc's tool, authenticated as principal, may do: write its ingress topic, read
// its egress topic in groups named NOCGroupPrefix(noc)…, and nothing else.
func ForNOC(noc, principal string) []Grant {
	var g []Grant
	g = append(g, topic(principal, topics.NOCIngress(noc), kadm.OpWrite, kadm.OpDescribe)...)
	g = append(g, topic(principal, topics.NOCEgress(noc), kadm.OpRead, kadm.OpDescribe)...)
	g = append(g, grants(principal, kmsg.ACLResourceTypeGroup, NOCGroupPrefix(noc), true, kadm.OpRead)...)
	return g
}

// Components are the Strike components with their own principals.
var Components = []string{"eco-processor", "dialer", "sink", "gateway", "render-poller", "egress", "lag-exporter"}

// ForNOCPipeline is what the components need on noc's own topics: the eco-processor reads its
// ingress, the egress component writes its egress. Literal grants per NOC, not a prefix: a
// prefix "strike.noc." would let the eco-processor read, and the egress write, every NOC's
// topics of both kinds. principal maps a component to its principal.
func ForNOCPipeline(noc string, principal func(component string) string) []Grant {
	return slices.Concat(
		topic(principal("eco-processor"), topics.NOCIngress(noc), kadm.OpRead, kadm.OpDescribe),
		topic(principal("egress"), topics.NOCEgress(noc), kadm.OpWrite, kadm.OpDescribe))
}

// ForComponent is the least privilege of a Strike component authenticated as principal, on the
// internal topics (the NOC topics are ForNOCPipeline's). The transactional components get their
// transactional ids by prefix (one per replica).
func ForComponent(component, principal string) ([]Grant, error) {
	// DescribeConfigs: the start-up check reads each topic's cleanup policy (topics.Verify).
	rw := func(name string) []Grant {
		return topic(principal, name, kadm.OpRead, kadm.OpDescribe, kadm.OpDescribeConfigs)
	}
	w := func(name string) []Grant {
		return topic(principal, name, kadm.OpWrite, kadm.OpDescribe, kadm.OpDescribeConfigs)
	}
	// Groups by prefix, like transactional ids: a replica run with another --group (a reset,
	// a second deployment) stays in the component's own namespace.
	group := func(prefix string) []Grant {
		return grants(principal, kmsg.ACLResourceTypeGroup, prefix, true, kadm.OpRead, kadm.OpDescribe)
	}
	txn := func(prefix string) []Grant {
		return grants(principal, kmsg.ACLResourceTypeTransactionalId, prefix, true, kadm.OpWrite, kadm.OpDescribe)
	}
	var g []Grant
	switch component {
	case "eco-processor":
		g = slices.Concat(rw(topics.ECORequests),
			w(topics.ECOEvents), w(topics.DLQ), group("strike-eco-processor"), txn("strike-eco-processor"))
	case "dialer":
		g = slices.Concat(rw(topics.ECOEvents), rw(topics.TelephonyCallbacks), rw(topics.CalloutState), rw(topics.CalloutControls),
			w(topics.CalloutEvents), w(topics.CalloutState), w(topics.ECORequests), w(topics.DLQ),
			group("strike-dialer"), txn("strike-dialer"))
	case "sink":
		g = slices.Concat(rw(topics.ECOEvents), rw(topics.CalloutEvents), rw(topics.RenderChanges),
			w(topics.DLQ), group("strike-sink"))
	case "gateway":
		g = slices.Concat(w(topics.ECORequests), w(topics.TelephonyCallbacks), w(topics.CalloutControls))
	case "render-poller":
		g = slices.Concat(w(topics.RenderChanges), w(topics.DLQ), rw(topics.ECOEvents), group("strike-render-dispatch"))
	case "lag-exporter": // strike lag: reads groups' offsets and topics' end offsets, nothing else
		g = slices.Concat(grants(principal, kmsg.ACLResourceTypeTopic, "strike.", true, kadm.OpDescribe),
			grants(principal, kmsg.ACLResourceTypeGroup, "strike-", true, kadm.OpDescribe))
	case "egress": // and each NOC's egress topic (ForNOCPipeline)
		g = slices.Concat(rw(topics.ECOEvents), rw(topics.CalloutEvents), group("strike-egress"), txn("strike-egress"))
	default:
		return nil, fmt.Errorf("unknown component %q (one of %s)", component, strings.Join(Components, ", "))
	}
	return g, nil
}

// Apply creates the grants. Creating an ACL that exists changes nothing, so Apply is
// idempotent.
func Apply(ctx context.Context, adm *kadm.Client, gs []Grant) error {
	for _, g := range gs {
		b, err := g.builder()
		if err != nil {
			return err
		}
		res, err := adm.CreateACLs(ctx, b)
		if err != nil {
			return fmt.Errorf("create ACL %s: %w", g, err)
		}
		for _, r := range res {
			if r.Err != nil {
				return fmt.Errorf("create ACL %s: %w", g, r.Err)
			}
		}
	}
	return nil
}

// Missing returns the grants of gs the cluster does not hold, read with DescribeACLs (which
// needs Describe on the cluster: run it as an operator).
func Missing(ctx context.Context, adm *kadm.Client, gs []Grant) ([]Grant, error) {
	var missing []Grant
	for _, g := range gs {
		b, err := g.builder()
		if err != nil {
			return nil, err
		}
		res, err := adm.DescribeACLs(ctx, b)
		if err != nil {
			return nil, fmt.Errorf("describe ACL %s: %w", g, err)
		}
		held := false
		for _, r := range res {
			if r.Err != nil {
				return nil, fmt.Errorf("describe ACL %s: %w", g, r.Err)
			}
			held = held || len(r.Described) > 0
		}
		if !held {
			missing = append(missing, g)
		}
	}
	return missing, nil
}

// builder is g as an exact kadm filter (and creation).
func (g Grant) builder() (*kadm.ACLBuilder, error) {
	b := kadm.NewACLs().Allow(g.Principal).AllowHosts("*").Operations(g.Op)
	switch g.Resource {
	case kmsg.ACLResourceTypeTopic:
		b.Topics(g.Name)
	case kmsg.ACLResourceTypeGroup:
		b.Groups(g.Name)
	case kmsg.ACLResourceTypeTransactionalId:
		b.TransactionalIDs(g.Name)
	default:
		return nil, fmt.Errorf("grant %+v: unsupported resource", g)
	}
	b.ResourcePatternType(kadm.ACLPatternLiteral)
	if g.Prefixed {
		b.ResourcePatternType(kadm.ACLPatternPrefixed)
	}
	return b, nil
}

func (g Grant) String() string {
	return fmt.Sprintf("%s %s %s %s(%s)", g.Principal, g.Op, g.resource(), g.Name, g.pattern())
}

func (g Grant) resource() string { return strings.ToLower(g.Resource.String()) }

func (g Grant) pattern() string {
	if g.Prefixed {
		return "prefixed"
	}
	return "literal"
}

// Print writes the grants as a table.
func Print(w io.Writer, gs []Grant) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PRINCIPAL\tOPERATION\tRESOURCE\tNAME\tPATTERN")
	for _, g := range gs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", g.Principal, g.Op, g.resource(), g.Name, g.pattern())
	}
	return tw.Flush()
}

// MissingError names each grant the connected principal lacks.
type MissingError struct {
	Missing []Grant
}

func (e *MissingError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "the principal lacks %d ACL(s) it needs:", len(e.Missing))
	for _, g := range e.Missing {
		fmt.Fprintf(&b, "\n  - %s on %s %s (%s)", g.Op, g.resource(), g.Name, g.pattern())
	}
	b.WriteString("\n(`strike kafka access --components --apply` grants them, run as a principal allowed to alter ACLs)")
	return b.String()
}

// Check asks the brokers which of gs the connected principal holds, and returns a *MissingError
// naming each it lacks; other errors (authentication, unreachable brokers) are returned as
// they are. It needs no right to read ACLs: topic and group operations come from the brokers'
// authorized-operations answers (KIP-430); for a transactional id only Describe can be probed
// (a coordinator lookup), so a missing Write shows at the first transaction, where the consumer
// loop stops on it (kafkaclient.FatalError). What a broker does not say (operations omitted by an
// old broker, a group Kafka does not know yet) is not reported missing. A
// prefixed grant is probed on the name that is exactly its prefix (the default group or id),
// and the grants' principals are ignored: the answer is the connection's. A topic that does not
// exist is skipped (topics.Verify reports it).
func Check(ctx context.Context, adm *kadm.Client, gs []Grant) error {
	var missing []Grant
	topicOps := map[string]kadm.TopicDetail{}
	groupOps := map[string][]kadm.ACLOperation{}
	txnDenied := map[string]bool{} // Write and Describe on one id: one probe
	for _, g := range gs {
		switch g.Resource {
		case kmsg.ACLResourceTypeTopic:
			td, ok := topicOps[g.Name]
			if !ok {
				// One topic per request: a topic we may not describe fails the whole answer.
				m, err := adm.Metadata(kadm.WithAuthorizedOps(ctx), g.Name)
				var ae *kadm.AuthError
				switch {
				case errors.As(err, &ae):
					td = kadm.TopicDetail{Topic: g.Name, Err: kerr.TopicAuthorizationFailed}
				case err != nil:
					return fmt.Errorf("describe topic %s: %w", g.Name, err)
				default:
					td = m.Topics[g.Name]
				}
				topicOps[g.Name] = td
			}
			switch {
			case errors.Is(td.Err, kerr.TopicAuthorizationFailed):
				missing = append(missing, g)
			case td.Err != nil: // e.g. unknown topic: topics.Verify says so
			case len(td.AuthorizedOperations) == 0:
				// Omitted (a broker before Metadata v8): unknown, not missing. A topic we may
				// describe always lists at least Describe.
			case !slices.Contains(td.AuthorizedOperations, g.Op) && !slices.Contains(td.AuthorizedOperations, kadm.OpAll):
				missing = append(missing, g)
			}
		case kmsg.ACLResourceTypeGroup:
			ops, ok := groupOps[g.Name]
			if !ok {
				// denied: no Describe; unknown: describable, but the broker did not say what
				// else we may do (Kafka omits the operations of a group that does not exist
				// yet, GROUP_ID_NOT_FOUND; kfake gives them). Describe is granted with Read, so a
				// missing Read there shows when the component joins, as a FatalError.
				ops = []kadm.ACLOperation{}
				dg, err := adm.DescribeGroups(ctx, g.Name)
				switch {
				case errors.Is(err, kerr.GroupAuthorizationFailed):
				case err != nil:
					return fmt.Errorf("describe group %s: %w", g.Name, err)
				default:
					if d, ok := dg[g.Name]; ok && !errors.Is(d.Err, kerr.GroupAuthorizationFailed) {
						ops = d.AuthorizedOperations // nil when omitted: unknown
					}
				}
				groupOps[g.Name] = ops
			}
			if ops != nil && !slices.Contains(ops, g.Op) && !slices.Contains(ops, kadm.OpAll) {
				missing = append(missing, g)
			}
		case kmsg.ACLResourceTypeTransactionalId:
			// Finding the coordinator of an id needs Describe on it, which Write implies.
			// Any other answer (the id is unknown, a broker before DescribeTransactions, 3.0)
			// is not a refusal: the brokers were reachable a moment ago (the topics above), and
			// a missing Write shows at the first transaction, as a FatalError.
			denied, ok := txnDenied[g.Name]
			if !ok {
				_, err := adm.DescribeTransactions(ctx, g.Name)
				var ae *kadm.AuthError
				denied = errors.Is(err, kerr.TransactionalIDAuthorizationFailed) || errors.As(err, &ae)
				txnDenied[g.Name] = denied
			}
			if denied {
				missing = append(missing, g)
			}
		}
	}
	if len(missing) > 0 {
		return &MissingError{Missing: missing}
	}
	return nil
}

// Topics are the literal topic names of gs, once each, in order.
func Topics(gs []Grant) []string {
	var out []string
	for _, g := range gs {
		if g.Resource == kmsg.ACLResourceTypeTopic && !g.Prefixed && !slices.Contains(out, g.Name) {
			out = append(out, g.Name)
		}
	}
	return out
}
