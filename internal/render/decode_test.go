package render

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

const goodJob = `{"id":"job-1","external_ref":"ACME-00001-2026","status":"en_route","assignee":{"name":"Sam"},"updated_at":"2026-03-01T12:00:10Z","version":2}`

func TestDecodePage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		body  string
		jobs  int
		valid bool
	}{
		{"last page", `{"jobs":[` + goodJob + `],"next_cursor":"c2"}`, 1, true},
		{"middle page", `{"jobs":[` + goodJob + `],"next_page_token":"p2"}`, 1, true},
		{"empty last page", `{"jobs":[],"next_cursor":"c2"}`, 0, true},
		{"unknown fields ignored", `{"jobs":[],"next_cursor":"c","extra":{"a":1}}`, 0, true},
		{"unassigned job", `{"jobs":[{"id":"j","status":"dispatched","assignee":null,"updated_at":"2026-03-01T12:00:00.123456789+02:00","version":1}],"next_cursor":"c"}`, 1, true},
		{"bad JSON", `{"jobs":[`, 0, false},
		{"truncated", `{"jobs":[` + goodJob[:40], 0, false},
		{"trailing garbage", `{"jobs":[],"next_cursor":"c"} x`, 0, false},
		{"not an object", `[]`, 0, false},
		{"null", `null`, 0, false},
		{"empty body", ``, 0, false},
		{"missing jobs", `{"next_cursor":"c"}`, 0, false},
		{"jobs null", `{"jobs":null,"next_cursor":"c"}`, 0, false},
		{"no continuation", `{"jobs":[]}`, 0, false},
		{"null job", `{"jobs":[null],"next_cursor":"c"}`, 0, false},
		{"missing id", `{"jobs":[{"status":"dispatched","updated_at":"2026-03-01T12:00:00Z","version":1}],"next_cursor":"c"}`, 0, false},
		{"missing status", `{"jobs":[{"id":"j","updated_at":"2026-03-01T12:00:00Z","version":1}],"next_cursor":"c"}`, 0, false},
		{"unknown status", `{"jobs":[{"id":"j","status":"teleported","updated_at":"2026-03-01T12:00:00Z","version":1}],"next_cursor":"c"}`, 0, false},
		{"missing version", `{"jobs":[{"id":"j","status":"dispatched","updated_at":"2026-03-01T12:00:00Z"}],"next_cursor":"c"}`, 0, false},
		{"version as string", `{"jobs":[{"id":"j","status":"dispatched","updated_at":"2026-03-01T12:00:00Z","version":"1"}],"next_cursor":"c"}`, 0, false},
		{"missing updated_at", `{"jobs":[{"id":"j","status":"dispatched","version":1}],"next_cursor":"c"}`, 0, false},
		{"bad updated_at", `{"jobs":[{"id":"j","status":"dispatched","updated_at":"yesterday","version":1}],"next_cursor":"c"}`, 0, false},
		{"huge id", `{"jobs":[{"id":"` + strings.Repeat("x", 300) + `","status":"dispatched","updated_at":"2026-03-01T12:00:00Z","version":1}],"next_cursor":"c"}`, 0, false},
		{"huge token", `{"jobs":[],"next_page_token":"` + strings.Repeat("x", 5000) + `"}`, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := decodePage([]byte(tt.body))
			if !tt.valid {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("decodePage = %+v, %v; want ErrMalformed", p, err)
				}
				if len(tt.body) > 20 && strings.Contains(err.Error(), tt.body[5:20]) {
					t.Fatalf("error quotes the body: %v", err)
				}
				return
			}
			if err != nil || len(p.Jobs) != tt.jobs {
				t.Fatalf("decodePage = %+v, %v", p, err)
			}
		})
	}
	t.Run("fields", func(t *testing.T) {
		t.Parallel()
		p, _ := decodePage([]byte(`{"jobs":[` + goodJob + `],"next_cursor":"c2"}`))
		want := Job{ID: "job-1", ExternalRef: "ACME-00001-2026", Status: StatusEnRoute, Assignee: "Sam",
			UpdatedAt: time.Date(2026, 3, 1, 12, 0, 10, 0, time.UTC), Version: 2}
		if !sameRevision(p.Jobs[0], want) || p.NextCursor != "c2" {
			t.Fatalf("decoded %+v", p)
		}
	})
}

