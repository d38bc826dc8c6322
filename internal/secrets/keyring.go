package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// EnvKeys is the environment variable holding the keyring.
const EnvKeys = "STRIKE_SECRET_KEYS"

// DevKeyID is the id of the public key `strike dev` seals with when EnvKeys is unset. Its key is
// in the source, so it protects nothing: `strike run` refuses a keyring that holds it.
const DevKeyID = "dev-only-insecure"

const (
	keySize   = 32 // AES-256
	nonceSize = 12 // GCM standard nonce
	tagSize   = 16
	maxKeyID  = 64
)

// Errors returned by this package; match them with errors.Is.
var (
	ErrInvalidKeyring = errors.New("invalid " + EnvKeys)
	ErrUnknownKey     = errors.New("sealed with a key id not in the keyring")
	ErrDecrypt        = errors.New("decryption failed: wrong key, wrong binding (AAD) or tampered ciphertext")
	ErrMalformed      = errors.New("malformed sealed value")
)

// Keyring holds the AES-256-GCM keys by id. The newest key (the last one listed) encrypts;
// every key decrypts. It is safe for concurrent use. It never prints key material.
type Keyring struct {
	ids    []string // in listed order; ids[len-1] is the newest
	aeads  map[string]cipher.AEAD
	newest string
}

// GenerateKey returns a fresh random 32-byte key in standard base64, ready to append to
// STRIKE_SECRET_KEYS as "<kid>:<key>".
func GenerateKey() string {
	k := make([]byte, keySize)
	_, _ = rand.Read(k) // crypto/rand.Read never fails (it aborts the program instead)
	return base64.StdEncoding.EncodeToString(k)
}

// ParseKeyring parses "kid1:base64key1,kid2:base64key2". Whitespace around entries is ignored;
// key ids are 1-64 characters of [A-Za-z0-9._-]; keys are 32 bytes in standard or URL-safe
// base64, padded or not. The last entry is the newest key. Errors name the entry and kid but
// never echo key material.
func ParseKeyring(s string) (*Keyring, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("%w: empty; want \"kid:base64key[,kid:base64key...]\"", ErrInvalidKeyring)
	}
	kr := &Keyring{aeads: map[string]cipher.AEAD{}}
	for i, entry := range strings.Split(s, ",") {
		n := i + 1
		entry = strings.TrimSpace(entry)
		if entry == "" {
			return nil, fmt.Errorf("%w: entry %d is empty", ErrInvalidKeyring, n)
		}
		kid, enc, ok := strings.Cut(entry, ":")
		if !ok {
			return nil, fmt.Errorf("%w: entry %d has no ':' between key id and key", ErrInvalidKeyring, n)
		}
		kid, enc = strings.TrimSpace(kid), strings.TrimSpace(enc)
		if err := validKeyID(kid); err != nil {
			return nil, fmt.Errorf("%w: entry %d: %w", ErrInvalidKeyring, n, err)
		}
		if _, dup := kr.aeads[kid]; dup {
			return nil, fmt.Errorf("%w: entry %d: duplicate key id %q", ErrInvalidKeyring, n, kid)
		}
		key, err := decodeKey(enc)
		if err != nil {
			return nil, fmt.Errorf("%w: key %q (entry %d): %w", ErrInvalidKeyring, kid, n, err)
		}
		if len(key) != keySize {
			return nil, fmt.Errorf("%w: key %q (entry %d) is %d bytes, want %d (AES-256)", ErrInvalidKeyring, kid, n, len(key), keySize)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("%w: key %q: %w", ErrInvalidKeyring, kid, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("%w: key %q: %w", ErrInvalidKeyring, kid, err)
		}
		clear(key)
		kr.ids = append(kr.ids, kid)
		kr.aeads[kid] = aead
		kr.newest = kid
	}
	return kr, nil
}

// decodeKey accepts the base64 flavours operators paste (openssl rand -base64 32 gives padded
// standard base64). The error says which rule failed, never the input.
func decodeKey(s string) ([]byte, error) {
	if s == "" {
		return nil, errors.New("key is empty")
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("key is not valid base64")
}

func validKeyID(kid string) error {
	if kid == "" {
		return errors.New("key id is empty")
	}
	if len(kid) > maxKeyID {
		return fmt.Errorf("key id is %d characters, at most %d", len(kid), maxKeyID)
	}
	for _, r := range kid {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("key id %q: only letters, digits, '.', '_' and '-' are allowed", kid)
		}
	}
	return nil
}

