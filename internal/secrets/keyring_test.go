package secrets_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/osprey-strike/strike/internal/secrets"
)

func mustKeyring(t *testing.T, spec string) *secrets.Keyring {
	t.Helper()
	kr, err := secrets.ParseKeyring(spec)
	if err != nil {
		t.Fatalf("ParseKeyring: %v", err)
	}
	return kr
}

func TestParseKeyring(t *testing.T) {
	t.Parallel()
	k1, k2 := secrets.GenerateKey(), secrets.GenerateKey()
	short := base64.StdEncoding.EncodeToString(make([]byte, 16))
	tests := []struct {
		name    string
		spec    string
		wantErr string // substring; "" means success
		newest  string
	}{
		{name: "single key", spec: "k1:" + k1, newest: "k1"},
		{name: "last listed is newest", spec: "old:" + k1 + ",new:" + k2, newest: "new"},
		{name: "whitespace and newlines tolerated", spec: " old:" + k1 + " ,\n new:" + k2 + "\n", newest: "new"},
		{name: "unpadded url-safe base64 accepted", spec: "k:" + base64.RawURLEncoding.EncodeToString(make([]byte, 32)), newest: "k"},
		{name: "empty", spec: "  ", wantErr: "empty"},
		{name: "empty entry", spec: "k1:" + k1 + ",", wantErr: "entry 2 is empty"},
		{name: "missing colon", spec: "k1" + k1, wantErr: "no ':'"},
		{name: "empty kid", spec: ":" + k1, wantErr: "key id is empty"},
		{name: "kid with bad characters", spec: "k/1:" + k1, wantErr: "only letters"},
		{name: "bad base64", spec: "k1:not*base64!", wantErr: "not valid base64"},
		{name: "wrong length", spec: "k1:" + short, wantErr: "16 bytes, want 32"},
		{name: "duplicate kid", spec: "k1:" + k1 + ",k1:" + k2, wantErr: `duplicate key id "k1"`},
		{name: "empty key", spec: "k1:", wantErr: "key is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			kr, err := secrets.ParseKeyring(tt.spec)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("want error containing %q, got nil", tt.wantErr)
				}
				if !errors.Is(err, secrets.ErrInvalidKeyring) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %q: want ErrInvalidKeyring containing %q", err, tt.wantErr)
				}
				for _, k := range []string{k1, k2} {
					if strings.Contains(err.Error(), k) {
						t.Fatalf("error echoes key material: %q", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseKeyring: %v", err)
			}
			if kr.NewestKeyID() != tt.newest {
				t.Fatalf("newest = %q, want %q", kr.NewestKeyID(), tt.newest)
			}
		})
	}
}

func TestKeyringNeverPrintsKeyMaterial(t *testing.T) {
	t.Parallel()
	raw := make([]byte, 32)
	for i := range raw {
		raw[i] = 0xAB
	}
	kr := mustKeyring(t, "k1:"+base64.StdEncoding.EncodeToString(raw))
	for _, s := range []string{kr.String(), kr.GoString()} {
		if !strings.Contains(s, "k1") || strings.Contains(s, base64.StdEncoding.EncodeToString(raw)) {
			t.Fatalf("keyring prints %q", s)
		}
	}
}

func TestEncryptDecrypt(t *testing.T) {
	t.Parallel()
	kr := mustKeyring(t, "k1:"+secrets.GenerateKey())
	aad := secrets.RenderSecretAAD("osp-a", "render-main", "https://r.example", "strike")
	plain := []byte("client-secret-value")

	t.Run("round trip", func(t *testing.T) {
		t.Parallel()
		s, err := kr.Encrypt(plain, aad)
		if err != nil {
			t.Fatal(err)
		}
		if s.KeyID != "k1" || bytes.Contains(s.Ciphertext, plain) {
			t.Fatalf("sealed = %+v", s)
		}
		got, err := kr.Decrypt(s, aad)
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("Decrypt = %q, %v", got, err)
		}
	})
	t.Run("fresh nonce each time", func(t *testing.T) {
		t.Parallel()
		a, _ := kr.Encrypt(plain, aad)
		b, _ := kr.Encrypt(plain, aad)
		if bytes.Equal(a.Nonce, b.Nonce) || bytes.Equal(a.Ciphertext, b.Ciphertext) {
			t.Fatal("two encryptions share nonce or ciphertext")
		}
	})
	t.Run("compact form round trip", func(t *testing.T) {
		t.Parallel()
		stored, err := kr.Seal(secrets.Secret(plain), aad)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(stored, "v1:k1:") || strings.Count(stored, ":") != 3 {
			t.Fatalf("stored form %q", stored)
		}
		got, err := kr.Open(stored, aad)
		if err != nil || got.Reveal() != string(plain) {
			t.Fatalf("Open = %v", err)
		}
	})
	t.Run("empty plaintext", func(t *testing.T) {
		t.Parallel()
		s, err := kr.Encrypt(nil, aad)
		if err != nil {
			t.Fatal(err)
		}
		got, err := kr.Decrypt(s, aad)
		if err != nil || len(got) != 0 {
			t.Fatalf("Decrypt = %q, %v", got, err)
		}
	})
}

