package secrets_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/osprey-strike/strike/internal/secrets"
)

const plaintext = "hunter2-very-secret"

type config struct {
	ClientID     string
	ClientSecret secrets.Secret
}

func TestSecretRedactedInFmt(t *testing.T) {
	t.Parallel()
	s := secrets.Secret(plaintext)
	cfg := config{ClientID: "id", ClientSecret: s}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10s"} {
		for name, arg := range map[string]any{"value": s, "pointer": &s, "struct": cfg, "struct pointer": &cfg} {
			got := fmt.Sprintf(verb, arg)
			if strings.Contains(got, plaintext) || strings.Contains(got, fmt.Sprintf("%x", plaintext)) {
				t.Errorf("Sprintf(%s, %s) = %q leaks the secret", verb, name, got)
			}
		}
	}
	if got := fmt.Sprint(s); got != secrets.Redacted {
		t.Errorf("Sprint = %q, want %q", got, secrets.Redacted)
	}
	if s.Reveal() != plaintext {
		t.Error("Reveal does not return the plaintext")
	}
}

func TestSecretRedactedInJSON(t *testing.T) {
	t.Parallel()
	s := secrets.Secret(plaintext)
	for name, v := range map[string]any{
		"value":  s,
		"struct": config{ClientSecret: s},
		"map":    map[string]secrets.Secret{"k": s},
		"slice":  []secrets.Secret{s},
	} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if bytes.Contains(b, []byte(plaintext)) || !bytes.Contains(b, []byte(secrets.Redacted)) {
			t.Errorf("json.Marshal(%s) = %s", name, b)
		}
	}
	text, _ := s.MarshalText()
	if string(text) != secrets.Redacted {
		t.Errorf("MarshalText = %q", text)
	}
}

func TestSecretRedactedInZerolog(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := zerolog.New(&buf)
	s := secrets.Secret(plaintext)
	log.Info().Interface("interface", s).Any("any", s).Stringer("stringer", s).
		Fields(map[string]any{"fields": s}).Interface("struct", config{ClientSecret: s}).
		Msgf("msgf %v %+v %#v", s, s, config{ClientSecret: s})
	ctxLog := log.With().Interface("ctx", s).Logger()
	ctxLog.Info().Msg("context")
	out := buf.String()
	if strings.Contains(out, plaintext) {
		t.Fatalf("zerolog output leaks the secret: %s", out)
	}
	if c := strings.Count(out, secrets.Redacted); c < 8 {
		t.Fatalf("expected every field redacted, found %d markers in %s", c, out)
	}
}
