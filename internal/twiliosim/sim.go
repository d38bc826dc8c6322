package twiliosim

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Sim is a Twilio simulator: a real HTTP server for the part of the
// 2010-04-01 Calls API Strike uses, which plays every call out over time and
// posts signed webhooks, as Twilio does. Use Handler with httptest, or
// Start/URL/Close for a listening server (`strike dev`).
type Sim struct {
	cfg   Config
	log   zerolog.Logger
	clock Clock

	// ctx ends every webhook in flight when the Sim closes.
	ctx    context.Context
	cancel context.CancelFunc

	// life guards closed and wg.Add: no goroutine starts after Close.
	life   sync.Mutex
	closed bool
	wg     sync.WaitGroup

	mu sync.Mutex
	// tokens holds the auth token of the main account and of each
	// subaccount: the set of accounts the API knows.
	tokens      map[string]string
	created     time.Time // the accounts' date_created
	script      Script
	numberFault map[string]Faults
	faults      Faults
	calls       map[string]*call
	order       []*call
	nextSlot    map[string]time.Time // per account: when the CPS queue frees
	numberCalls map[string]int       // per To number: calls so far (Sequence)
	failNext    []apiError
	failCreate  []int // FailAfterCreate: the status of each next created call's answer
	requests    int
	incoming    map[string]IncomingNumber // by number (inbound.go)

	server *http.Server
	url    string
}

// New validates cfg and returns a Sim that is not listening yet.
func New(cfg Config, log zerolog.Logger) (*Sim, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	s := &Sim{
		cfg:         cfg,
		log:         log.With().Str("component", "twiliosim").Logger(),
		clock:       cfg.Clock,
		ctx:         ctx,
		cancel:      cancel,
		tokens:      map[string]string{cfg.AccountSID: cfg.AuthToken},
		created:     cfg.Clock.Now(),
		script:      Script{},
		numberFault: map[string]Faults{},
		faults:      cfg.Faults,
		calls:       map[string]*call{},
		nextSlot:    map[string]time.Time{},
		numberCalls: map[string]int{},
	}
	for _, sub := range cfg.Subaccounts {
		tok, ok := cfg.SubaccountTokens[sub]
		if !ok {
			tok = newToken()
		}
		s.tokens[sub] = tok
	}
	for n, b := range cfg.Script {
		s.script[n] = b
	}
	for n, f := range cfg.NumberFaults {
		s.numberFault[n] = f
	}
	return s, nil
}

// Start listens on Config.Addr and serves Handler until Close or until ctx
// ends.
func (s *Sim) Start(ctx context.Context) error {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("twiliosim: listen %s: %w", s.cfg.Addr, err)
	}
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	s.life.Lock()
	if s.closed || s.server != nil {
		s.life.Unlock()
		_ = ln.Close()
		return errors.New("twiliosim: already started or closed")
	}
	s.server = srv
	s.url = "http://" + ln.Addr().String()
	s.wg.Add(1)
	s.life.Unlock()
	go func() {
		defer s.wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error().Err(err).Msg("twiliosim server stopped")
		}
	}()
	context.AfterFunc(ctx, func() { _ = s.Close() })
	s.log.Info().Str("url", s.url).Msg("twilio simulator listening")
	return nil
}

// URL is the base URL of a started Sim, for twilio.Config.BaseURL.
func (s *Sim) URL() string {
	s.life.Lock()
	defer s.life.Unlock()
	return s.url
}

// Close stops the server, every pending step of every call and every
// webhook in flight, and waits for the Sim's goroutines. Safe to call twice.
func (s *Sim) Close() error {
	s.life.Lock()
	if s.closed {
		s.life.Unlock()
		return nil
	}
	s.closed = true
	srv := s.server
	s.life.Unlock()

	s.mu.Lock()
	for _, c := range s.order {
		if c.timer != nil {
			c.timer.Stop()
		}
	}
	s.mu.Unlock()
	s.cancel()
	var err error
	if srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = srv.Shutdown(ctx)
		cancel()
	}
	s.wg.Wait()
	return err
}