func TestDecryptFailures(t *testing.T) {
	t.Parallel()
	kr := mustKeyring(t, "k1:"+secrets.GenerateKey())
	aad := secrets.RenderSecretAAD("osp-a", "render-main", "https://r.example", "strike")
	good, err := kr.Encrypt([]byte("client-secret-value"), aad)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(b []byte, i int) []byte {
		c := append([]byte(nil), b...)
		c[i] ^= 1
		return c
	}
	tests := []struct {
		name   string
		sealed secrets.Sealed
		aad    []byte
		want   error
	}{
		{"copied to another tenant's row", good, secrets.RenderSecretAAD("osp-b", "render-main", "https://r.example", "strike"), secrets.ErrDecrypt},
		{"copied to another instance", good, secrets.RenderSecretAAD("osp-a", "render-other", "https://r.example", "strike"), secrets.ErrDecrypt},
		{"another base URL", good, secrets.RenderSecretAAD("osp-a", "render-main", "https://evil.example", "strike"), secrets.ErrDecrypt},
		{"another client id", good, secrets.RenderSecretAAD("osp-a", "render-main", "https://r.example", "other"), secrets.ErrDecrypt},
		{"legacy binding (v1)", good, secrets.RenderSecretAADv1("osp-a", "render-main"), secrets.ErrDecrypt},
		{"no aad", good, nil, secrets.ErrDecrypt},
		{"ambiguous aad split", good, secrets.RenderSecretAAD("osp-ar", "ender-main", "https://r.example", "strike"), secrets.ErrDecrypt},
		{"tampered ciphertext", secrets.Sealed{KeyID: "k1", Nonce: good.Nonce, Ciphertext: flip(good.Ciphertext, 0)}, aad, secrets.ErrDecrypt},
		{"tampered tag", secrets.Sealed{KeyID: "k1", Nonce: good.Nonce, Ciphertext: flip(good.Ciphertext, len(good.Ciphertext)-1)}, aad, secrets.ErrDecrypt},
		{"tampered nonce", secrets.Sealed{KeyID: "k1", Nonce: flip(good.Nonce, 3), Ciphertext: good.Ciphertext}, aad, secrets.ErrDecrypt},
		{"unknown kid", secrets.Sealed{KeyID: "gone", Nonce: good.Nonce, Ciphertext: good.Ciphertext}, aad, secrets.ErrUnknownKey},
		{"short nonce", secrets.Sealed{KeyID: "k1", Nonce: good.Nonce[:8], Ciphertext: good.Ciphertext}, aad, secrets.ErrMalformed},
		{"short ciphertext", secrets.Sealed{KeyID: "k1", Nonce: good.Nonce, Ciphertext: good.Ciphertext[:4]}, aad, secrets.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := kr.Decrypt(tt.sealed, tt.aad)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Decrypt = %q, %v; want %v", got, err, tt.want)
			}
		})
	}
	t.Run("unknown kid error names the kid", func(t *testing.T) {
		t.Parallel()
		_, err := kr.Decrypt(secrets.Sealed{KeyID: "gone", Nonce: good.Nonce, Ciphertext: good.Ciphertext}, aad)
		if !strings.Contains(err.Error(), `"gone"`) || !strings.Contains(err.Error(), "k1") {
			t.Fatalf("error %q should name the missing kid and the keyring's kids", err)
		}
	})
	t.Run("key id swapped to another key", func(t *testing.T) {
		t.Parallel()
		kr2 := mustKeyring(t, "k1:"+secrets.GenerateKey()+",k2:"+secrets.GenerateKey())
		s, _ := kr2.Encrypt([]byte("x"), aad)
		s.KeyID = "k1"
		if _, err := kr2.Decrypt(s, aad); !errors.Is(err, secrets.ErrDecrypt) {
			t.Fatalf("Decrypt with swapped kid: %v", err)
		}
	})
}

