package gateway

import (
	"encoding/json"
	"net/http"
	"strings"
)

// ProblemBase prefixes every problem type (RFC 9457); the suffix is a stable slug clients may
// switch on.
const ProblemBase = "https://strike.invalid/problems/"

// Problem slugs.
const (
	ProbUnauthenticated   = "unauthenticated"
	ProbNoMemberships     = "no-memberships"
	ProbForbiddenTenant   = "forbidden-tenant"
	ProbForbiddenRole     = "forbidden-role"
	ProbNotSystemAdmin    = "not-system-admin"
	ProbValidation        = "validation"
	ProbMalformedBody     = "malformed-body"
	ProbBodyTooLarge      = "body-too-large"
	ProbNotFound          = "not-found"
	ProbLinkNotActive     = "link-not-active"
	ProbRequestIDConflict = "request-id-conflict"
	ProbNotCancellable    = "not-cancellable"
	ProbUnavailable       = "unavailable"
	ProbInternal          = "internal"
	ProbTooManyFailures   = "too-many-failed-attempts"
)

// FieldError says what is wrong with one input field; Field is a JSON pointer-like path
// ("site/name") or a query parameter name.
type FieldError struct {
	Field  string `json:"field"`
	Detail string `json:"detail"`
}

// Problem is an application/problem+json body.
type Problem struct {
	Type   string       `json:"type"`
	Title  string       `json:"title"`
	Status int          `json:"status"`
	Detail string       `json:"detail,omitempty"`
	Errors []FieldError `json:"errors,omitempty"`
}

func problem(status int, slug, title, detail string, errs ...FieldError) *Problem {
	return &Problem{Type: ProblemBase + slug, Title: title, Status: status, Detail: detail, Errors: errs}
}

// Slug is the problem type without ProblemBase.
func (p *Problem) Slug() string { return strings.TrimPrefix(p.Type, ProblemBase) }

func writeProblem(w http.ResponseWriter, p *Problem) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

var (
	errUnauthenticated = problem(http.StatusUnauthorized, ProbUnauthenticated, "Not authenticated",
		"Send a valid API token as 'Authorization: Bearer stk_…' (strike admin token create).")
	errNoMemberships = problem(http.StatusForbidden, ProbNoMemberships, "No access yet",
		"Your account has no NOC or OSP memberships. Ask a system admin to add you to a tenant.")
	errForbiddenTenant = problem(http.StatusForbidden, ProbForbiddenTenant, "Not a member of this tenant",
		"You are not a member of this tenant. GET /v1/me lists the tenants you can act in.")
	errNotSystemAdmin = problem(http.StatusForbidden, ProbNotSystemAdmin, "System admins only",
		"This route is for Strike system admins.")
	errInternal = problem(http.StatusInternalServerError, ProbInternal, "Internal error",
		"Something went wrong on our side; it has been logged.")
)

// schemaFieldErrors turns the validator's "at /site/name: minLength: …; at /x: …" summary into
// field errors.
func schemaFieldErrors(msg string) []FieldError {
	if i := strings.Index(msg, ": at /"); i >= 0 {
		msg = msg[i+2:]
	}
	var out []FieldError
	for _, part := range strings.Split(msg, "; ") {
		part = strings.TrimPrefix(part, "at /")
		field, detail, ok := strings.Cut(part, ": ")
		if !ok {
			out = append(out, FieldError{Field: "", Detail: part})
			continue
		}
		out = append(out, FieldError{Field: field, Detail: detail})
	}
	return out
}
