// Package jobnumber parses, validates and renders OSP job-number templates such as
// "{prefix}-{noc}-{num:5}-{year}" → "ACME-NOCA-00042-2026".
//
// Placeholders: {prefix} (the OSP's job prefix), {noc} (the NOC's code), {num} or {num:N} (the
// OSP's job number, zero-padded to width N; a wider number is never truncated) and {year} (the
// allocation year, UTC). Anything else is literal text; braces are only allowed in placeholders.
// A template must contain {num}, or two ECOs could get the same job number.
//
// The SQL function render_job_number (migrations/00002) renders the same way inside the
// allocation transaction; a test runs the golden table through both.
package jobnumber

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Default is the template a new OSP gets.
const Default = "{prefix}-{noc}-{num:5}-{year}"

// MaxLen bounds a template's length; the database enforces the same limit.
const MaxLen = 100

// Fields are the values a template is rendered with.
type Fields struct {
	Prefix string
	NOC    string
	Num    int64
	Year   int
}

// Template is a validated job-number template.
type Template struct {
	raw   string
	parts []part
}

type part struct {
	literal string
	field   string // "", "prefix", "noc", "num", "year"
	width   int
}

// ErrInvalid is wrapped by every Parse error.
var ErrInvalid = errors.New("invalid job-number template")

// Parse validates a template and returns it ready to render. The error says what is wrong and
// where, so an OSP admin can fix it when saving.
func Parse(s string) (Template, error) {
	if s == "" {
		return Template{}, fmt.Errorf("%w: empty", ErrInvalid)
	}
	if len(s) > MaxLen {
		return Template{}, fmt.Errorf("%w: %d characters, at most %d", ErrInvalid, len(s), MaxLen)
	}
	t := Template{raw: s}
	hasNum := false
	rest := s
	pos := 0
	for rest != "" {
		open := strings.IndexAny(rest, "{}")
		if open < 0 {
			t.parts = append(t.parts, part{literal: rest})
			break
		}
		if rest[open] == '}' {
			return Template{}, fmt.Errorf("%w: unmatched '}' at position %d", ErrInvalid, pos+open)
		}
		if open > 0 {
			t.parts = append(t.parts, part{literal: rest[:open]})
		}
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			return Template{}, fmt.Errorf("%w: unclosed '{' at position %d", ErrInvalid, pos+open)
		}
		name := rest[open+1 : open+end]
		p, err := parsePlaceholder(name)
		if err != nil {
			return Template{}, fmt.Errorf("%w: %v at position %d", ErrInvalid, err, pos+open)
		}
		hasNum = hasNum || p.field == "num"
		t.parts = append(t.parts, p)
		pos += open + end + 1
		rest = rest[open+end+1:]
	}
	if !hasNum {
		return Template{}, fmt.Errorf("%w: it must contain {num} or {num:N}", ErrInvalid)
	}
	return t, nil
}

func parsePlaceholder(name string) (part, error) {
	switch name {
	case "prefix", "noc", "year", "num":
		return part{field: name}, nil
	}
	if w, ok := strings.CutPrefix(name, "num:"); ok {
		n, err := strconv.Atoi(w)
		// Widths 1..99, written without a leading zero, as the database CHECK accepts.
		if err != nil || n < 1 || n > 99 || w[0] == '0' {
			return part{}, fmt.Errorf("{num:%s}: width must be a number from 1 to 99", w)
		}
		return part{field: "num", width: n}, nil
	}
	return part{}, fmt.Errorf("unknown placeholder {%s} (known: {prefix}, {noc}, {num}, {num:N}, {year})", name)
}

// String returns the template as written.
func (t Template) String() string { return t.raw }

// Render returns the job number for f.
func (t Template) Render(f Fields) string {
	var b strings.Builder
	for _, p := range t.parts {
		switch p.field {
		case "":
			b.WriteString(p.literal)
		case "prefix":
			b.WriteString(f.Prefix)
		case "noc":
			b.WriteString(f.NOC)
		case "year":
			b.WriteString(strconv.Itoa(f.Year))
		case "num":
			n := strconv.FormatInt(f.Num, 10)
			for i := len(n); i < p.width; i++ {
				b.WriteByte('0')
			}
			b.WriteString(n)
		}
	}
	return b.String()
}
