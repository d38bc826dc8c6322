package secrets

import "fmt"

// Redacted is what a Secret prints as, whatever the verb or encoder.
const Redacted = "[redacted]"

// Secret is a plaintext credential. It prints, formats, logs and marshals as "[redacted]" so it
// cannot leak through fmt, zerolog (which falls back to JSON) or an API answer; Reveal is the
// one explicit way to read it, and should only be called where the value goes on the wire.
//
// fmt only calls these methods on values it can reach: a Secret in an UNEXPORTED struct field
// prints raw when the struct is printed. A type that keeps a Secret in an unexported field
// must therefore give itself a String (and Format) method, as render.Client does.
type Secret string

// Reveal returns the plaintext. Call it only to hand the value to the party that needs it.
func (s Secret) Reveal() string { return string(s) }

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s == "" }

// String implements fmt.Stringer.
func (Secret) String() string { return Redacted }

// GoString implements fmt.GoStringer (%#v).
func (Secret) GoString() string { return Redacted }

// Format implements fmt.Formatter so every verb (%v, %+v, %#v, %s, %q, %x, %d, …) redacts.
func (Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(Redacted)) }

// MarshalJSON implements json.Marshaler; zerolog's Interface/Any/Fields use it too.
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + Redacted + `"`), nil }

// MarshalText implements encoding.TextMarshaler (YAML, map keys, text encoders).
func (Secret) MarshalText() ([]byte, error) { return []byte(Redacted), nil }
