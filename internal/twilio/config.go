package twilio

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"time"
)

// Defaults applied by New to zero Config fields.
const (
	// DefaultCPS is Twilio's default calls-per-second allowance for each
	// account and subaccount; calls above it are queued by Twilio.
	DefaultCPS = 1.0
	// DefaultBurst lets one call through at once, matching DefaultCPS.
	DefaultBurst = 1
	// DefaultRetryMaxElapsed bounds how long one operation retries
	// rate-limit, 5xx and transport errors before giving up.
	DefaultRetryMaxElapsed = 30 * time.Second
	// DefaultRetryInitialInterval is the first backoff pause.
	DefaultRetryInitialInterval = 250 * time.Millisecond
	// DefaultRetryMaxInterval caps a single backoff pause.
	DefaultRetryMaxInterval = 5 * time.Second
	// DefaultCredentialsHold is how long CreateCall fails fast for an
	// account after Twilio rejected the credentials, before one request is
	// allowed through again to see whether the problem is fixed.
	DefaultCredentialsHold = time.Minute
	// DefaultHTTPTimeout is twilio-go's own default request timeout.
	DefaultHTTPTimeout = 10 * time.Second
)

// Config configures a Client. Strike owns one set of main credentials; the
// subaccount is chosen per call.
type Config struct {
	// AccountSID is the main account SID ("AC" + 32 hex), the basic-auth user.
	AccountSID string
	// AuthToken is the main account's auth token. Never logged.
	AuthToken string
	// BaseURL is "" for the real Twilio API (https://api.twilio.com) or the
	// scheme://host[:port][/prefix] of a simulator such as internal/twiliosim.
	BaseURL string
	// Edge and Region select a Twilio edge location/processing region
	// (e.g. "sydney", "au1"). Empty means Twilio's default (us1). They are
	// explicit here so TWILIO_EDGE/TWILIO_REGION in the environment never
	// change where Strike calls without a config change.
	Edge, Region string
	// HTTPClient sends the API requests; nil means a client with
	// DefaultHTTPTimeout that does not follow redirects (twilio-go's default).
	HTTPClient *http.Client
	// CPS is the calls-per-second limit of each account/subaccount. 0 means
	// DefaultCPS; a negative value means unlimited (benchmarks).
	CPS float64
	// Burst is how many calls may start at once per account; 0 = DefaultBurst.
	Burst int
	// CPSOverrides sets CPS for specific account/subaccount SIDs whose limit
	// Twilio raised. Same sign conventions as CPS.
	CPSOverrides map[string]float64
	// RetryMaxElapsed bounds retries of one operation; 0 = DefaultRetryMaxElapsed.
	RetryMaxElapsed time.Duration
	// RetryInitialInterval is the first backoff pause; 0 = DefaultRetryInitialInterval.
	RetryInitialInterval time.Duration
	// RetryMaxInterval caps one pause; 0 = DefaultRetryMaxInterval.
	RetryMaxInterval time.Duration
	// CredentialsHold is how long CreateCall refuses to call an account after
	// a credentials error; 0 = DefaultCredentialsHold, negative = no hold.
	CredentialsHold time.Duration
}

// withDefaults returns cfg with zero fields set to their defaults.
func (cfg Config) withDefaults() Config {
	if cfg.CPS == 0 {
		cfg.CPS = DefaultCPS
	}
	if cfg.Burst == 0 {
		cfg.Burst = DefaultBurst
	}
	if cfg.RetryMaxElapsed == 0 {
		cfg.RetryMaxElapsed = DefaultRetryMaxElapsed
	}
	if cfg.RetryInitialInterval == 0 {
		cfg.RetryInitialInterval = DefaultRetryInitialInterval
	}
	if cfg.RetryMaxInterval == 0 {
		cfg.RetryMaxInterval = DefaultRetryMaxInterval
	}
	if cfg.CredentialsHold == 0 {
		cfg.CredentialsHold = DefaultCredentialsHold
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{
			Timeout: DefaultHTTPTimeout,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		}
	}
	return cfg
}

// validate reports the first problem with cfg. Messages never contain the
// auth token.
func (cfg Config) validate() (*url.URL, error) {
	var errs []error
	if !IsSID("AC", cfg.AccountSID) {
		errs = append(errs, errors.New("AccountSID must be \"AC\" followed by 32 hex digits"))
	}
	if cfg.AuthToken == "" {
		errs = append(errs, errors.New("AuthToken is required"))
	} else if !isAlnum(cfg.AuthToken) {
		// twilio-go refuses non-alphanumeric credentials on every request
		// (its error 21224); refuse them here, once, instead.
		errs = append(errs, errors.New("AuthToken must be alphanumeric"))
	}
	if math.IsNaN(cfg.CPS) || cfg.Burst < 0 {
		errs = append(errs, errors.New("CPS must be a number and Burst >= 0"))
	}
	for sid, cps := range cfg.CPSOverrides {
		if !IsSID("AC", sid) || math.IsNaN(cps) {
			errs = append(errs, fmt.Errorf("CPSOverrides[%q]: invalid account SID or CPS", sid))
		}
	}
	var base *url.URL
	if cfg.BaseURL != "" {
		u, err := url.Parse(cfg.BaseURL)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("BaseURL: %w", err))
		case (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "":
			errs = append(errs, fmt.Errorf("BaseURL %q must be an absolute http(s) URL without query", cfg.BaseURL))
		default:
			base = u
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("twilio: invalid config: %w", err)
	}
	return base, nil
}

// IsSID reports whether s is a Twilio SID with the given two-letter prefix
// ("AC" account, "CA" call): the prefix followed by 32 hex digits.
func IsSID(prefix, s string) bool {
	if len(s) != 34 || s[:2] != prefix {
		return false
	}
	for i := 2; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

func isAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}