// NewestKeyID is the id of the key that encrypts.
func (k *Keyring) NewestKeyID() string { return k.newest }

// Has reports whether the keyring holds a key with this id.
func (k *Keyring) Has(kid string) bool { _, ok := k.aeads[kid]; return ok }

// KeyIDs lists the key ids, oldest first.
func (k *Keyring) KeyIDs() []string { return append([]string(nil), k.ids...) }

// String describes the keyring without key material.
func (k *Keyring) String() string {
	return fmt.Sprintf("secrets.Keyring{keys: %v, newest: %q}", k.ids, k.newest)
}

// GoString is String, so %#v cannot dump the cipher state either.
func (k *Keyring) GoString() string { return k.String() }

// gcmAAD binds the format version and key id as well as the caller's AAD.
func gcmAAD(kid string, aad []byte) []byte {
	b := make([]byte, 0, len(sealedVersion)+len(kid)+2+len(aad))
	b = append(b, sealedVersion...)
	b = append(b, 0)
	b = append(b, kid...)
	b = append(b, 0)
	return append(b, aad...)
}

// Encrypt seals plaintext under the newest key with a random nonce. aad must be the binding of
// where the value will be stored (see RenderSecretAAD); the same aad is needed to decrypt.
func (k *Keyring) Encrypt(plaintext, aad []byte) (Sealed, error) {
	return k.encryptWith(k.newest, plaintext, aad)
}

func (k *Keyring) encryptWith(kid string, plaintext, aad []byte) (Sealed, error) {
	aead, ok := k.aeads[kid]
	if !ok {
		return Sealed{}, fmt.Errorf("%w: %q", ErrUnknownKey, kid)
	}
	nonce := make([]byte, nonceSize)
	_, _ = rand.Read(nonce)
	ct := aead.Seal(nil, nonce, plaintext, gcmAAD(kid, aad))
	return Sealed{KeyID: kid, Nonce: nonce, Ciphertext: ct}, nil
}

// Decrypt opens s with the key it names. An unknown key id is ErrUnknownKey (the keyring is
// missing an old key: do not drop a key while values are still sealed under it); a wrong aad,
// wrong key or any modified byte is ErrDecrypt.
func (k *Keyring) Decrypt(s Sealed, aad []byte) ([]byte, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	aead, ok := k.aeads[s.KeyID]
	if !ok {
		return nil, fmt.Errorf("%w: %q (keyring has %v)", ErrUnknownKey, s.KeyID, k.ids)
	}
	pt, err := aead.Open(nil, s.Nonce, s.Ciphertext, gcmAAD(s.KeyID, aad))
	if err != nil {
		return nil, fmt.Errorf("key %q: %w", s.KeyID, ErrDecrypt)
	}
	return pt, nil
}

// NeedsRotation reports whether s is sealed under a key other than the newest.
func (k *Keyring) NeedsRotation(s Sealed) bool { return s.KeyID != k.newest }

// Rotate re-seals s under the newest key. It always decrypts first, so a value that would not
// open is reported rather than silently kept; a value already under the newest key is returned
// unchanged (no needless rewrite).
func (k *Keyring) Rotate(s Sealed, aad []byte) (Sealed, error) {
	pt, err := k.Decrypt(s, aad)
	if err != nil {
		return Sealed{}, err
	}
	defer clear(pt)
	if !k.NeedsRotation(s) {
		return s, nil
	}
	return k.Encrypt(pt, aad)
}

// Seal encrypts a Secret and returns the compact stored form.
func (k *Keyring) Seal(secret Secret, aad []byte) (string, error) {
	s, err := k.Encrypt([]byte(secret.Reveal()), aad)
	if err != nil {
		return "", err
	}
	return s.String(), nil
}

// Open parses a compact stored form and decrypts it into a Secret.
func (k *Keyring) Open(stored string, aad []byte) (Secret, error) {
	s, err := ParseSealed(stored)
	if err != nil {
		return "", err
	}
	pt, err := k.Decrypt(s, aad)
	if err != nil {
		return "", err
	}
	return Secret(pt), nil
}

// RotateStored is Rotate on the compact stored form; rotated says whether the value changed
// and must be written back.
func (k *Keyring) RotateStored(stored string, aad []byte) (out string, rotated bool, err error) {
	s, err := ParseSealed(stored)
	if err != nil {
		return "", false, err
	}
	r, err := k.Rotate(s, aad)
	if err != nil {
		return "", false, err
	}
	if r.KeyID == s.KeyID {
		return stored, false, nil
	}
	return r.String(), true, nil
}
