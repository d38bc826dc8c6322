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

// ECOID is the ECO id for a request id: the same request always names the same ECO.
func ECOID(requestID string) string {
	return uuid.NewSHA1(namespace, []byte("eco\x00"+requestID)).String()
}

// EventID is the ce_id of an event identified by its type and the parts that make it unique,
// e.g. EventID("strike.eco.created.v1", ecoID).
func EventID(eventType string, parts ...string) string {
	return uuid.NewSHA1(namespace, []byte(eventType+"\x00"+strings.Join(parts, "\x00"))).String()
}
