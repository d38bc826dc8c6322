// Package kafkaacl is who may do what on Strike's Kafka cluster (DESIGN §5): each NOC tool's
// principal writes only its NOC's ingress topic and reads only its NOC's egress topic; each
// Strike component's principal holds only the ACLs its role needs. It builds the grants and
// applies them idempotently through kadm (Kafka keeps one copy of an identical ACL).
package kafkaacl

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/twmb/franz-go/pkg/kadm"
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
var Components = []string{"eco-processor", "dialer", "sink", "gateway", "render-poller", "egress"}

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
	rw := func(name string) []Grant { return topic(principal, name, kadm.OpRead, kadm.OpDescribe) }
	w := func(name string) []Grant { return topic(principal, name, kadm.OpWrite, kadm.OpDescribe) }
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
		b := kadm.NewACLs().Allow(g.Principal).AllowHosts("*").Operations(g.Op)
		switch g.Resource {
		case kmsg.ACLResourceTypeTopic:
			b.Topics(g.Name)
		case kmsg.ACLResourceTypeGroup:
			b.Groups(g.Name)
		case kmsg.ACLResourceTypeTransactionalId:
			b.TransactionalIDs(g.Name)
		default:
			return fmt.Errorf("grant %+v: unsupported resource", g)
		}
		b.ResourcePatternType(kadm.ACLPatternLiteral)
		if g.Prefixed {
			b.ResourcePatternType(kadm.ACLPatternPrefixed)
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
