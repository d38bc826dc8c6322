package twilio

import (
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

func TestNewValidatesConfig(t *testing.T) {
	const token = "s3cr3tT0ken"
	ok := Config{AccountSID: testAccount, AuthToken: token}
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantErr string
	}{
		{name: "accepts minimal config", mutate: func(*Config) {}},
		{name: "accepts a simulator base URL", mutate: func(c *Config) { c.BaseURL = "http://127.0.0.1:9999" }},
		{name: "rejects a bad account SID", mutate: func(c *Config) { c.AccountSID = "AC123" }, wantErr: "AccountSID"},
		{name: "rejects an empty token", mutate: func(c *Config) { c.AuthToken = "" }, wantErr: "AuthToken is required"},
		{name: "rejects a token twilio-go would refuse", mutate: func(c *Config) { c.AuthToken = "bad-token!" }, wantErr: "alphanumeric"},
		{name: "rejects a relative base URL", mutate: func(c *Config) { c.BaseURL = "localhost:80" }, wantErr: "BaseURL"},
		{name: "rejects a negative burst", mutate: func(c *Config) { c.Burst = -1 }, wantErr: "Burst"},
		{name: "rejects an override for a non-account", mutate: func(c *Config) { c.CPSOverrides = map[string]float64{"x": 1} }, wantErr: "CPSOverrides"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ok
			tt.mutate(&cfg)
			_, err := New(cfg, zerolog.Nop(), nil)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), token) {
				t.Fatal("error contains the auth token")
			}
		})
	}
}

func TestIsSID(t *testing.T) {
	for s, want := range map[string]bool{
		testAccount: true, testCall: false, "AC" + strings.Repeat("g", 32): false,
		"AC" + strings.Repeat("A", 32): true, "": false, "AC": false,
	} {
		if got := IsSID("AC", s); got != want {
			t.Errorf("IsSID(AC, %q) = %v, want %v", s, got, want)
		}
	}
}
