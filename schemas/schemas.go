// Package schemas is Strike's wire contract: one JSON Schema file per event type and version,
// the Go types that match them, and a Validator that checks raw values against the schemas.
//
// Every record also carries CloudEvents binary-mode headers (see internal/cloudevents) whose
// ce_type names the schema, e.g. strike.eco.request.v1 → eco-request.v1.json.
package schemas

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

//go:embed *.json
var files embed.FS

// CloudEvents types, one per schema.
const (
	TypeECORequest   = "strike.eco.request.v1"
	TypeECOCreated   = "strike.eco.created.v1"
	TypeECORejected  = "strike.eco.rejected.v1"
	TypeECOCancel    = "strike.eco.cancel.v1"
	TypeECOCancelled = "strike.eco.cancelled.v1"
	TypeDLQRecord    = "strike.dlq.record.v1"
)

// TypeOf returns the CloudEvents type whose schema is in file: "strike." followed by the file
// name without ".json", dashes read as dots (eco-request.v1.json → strike.eco.request.v1). A new
// event type needs only its schema file in this folder.
func TypeOf(file string) string {
	return "strike." + strings.ReplaceAll(strings.TrimSuffix(file, ".json"), "-", ".")
}

// sharedFile holds definitions referenced by the event schemas; it is not an event type.
const sharedFile = "defs.v1.json"

const baseURL = "https://schemas.strike.invalid/"

// Errors a decoder returns; the DLQ reason is derived from them.
var (
	ErrInvalidJSON     = errors.New("invalid JSON")
	ErrSchemaViolation = errors.New("schema violation")
	ErrUnknownType     = errors.New("unknown event type")
)

// Validator checks values against the compiled schemas. It is safe for concurrent use.
type Validator struct {
	byType map[string]*jsonschema.Schema
}

// NewValidator compiles every embedded schema. It fails only if a schema file is broken, which
// a test pins down, so callers may treat an error as a programming mistake.
func NewValidator() (*Validator, error) {
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	entries, err := fs.ReadDir(files, ".")
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		raw, err := files.ReadFile(e.Name())
		if err != nil {
			return nil, err
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("schema %s: %w", e.Name(), err)
		}
		if err := c.AddResource(baseURL+e.Name(), doc); err != nil {
			return nil, fmt.Errorf("schema %s: %w", e.Name(), err)
		}
	}
	v := &Validator{byType: make(map[string]*jsonschema.Schema, len(entries))}
	for _, e := range entries {
		if e.Name() == sharedFile {
			continue
		}
		s, err := c.Compile(baseURL + e.Name())
		if err != nil {
			return nil, fmt.Errorf("compile schema %s: %w", e.Name(), err)
		}
		v.byType[TypeOf(e.Name())] = s
	}
	return v, nil
}

// Validate checks raw against the schema of the CloudEvents type typ. The error wraps
// ErrInvalidJSON, ErrSchemaViolation or ErrUnknownType and says where the value is wrong.
func (v *Validator) Validate(typ string, raw []byte) error {
	s, ok := v.byType[typ]
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownType, typ)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidJSON, err)
	}
	if err := s.Validate(doc); err != nil {
		var ve *jsonschema.ValidationError
		if errors.As(err, &ve) {
			return fmt.Errorf("%w: %s", ErrSchemaViolation, summarize(ve))
		}
		return fmt.Errorf("%w: %v", ErrSchemaViolation, err)
	}
	return nil
}

// Decode validates raw as typ and unmarshals it into out.
func (v *Validator) Decode(typ string, raw []byte, out any) error {
	if err := v.Validate(typ, raw); err != nil {
		return err
	}
	if err := json.Unmarshal(raw, out); err != nil {
		// The schema accepted it, so this is a mismatch between schema and Go type.
		return fmt.Errorf("%w: %v", ErrSchemaViolation, err)
	}
	return nil
}

// summarize flattens a validation error to its leaves, one short clause each, e.g.
// "at /site/name: minLength: got 0, want 1".
func summarize(ve *jsonschema.ValidationError) string {
	var leaves []string
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			leaves = append(leaves, fmt.Sprintf("at /%s: %s", strings.Join(e.InstanceLocation, "/"), e.ErrorKind))
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	sort.Strings(leaves)
	return strings.Join(leaves, "; ")
}

// Types lists every event type with a schema, sorted.
func (v *Validator) Types() []string {
	out := make([]string, 0, len(v.byType))
	for t := range v.byType {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}
