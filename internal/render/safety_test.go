package render_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rs/zerolog"

	"github.com/osprey-strike/strike/internal/render"
)

// The client secret travels only over TLS: http:// is refused except on loopback (the
// simulator in dev and tests).
func TestBaseURLMustBeHTTPSOutsideLoopback(t *testing.T) {
	t.Parallel()
	for url, ok := range map[string]bool{
		"https://acme.render.example":    true,
		"http://acme.render.example":     false,
		"http://10.0.0.7:8080/acme":      false,
		"http://127.0.0.1:8089/acme":     true,
		"http://127.9.9.9:8089":          true,
		"http://localhost:8089/acme":     true,
		"http://[::1]:8089/acme":         true,
		"http://localhost.evil.example":  false,
		"http://127.0.0.1.nip.io:8089/x": false,
		"ftp://acme.render.example/x":    false,
	} {
		_, err := render.New(render.InstanceConfig{BaseURL: url, ClientID: "id", ClientSecret: "s3cret"}, nil, zerolog.Nop())
		if (err == nil) != ok {
			t.Errorf("New(%s): err %v, want ok %v", url, err, ok)
		}
		if err != nil && !ok && strings.HasPrefix(url, "http://") && !strings.Contains(err.Error(), "https") {
			t.Errorf("New(%s): error %q does not say https is needed", url, err)
		}
	}
}

// A redirect from the token endpoint is not followed: the credentials never reach where it
// points, and the answer is an error.
func TestTokenRequestFollowsNoRedirect(t *testing.T) {
	t.Parallel()
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"access_token":"stolen","token_type":"bearer","expires_in":3600}`))
	}))
	defer other.Close()
	render307 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/oauth/token", http.StatusTemporaryRedirect)
	}))
	defer render307.Close()
	c, err := render.New(render.InstanceConfig{BaseURL: render307.URL, ClientID: "id", ClientSecret: "s3cret", MaxRetries: -1}, nil, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ChangedJobs(context.Background(), "")
	if err == nil {
		t.Fatal("a redirected token request succeeded")
	}
	if errors.Is(err, render.ErrUnavailable) {
		t.Errorf("a redirect is not a transient failure: %v", err)
	}
	if n := elsewhere.Load(); n != 0 {
		t.Fatalf("the token request followed the redirect: %d requests reached the other server", n)
	}
}