// goTracked runs f in a goroutine Close waits for; false if closed.
func (s *Sim) goTracked(f func()) bool {
	s.life.Lock()
	defer s.life.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
	return true
}

func (s *Sim) isClosed() bool {
	s.life.Lock()
	defer s.life.Unlock()
	return s.closed
}

// SetBehaviour changes what number does on its next calls.
func (s *Sim) SetBehaviour(number string, b Behaviour) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script[number] = b
}

// SetFaults replaces the global callback faults for calls created from now on.
func (s *Sim) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
}

// SetNumberFaults replaces number's callback faults for its next calls.
func (s *Sim) SetNumberFaults(number string, f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.numberFault[number] = f
}

// FailNext makes the next n API requests answer status with Twilio error
// code (e.g. 500/20500, 503/20503, 429/20429), before authentication, as a
// failing Twilio edge would.
func (s *Sim) FailNext(n, status, code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failNext = append(s.failNext, apiError{Status: status, Code: code, Message: "Simulated failure"})
	}
}

// FailAfterCreate makes the next n Create Call requests that create a call
// create it (it plays out like any other) and then lose the answer: status 0
// drops the connection without an answer, as a network failure or a client
// timeout would; a 5xx status answers that status with Twilio error 20500.
// Twilio documents call creation as not idempotent
// (https://www.twilio.com/docs/voice/api/call-resource), so a client that
// retries after such a failure places the call twice.
func (s *Sim) FailAfterCreate(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failCreate = append(s.failCreate, status)
	}
}

// AuthToken is the auth token of account (main or subaccount), "" if the Sim
// does not know it. It signs the webhooks of that account's calls.
func (s *Sim) AuthToken(account string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokens[account]
}

// RotateAuthToken gives a subaccount a new random auth token, as promoting
// a secondary token in Twilio's Console does, and returns it. Webhooks signed
// from now on use it.
func (s *Sim) RotateAuthToken(sub string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.tokens[sub]; !ok || sub == s.cfg.AccountSID {
		panic("twiliosim: RotateAuthToken of " + sub + ": not a subaccount")
	}
	tok := newToken()
	s.tokens[sub] = tok
	return tok
}

// RequestCount is the number of API requests received so far, failed ones
// included.
func (s *Sim) RequestCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Calls returns every call the Sim accepted, in creation order.
func (s *Sim) Calls() []CallRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]CallRecord, len(s.order))
	for i, c := range s.order {
		out[i] = c.record()
	}
	return out
}

// Call returns one call by SID.
func (s *Sim) Call(sid string) (CallRecord, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.calls[sid]
	if !ok {
		return CallRecord{}, false
	}
	return c.record(), true
}

// AwaitCall blocks until the call has ended (any terminal status) and
// returns its record. Webhooks of the call may still be in flight; Close
// waits for those.
func (s *Sim) AwaitCall(ctx context.Context, sid string) (CallRecord, error) {
	s.mu.Lock()
	c, ok := s.calls[sid]
	s.mu.Unlock()
	if !ok {
		return CallRecord{}, fmt.Errorf("twiliosim: no call %s", sid)
	}
	select {
	case <-c.done:
	case <-ctx.Done():
		return CallRecord{}, fmt.Errorf("twiliosim: await call %s: %w", sid, ctx.Err())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return c.record(), nil
}

// scale converts a script duration to clock time.
func (s *Sim) scale(d time.Duration) time.Duration {
	return time.Duration(float64(d) * s.cfg.TimeScale)
}

// unscale converts clock time back to script time.
func (s *Sim) unscale(d time.Duration) time.Duration {
	return time.Duration(float64(d) / s.cfg.TimeScale)
}

// signingToken is the auth token account's webhooks are signed with: the
// account's own (https://www.twilio.com/docs/usage/webhooks/webhooks-security:
// the signature is computed with the AuthToken of the account that owns the
// call; a subaccount has its own token).
func (s *Sim) signingToken(account string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokens[account]
}

// newToken is a random 32-hex-digit auth token, shaped like Twilio's.
func newToken() string { return newSID("")[:32] }