func TestParseSealed(t *testing.T) {
	t.Parallel()
	kr := mustKeyring(t, "k1:"+secrets.GenerateKey())
	good, _ := kr.Encrypt([]byte("x"), nil)
	stored := good.String()
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"valid", stored, true},
		{"wrong version", "v2" + strings.TrimPrefix(stored, "v1"), false},
		{"too few fields", "v1:k1:abc", false},
		{"too many fields", stored + ":x", false},
		{"bad nonce base64", "v1:k1:!!!:" + strings.Split(stored, ":")[3], false},
		{"bad kid", "v1:k 1:" + strings.Join(strings.Split(stored, ":")[2:], ":"), false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := secrets.ParseSealed(tt.in)
			if tt.ok {
				if err != nil || s.String() != tt.in {
					t.Fatalf("ParseSealed = %v, %v", s, err)
				}
				return
			}
			if !errors.Is(err, secrets.ErrMalformed) {
				t.Fatalf("ParseSealed(%q) err = %v, want ErrMalformed", tt.in, err)
			}
		})
	}
	t.Run("text marshalling", func(t *testing.T) {
		t.Parallel()
		var s secrets.Sealed
		if err := s.UnmarshalText([]byte(stored)); err != nil {
			t.Fatal(err)
		}
		b, _ := s.MarshalText()
		if string(b) != stored {
			t.Fatalf("MarshalText = %q", b)
		}
	})
}

func TestRotation(t *testing.T) {
	t.Parallel()
	oldKey, newKey := secrets.GenerateKey(), secrets.GenerateKey()
	before := mustKeyring(t, "old:"+oldKey)
	after := mustKeyring(t, "old:"+oldKey+",new:"+newKey)
	onlyNew := mustKeyring(t, "new:"+newKey)
	aad := secrets.RenderSecretAAD("osp-a", "render-main", "https://r.example", "strike")

	sealed, err := before.Encrypt([]byte("s3cret"), aad)
	if err != nil {
		t.Fatal(err)
	}
	if before.NeedsRotation(sealed) {
		t.Fatal("value under the newest key needs rotation")
	}
	if !after.NeedsRotation(sealed) {
		t.Fatal("value under the old key does not need rotation after a new key was added")
	}
	if _, err := after.Decrypt(sealed, aad); err != nil {
		t.Fatalf("old key no longer decrypts: %v", err)
	}
	if s, _ := after.Encrypt([]byte("x"), aad); s.KeyID != "new" {
		t.Fatalf("encrypted under %q, want the newest key", s.KeyID)
	}

	rotated, err := after.Rotate(sealed, aad)
	if err != nil {
		t.Fatal(err)
	}
	if rotated.KeyID != "new" || after.NeedsRotation(rotated) {
		t.Fatalf("rotated under %q", rotated.KeyID)
	}
	pt, err := onlyNew.Decrypt(rotated, aad)
	if err != nil || string(pt) != "s3cret" {
		t.Fatalf("after dropping the old key: %q, %v", pt, err)
	}
	if _, err := onlyNew.Decrypt(sealed, aad); !errors.Is(err, secrets.ErrUnknownKey) {
		t.Fatalf("unrotated value after dropping the old key: %v, want ErrUnknownKey", err)
	}

	t.Run("already newest is unchanged", func(t *testing.T) {
		t.Parallel()
		again, err := after.Rotate(rotated, aad)
		if err != nil || again.String() != rotated.String() {
			t.Fatalf("Rotate of newest = %v, %v", again, err)
		}
		out, changed, err := after.RotateStored(rotated.String(), aad)
		if err != nil || changed || out != rotated.String() {
			t.Fatalf("RotateStored of newest = %q, %v, %v", out, changed, err)
		}
	})
	t.Run("stored form rotates", func(t *testing.T) {
		t.Parallel()
		out, changed, err := after.RotateStored(sealed.String(), aad)
		if err != nil || !changed || !strings.HasPrefix(out, "v1:new:") {
			t.Fatalf("RotateStored = %q, %v, %v", out, changed, err)
		}
	})
	t.Run("wrong binding is refused, not rotated", func(t *testing.T) {
		t.Parallel()
		if _, err := after.Rotate(sealed, secrets.RenderSecretAAD("osp-b", "render-main", "https://r.example", "strike")); !errors.Is(err, secrets.ErrDecrypt) {
			t.Fatalf("Rotate with wrong aad: %v", err)
		}
	})
}

func TestGenerateKey(t *testing.T) {
	t.Parallel()
	a, b := secrets.GenerateKey(), secrets.GenerateKey()
	if a == b {
		t.Fatal("two generated keys are equal")
	}
	raw, err := base64.StdEncoding.DecodeString(a)
	if err != nil || len(raw) != 32 {
		t.Fatalf("GenerateKey = %q (%d bytes, %v)", a, len(raw), err)
	}
}
