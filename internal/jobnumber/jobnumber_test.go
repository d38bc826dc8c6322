package jobnumber_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/osprey-strike/strike/internal/jobnumber"
	"github.com/osprey-strike/strike/internal/pgtest"
)

// golden is rendered by both the Go renderer and the SQL function the allocator uses.
var golden = []struct {
	template string
	fields   jobnumber.Fields
	want     string
}{
	{jobnumber.Default, jobnumber.Fields{Prefix: "ACME", NOC: "NOCA", Num: 42, Year: 2026}, "ACME-NOCA-00042-2026"},
	{jobnumber.Default, jobnumber.Fields{Prefix: "ACME", NOC: "NOCA", Num: 1234567, Year: 2026}, "ACME-NOCA-1234567-2026"},
	{"{num}", jobnumber.Fields{Num: 7}, "7"},
	{"{num:1}", jobnumber.Fields{Num: 70}, "70"},
	{"JOB {year}/{num:8}", jobnumber.Fields{Num: 3, Year: 2031}, "JOB 2031/00000003"},
	{"{noc}{prefix}{num:3}", jobnumber.Fields{Prefix: "P", NOC: "N", Num: 999}, "NP999"},
	{"{num:2}-{num:4}", jobnumber.Fields{Num: 5}, "05-0005"},
	{"x:{num:3}:y", jobnumber.Fields{Num: 12}, "x:012:y"},
}

func TestRenderGolden(t *testing.T) {
	t.Parallel()
	for _, g := range golden {
		tmpl, err := jobnumber.Parse(g.template)
		if err != nil {
			t.Fatalf("Parse(%q): %v", g.template, err)
		}
		if got := tmpl.Render(g.fields); got != g.want {
			t.Errorf("Render(%q, %+v) = %q, want %q", g.template, g.fields, got, g.want)
		}
	}
}

func TestSQLRendererMatchesGo(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	for _, g := range golden {
		var got string
		err := db.Pool.QueryRow(context.Background(),
			"SELECT render_job_number($1, $2, $3, $4, $5)",
			g.template, g.fields.Prefix, g.fields.NOC, g.fields.Num, g.fields.Year).Scan(&got)
		if err != nil {
			t.Fatalf("render_job_number(%q): %v", g.template, err)
		}
		if got != g.want {
			t.Errorf("SQL render_job_number(%q) = %q, want %q", g.template, got, g.want)
		}
	}
}

func TestParseRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		template string
		wantErr  string
	}{
		{"", "empty"},
		{"{prefix}-{year}", "must contain {num}"},
		{"{num", "unclosed '{' at position 0"},
		{"A}{num}", "unmatched '}' at position 1"},
		{"{num}-{nope}", "unknown placeholder {nope}"},
		{"{num:0}", "width must be a number from 1 to 99"},
		{"{num:100}", "width must be a number from 1 to 99"},
		{"{num:05}", "width must be a number from 1 to 99"},
		{"{num:x}", "width must be a number from 1 to 99"},
		{"{NUM}", "unknown placeholder {NUM}"},
		{strings.Repeat("a", 100) + "{num}", "at most 100"},
	}
	for _, tt := range tests {
		_, err := jobnumber.Parse(tt.template)
		if err == nil {
			t.Errorf("Parse(%q) = nil error, want %q", tt.template, tt.wantErr)
			continue
		}
		if !errors.Is(err, jobnumber.ErrInvalid) || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("Parse(%q) error = %q, want it to contain %q", tt.template, err, tt.wantErr)
		}
	}
}

// The database CHECK is the backstop for templates written without going through Parse: it
// accepts and refuses the same templates.
func TestDatabaseCheckAgreesWithParse(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	cases := []string{jobnumber.Default, "{num}", "JOB {year}/{num:8}", "{prefix}-{year}", "{num:0}", "{nope}{num}", "A}{num}", "{num:05}"}
	for i, tmpl := range cases {
		_, parseErr := jobnumber.Parse(tmpl)
		_, dbErr := db.Pool.Exec(ctx,
			"INSERT INTO osp_tenants (id, name, job_prefix, job_template) VALUES ($1, 'x', 'X', $2)",
			"osp-"+string(rune('a'+i)), tmpl)
		if (parseErr == nil) != (dbErr == nil) {
			t.Errorf("template %q: Parse error %v, database error %v: they must agree", tmpl, parseErr, dbErr)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, g := range golden {
		f.Add(g.template)
	}
	f.Add("{num:99}{")
	f.Fuzz(func(t *testing.T, s string) {
		tmpl, err := jobnumber.Parse(s)
		if err != nil {
			return
		}
		out := tmpl.Render(jobnumber.Fields{Prefix: "P", NOC: "N", Num: 12345, Year: 2026})
		if !strings.Contains(out, "12345") {
			t.Fatalf("valid template %q rendered %q without the number", s, out)
		}
	})
}
