// Package ids derives Strike's deterministic identifiers. The same input always gives the same
// id, so a redelivered request yields the same ECO and a re-emitted event the same ce_id, and a
// consumer can drop the duplicate.
package ids

import (
	"strings"

	"github.com/google/uuid"
)

// namespace is Strike's UUIDv5 namespace. Changing it changes every derived id: never do.
var namespace = uuid.MustParse("6f1c2a4e-8d3b-5e7f-9a0b-1c2d3e4f5a6b")

// ECOID is the ECO id of NOC noc's request requestID: the same request always names the same
// ECO. Request ids are namespaced per NOC (DESIGN §5), so two NOCs using one request id name two
// ECOs. (ECOs allocated before ids were per NOC keep the id derived from the request id alone;
// their allocation stores it.)
func ECOID(noc, requestID string) string {
	return uuid.NewSHA1(namespace, []byte("eco\x00"+noc+"\x00"+requestID)).String()
}

// RefusedECOID is the id under which the refusal of a record is shown when it must not land on
// the ECO its request id names (ECOID(noc, requestID)): a request naming another NOC than the
// ingress topic's, or the same request id with another body. It is derived from the record's
// value too, so a redelivery of the refused record lands on the same refusal.
func RefusedECOID(noc, requestID string, value []byte) string {
	return uuid.NewSHA1(namespace, append([]byte("refused\x00"+noc+"\x00"+requestID+"\x00"), value...)).String()
}

// EventID is the ce_id of an event identified by its type and the parts that make it unique,
// e.g. EventID("strike.eco.created.v1", ecoID).
func EventID(eventType string, parts ...string) string {
	return uuid.NewSHA1(namespace, []byte(eventType+"\x00"+strings.Join(parts, "\x00"))).String()
}
