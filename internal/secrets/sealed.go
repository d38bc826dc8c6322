package secrets

import (
	"encoding/base64"
	"fmt"
	"strings"
)

// sealedVersion prefixes the compact string form; a future format gets a new prefix.
const sealedVersion = "v1"

// Sealed is a ciphertext with the id of the key that sealed it and its GCM nonce. It holds no
// plaintext and may be stored, logged or copied freely.
type Sealed struct {
	KeyID      string
	Nonce      []byte
	Ciphertext []byte // includes the 16-byte GCM tag
}

// b64 is the encoding of the compact form: URL-safe, unpadded, so it never contains ':'.
var b64 = base64.RawURLEncoding

// String returns the compact form "v1:<kid>:<base64url nonce>:<base64url ciphertext>", the
// value stored in the database.
func (s Sealed) String() string {
	return sealedVersion + ":" + s.KeyID + ":" + b64.EncodeToString(s.Nonce) + ":" + b64.EncodeToString(s.Ciphertext)
}

// MarshalText implements encoding.TextMarshaler with the compact form.
func (s Sealed) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParseSealed.
func (s *Sealed) UnmarshalText(b []byte) error {
	p, err := ParseSealed(string(b))
	if err != nil {
		return err
	}
	*s = p
	return nil
}

// ParseSealed parses the compact form written by Sealed.String. It checks the shape only; the
// key and the integrity are checked by Keyring.Decrypt.
func ParseSealed(s string) (Sealed, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 4 {
		return Sealed{}, fmt.Errorf("%w: want v1:<kid>:<nonce>:<ciphertext>, got %d fields", ErrMalformed, len(parts))
	}
	if parts[0] != sealedVersion {
		return Sealed{}, fmt.Errorf("%w: unknown version %q", ErrMalformed, parts[0])
	}
	if err := validKeyID(parts[1]); err != nil {
		return Sealed{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	nonce, err := b64.DecodeString(parts[2])
	if err != nil {
		return Sealed{}, fmt.Errorf("%w: nonce: %w", ErrMalformed, err)
	}
	ct, err := b64.DecodeString(parts[3])
	if err != nil {
		return Sealed{}, fmt.Errorf("%w: ciphertext: %w", ErrMalformed, err)
	}
	out := Sealed{KeyID: parts[1], Nonce: nonce, Ciphertext: ct}
	if err := out.check(); err != nil {
		return Sealed{}, err
	}
	return out, nil
}

// check validates sizes so a short value is a clear error, not an AEAD panic.
func (s Sealed) check() error {
	if len(s.Nonce) != nonceSize {
		return fmt.Errorf("%w: nonce is %d bytes, want %d", ErrMalformed, len(s.Nonce), nonceSize)
	}
	if len(s.Ciphertext) < tagSize {
		return fmt.Errorf("%w: ciphertext is %d bytes, shorter than the %d-byte tag", ErrMalformed, len(s.Ciphertext), tagSize)
	}
	return nil
}
