package twiliosim

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/osprey-strike/strike/internal/twilio"
)

// Defaults applied by New to zero Config fields. All but DefaultHTTPTimeout
// are script time (scaled by TimeScale).
const (
	// DefaultDialDelay is the time from leaving the queue (initiated) to ringing.
	DefaultDialDelay = time.Second
	// DefaultPromptDuration is how long the prompt inside a Gather takes to
	// read; the Gather timeout counts from its end.
	DefaultPromptDuration = 3 * time.Second
	// DefaultSayDuration is how long a Say outside a Gather takes before
	// the call hangs up at the end of the document.
	DefaultSayDuration = time.Second
	// DefaultKeyDelay is the time from the start of a prompt to a key press.
	DefaultKeyDelay = 2 * time.Second
	// DefaultHTTPTimeout bounds each webhook request, like Twilio's 15 s.
	DefaultHTTPTimeout = 15 * time.Second
	// DefaultAddr is where Start listens.
	DefaultAddr = "127.0.0.1:0"
)

// Config configures a Sim.
type Config struct {
	// AccountSID and AuthToken are the main account's credentials: the only
	// ones the API accepts (HTTP basic auth), as for Strike in production.
	// The main account's webhooks are signed with AuthToken.
	AccountSID, AuthToken string
	// Subaccounts are the subaccount SIDs of the main account that may
	// appear as the path AccountSid. Each has its own auth token, which
	// signs its calls' webhooks (as Twilio does) and which the Accounts
	// resource serves to the main credentials.
	Subaccounts []string
	// SubaccountTokens optionally fixes the auth token of some subaccounts;
	// the others get a random token per Sim, never the main one.
	SubaccountTokens map[string]string
	// Addr is the listen address of Start; "" = DefaultAddr.
	Addr string
	// Clock plays calls out; nil = RealClock().
	Clock Clock
	// TimeScale multiplies every script duration (call Timeout, behaviour
	// delays, faults' Late, Dial/Prompt/Say/Key delays); 0 = 1. Durations
	// reported back (CallDuration) are in script time again. API latency
	// and CPS spacing are not scaled.
	TimeScale float64
	// Latency is added to every API response (wall clock).
	Latency time.Duration
	// CPS caps how many calls per second each account starts; excess calls
	// are queued (status queued) and started later, as Twilio does, never
	// refused. 0 = unlimited.
	CPS float64
	// Script says what each number does; Default is for the others (nil =
	// NoAnswer{}).
	Script  Script
	Default Behaviour
	// Faults apply to every call's status callbacks; NumberFaults to the
	// calls to one number.
	Faults       Faults
	NumberFaults map[string]Faults
	// Play-out delays; zero = the Default* constants.
	DialDelay, PromptDuration, SayDuration, KeyDelay time.Duration
	// HTTPClient sends webhooks; nil = a client with DefaultHTTPTimeout.
	HTTPClient *http.Client
	// OnCallCreated, if set, is called synchronously, before the API
	// responds, for every call created. Keep it fast (benchmarks record a
	// timestamp).
	OnCallCreated func(CallRecord)
}

func (cfg Config) withDefaults() Config {
	if cfg.Addr == "" {
		cfg.Addr = DefaultAddr
	}
	if cfg.Clock == nil {
		cfg.Clock = RealClock()
	}
	if cfg.TimeScale == 0 {
		cfg.TimeScale = 1
	}
	if cfg.Default == nil {
		cfg.Default = NoAnswer{}
	}
	if cfg.DialDelay == 0 {
		cfg.DialDelay = DefaultDialDelay
	}
	if cfg.PromptDuration == 0 {
		cfg.PromptDuration = DefaultPromptDuration
	}
	if cfg.SayDuration == 0 {
		cfg.SayDuration = DefaultSayDuration
	}
	if cfg.KeyDelay == 0 {
		cfg.KeyDelay = DefaultKeyDelay
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: DefaultHTTPTimeout}
	}
	return cfg
}

func (cfg Config) validate() error {
	var errs []error
	if !twilio.IsSID("AC", cfg.AccountSID) {
		errs = append(errs, errors.New("AccountSID must be \"AC\" followed by 32 hex digits"))
	}
	if cfg.AuthToken == "" {
		errs = append(errs, errors.New("AuthToken is required"))
	}
	for _, s := range cfg.Subaccounts {
		if !twilio.IsSID("AC", s) {
			errs = append(errs, fmt.Errorf("subaccount %q is not an account SID", s))
		}
	}
	for sid, tok := range cfg.SubaccountTokens {
		if !slices.Contains(cfg.Subaccounts, sid) || tok == "" {
			errs = append(errs, fmt.Errorf("SubaccountTokens[%q]: not a configured subaccount, or an empty token", sid))
		}
	}
	if cfg.TimeScale < 0 || cfg.CPS < 0 {
		errs = append(errs, errors.New("TimeScale and CPS must not be negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("twiliosim: invalid config: %w", err)
	}
	return nil
}
