package main

import (
	"strings"
	"testing"

	"github.com/osprey-strike/strike/internal/secrets"
)

// The dev-only key is public (it is in the source): `strike run` refuses a keyring holding it,
// even as an older key. The admin commands accept it only as an older key, so rotate-keys can
// move secrets off it; they never seal new secrets under it. Not parallel: process environment.
func TestRunRefusesTheDevOnlyKey(t *testing.T) {
	real := "k1:" + secrets.GenerateKey()
	dev := devSecretKeys
	for _, keys := range []string{dev, real + "," + dev, dev + "," + real} {
		t.Setenv(secrets.EnvKeys, keys)
		out, err := runRenderAdminCLI(t, "", "run", "render-poller", "--database-url", "postgres://nobody@127.0.0.1:1/none")
		if err == nil || !strings.Contains(err.Error(), secrets.DevKeyID) || !strings.Contains(err.Error(), "rotate-keys") {
			t.Errorf("%s=<%d keys>: strike run render-poller: err %v, want a refusal naming %q and rotate-keys\n%s",
				secrets.EnvKeys, strings.Count(keys, ",")+1, err, secrets.DevKeyID, out)
		}
		if strings.Contains(out, "ZGV2") || (err != nil && strings.Contains(err.Error(), "ZGV2")) {
			t.Error("the refusal shows key material")
		}
	}
	for _, c := range []struct {
		keys string
		use  keyringUse
		ok   bool
	}{
		{dev, keyringRun, false},
		{real + "," + dev, keyringRun, false},
		{real, keyringRun, true},
		{dev, keyringAdmin, false},              // newest: would seal new secrets under a public key
		{real + "," + dev, keyringAdmin, false}, // newest again
		{dev + "," + real, keyringAdmin, true},  // older: rotate-keys moves secrets off it
		{dev, keyringDev, true},                 // strike dev
		{"", keyringDev, true},                  // strike dev's fallback
	} {
		t.Setenv(secrets.EnvKeys, c.keys)
		_, err := keyring(c.use, func(string) {})
		if (err == nil) != c.ok {
			t.Errorf("keyring(%v) with %d keys (dev last: %v): err %v, want ok %v", c.use, strings.Count(c.keys, ",")+1,
				strings.HasSuffix(c.keys, dev), err, c.ok)
		}
	}
}