func TestDecodeLookupAndConflict(t *testing.T) {
	t.Parallel()
	if _, ok, err := decodeLookup([]byte(`{"jobs":[]}`), "R"); ok || err != nil {
		t.Fatalf("empty lookup: %v %v", ok, err)
	}
	if j, ok, err := decodeLookup([]byte(`{"jobs":[`+goodJob+`]}`), "ACME-00001-2026"); !ok || err != nil || j.ID != "job-1" {
		t.Fatalf("lookup: %+v %v %v", j, ok, err)
	}
	if _, _, err := decodeLookup([]byte(`{"jobs":[`+goodJob+`]}`), "OTHER"); !errors.Is(err, ErrMalformed) {
		t.Fatalf("lookup answering another ref: %v", err)
	}
	if _, _, err := decodeLookup([]byte(`{"jobs":[`+goodJob+`,`+goodJob+`]}`), "ACME-00001-2026"); !errors.Is(err, ErrMalformed) {
		t.Fatalf("lookup with two jobs: %v", err)
	}
	if j, ok, err := decodeConflict([]byte(`{"error":"duplicate_external_ref","job":` + goodJob + `}`)); !ok || err != nil || j.ID != "job-1" {
		t.Fatalf("conflict: %+v %v %v", j, ok, err)
	}
	if _, ok, err := decodeConflict([]byte(`{"error":"duplicate_external_ref"}`)); ok || err != nil {
		t.Fatalf("conflict without job: %v %v", ok, err)
	}
}

func TestErrorCodeIsSanitised(t *testing.T) {
	t.Parallel()
	for body, want := range map[string]string{
		`{"error":"invalid_cursor","message":"x"}`:    "invalid_cursor",
		`{"error":"has space"}`:                       "",
		`{"error":"` + strings.Repeat("a", 65) + `"}`: "",
		`not json`: "",
	} {
		if got := errorCode([]byte(body)); got != want {
			t.Errorf("errorCode(%s) = %q, want %q", body, got, want)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		header http.Header
		want   time.Duration
		ok     bool
	}{
		{"seconds", http.Header{"Retry-After": {"3"}}, 3 * time.Second, true},
		{"zero", http.Header{"Retry-After": {"0"}}, 0, true},
		{"http date", http.Header{"Retry-After": {now.Add(5 * time.Second).Format(http.TimeFormat)}}, 5 * time.Second, true},
		{"http date against Date header", http.Header{
			"Retry-After": {now.Add(time.Hour + 2*time.Second).Format(http.TimeFormat)},
			"Date":        {now.Add(time.Hour).Format(http.TimeFormat)},
		}, 2 * time.Second, true},
		{"date in the past", http.Header{"Retry-After": {now.Add(-time.Minute).Format(http.TimeFormat)}}, 0, true},
		{"absent", http.Header{}, 0, false},
		{"negative", http.Header{"Retry-After": {"-1"}}, 0, false},
		{"garbage", http.Header{"Retry-After": {"soon"}}, 0, false},
		{"enormous", http.Header{"Retry-After": {"99999999999999"}}, maxRetryAfterSeconds * time.Second, true},
	}
	for _, tt := range tests {
		got, ok := parseRetryAfter(tt.header, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("%s: parseRetryAfter = %v, %v; want %v, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

// FuzzDecodePage checks that no input makes the page decoder panic, and that whatever it
// accepts satisfies the contract's invariants. Run: go test -fuzz FuzzDecodePage ./internal/render
func FuzzDecodePage(f *testing.F) {
	f.Add([]byte(`{"jobs":[` + goodJob + `],"next_cursor":"c2"}`))
	f.Add([]byte(`{"jobs":[` + goodJob + `,` + goodJob + `],"next_page_token":"p"}`))
	f.Add([]byte(`{"jobs":[],"next_cursor":""}`))
	f.Add([]byte(`{"jobs":[{"id":"j","status":"dispatched","assignee":null,"updated_at":"2026-03-01T12:00:00Z","version":1}],"next_cursor":"c"}`))
	f.Add([]byte(`{"jobs":[{"id":"j","version":9223372036854775807}]}`))
	f.Add([]byte(`{"jobs":[`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := decodePage(body)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error is not ErrMalformed: %v", err)
			}
			return
		}
		if p.NextPageToken == "" && p.NextCursor == "" {
			t.Fatal("accepted a page with no continuation")
		}
		for _, j := range p.Jobs {
			if j.ID == "" || !j.Status.Valid() || j.Version < 1 || j.UpdatedAt.IsZero() {
				t.Fatalf("accepted invalid job %+v", j)
			}
		}
	})
}
