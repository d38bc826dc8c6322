package dialer_test

import (
	"testing"

	"github.com/rs/zerolog"

	"github.com/osprey-strike/strike/consumers/dialer"
	"github.com/osprey-strike/strike/schemas"
)

func TestNewRejectsIncompleteConfig(t *testing.T) {
	t.Parallel()
	v, err := schemas.NewValidator()
	must(t, err)
	full := dialer.Deps{Store: dialer.PGStore{}, Twilio: nilCaller{}, Validator: v, Log: zerolog.Nop()}
	tests := []struct {
		name string
		deps dialer.Deps
		cfg  dialer.Config
		want string
	}{
		{"no brokers", full, dialer.Config{WebhookBase: "http://x"}, "dialer: no Kafka brokers configured"},
		{"no webhook base", full, dialer.Config{Brokers: "b"}, "dialer: WebhookBase (the public base URL of the Twilio webhooks) is required"},
		{"no Twilio", dialer.Deps{Store: dialer.PGStore{}, Validator: v}, dialer.Config{Brokers: "b", WebhookBase: "http://x"}, "dialer: Store, Twilio and Validator are required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := dialer.New(tt.deps, tt.cfg)
			if err == nil || err.Error() != tt.want {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
	if _, err := dialer.New(full, dialer.Config{Brokers: "b", WebhookBase: "http://x"}); err != nil {
		t.Errorf("complete config refused: %v", err)
	}
}

type nilCaller struct{ dialer.Caller }
