package render

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/osprey-strike/strike/internal/secrets"
)

// Defaults for InstanceConfig's zero fields.
const (
	DefaultTimeout        = 10 * time.Second
	DefaultPageSize       = 100
	DefaultMaxRetries     = 3
	DefaultMaxPages       = 1000
	DefaultBackoffInitial = 250 * time.Millisecond
	DefaultBackoffMax     = 5 * time.Second
	DefaultMaxRetryAfter  = 30 * time.Second
	// MaxPageSize bounds PageSize; Render may cap it lower.
	MaxPageSize = 1000
	// maxBody bounds one response body; anything bigger is ErrMalformed.
	maxBody = 16 << 20
)

// InstanceConfig is one Render instance as Strike stores it for an OSP (the secret decrypted).
// Printing it is safe: ClientSecret redacts itself.
type InstanceConfig struct {
	// BaseURL is the instance's API root, e.g. https://acme.render.example or
	// http://127.0.0.1:8089/acme for the simulator; endpoints are appended to it. It must be
	// https, except on a loopback address or localhost.
	BaseURL      string
	ClientID     string
	ClientSecret secrets.Secret
	// Timeout bounds each HTTP attempt, token fetches included (default 10 s).
	Timeout time.Duration
	// PageSize is the page_size asked for (default 100, at most 1000).
	PageSize int
	// MaxRetries is how many times a failed attempt is retried (default 3; negative: never).
	MaxRetries int
	// MaxPages bounds one ChangedJobs read (default 1000); more is ErrMalformed, as a feed
	// that never ends is indistinguishable from a page-token loop.
	MaxPages int
	// BackoffInitial and BackoffMax shape the exponential backoff between retries
	// (defaults 250 ms and 5 s, ×2 per retry, ±50 % jitter).
	BackoffInitial time.Duration
	BackoffMax     time.Duration
	// MaxRetryAfter is the longest 429 Retry-After waited for inside a call (default 30 s);
	// longer ones return ErrRateLimited at once for the caller to schedule.
	MaxRetryAfter time.Duration
	// Now is the clock used for token expiry (default time.Now); tests share the simulator's.
	Now func() time.Time
}

func (c InstanceConfig) withDefaults() InstanceConfig {
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.PageSize <= 0 {
		c.PageSize = DefaultPageSize
	}
	c.PageSize = min(c.PageSize, MaxPageSize)
	switch {
	case c.MaxRetries == 0:
		c.MaxRetries = DefaultMaxRetries
	case c.MaxRetries < 0:
		c.MaxRetries = 0
	}
	if c.MaxPages <= 0 {
		c.MaxPages = DefaultMaxPages
	}
	if c.BackoffInitial <= 0 {
		c.BackoffInitial = DefaultBackoffInitial
	}
	if c.BackoffMax <= 0 {
		c.BackoffMax = DefaultBackoffMax
	}
	c.BackoffMax = max(c.BackoffMax, c.BackoffInitial)
	if c.MaxRetryAfter <= 0 {
		c.MaxRetryAfter = DefaultMaxRetryAfter
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// validate checks what New needs; it never mentions the secret's value.
func (c InstanceConfig) validate() (*url.URL, error) {
	var errs []error
	u, err := url.Parse(strings.TrimRight(c.BaseURL, "/"))
	switch {
	case c.BaseURL == "":
		errs = append(errs, errors.New("base URL is required"))
	case err != nil:
		errs = append(errs, errors.New("base URL does not parse"))
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
		errs = append(errs, fmt.Errorf("base URL must be absolute https, got scheme %q", u.Scheme))
	case u.Scheme == "http" && !loopback(u.Hostname()):
		// The client secret and tokens would cross the network in clear text.
		errs = append(errs, errors.New("base URL must be https (http is allowed only on loopback, for the simulator)"))
	case u.RawQuery != "" || u.Fragment != "":
		errs = append(errs, errors.New("base URL must not have a query or fragment"))
	case u.User != nil:
		errs = append(errs, errors.New("base URL must not carry credentials"))
	}
	if c.ClientID == "" {
		errs = append(errs, errors.New("client id is required"))
	}
	if c.ClientSecret.IsZero() {
		errs = append(errs, errors.New("client secret is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("render: instance config: %w", err)
	}
	return u, nil
}

// loopback reports whether host is localhost or a loopback IP address: the only hosts a base
// URL may reach over plain http.
func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}
