package kafkaclient

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Every consumer decides what to do about an error in one way (watermill's poison/retry split):
//
//   - the brokers refused the credentials, or the principal lacks an ACL: no retry can fix it,
//     so the component stops with an error naming what failed (Fatal), and its supervisor shows
//     it instead of a replica that retries forever;
//   - a failure marked Transient (PostgreSQL down, a produce that timed out, a transaction the
//     coordinator aborted): back off (Backoff) and try again;
//   - an input no retry can make valid (undecodable JSON, a schema violation): the record goes
//     to the DLQ with a reason (internal/dlq.Reason) and the consumer moves on; a handler
//     decides that per record, it never reaches the loop as an error;
//   - anything else stops the component: an unexpected error is a bug or a state (a fenced
//     transactional id) a restart must clear.

// Class is what a consumer does about an error.
type Class int

// The classes of Classify.
const (
	// Stop: the component stops with the error.
	Stop Class = iota
	// Retry: the component backs off and tries again.
	Retry
)

// errTransient marks an error a retry can fix (Transient).
var errTransient = errors.New("transient")

// Transient marks err as one a retry can fix; an authentication or authorization failure in it
// still stops the component. Transient(nil) is nil.
func Transient(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w: %w", errTransient, err)
}

// FatalError is an error no retry can fix: the brokers refused the credentials, or the
// principal lacks an ACL. Its message says which.
type FatalError struct{ Err error }

// Credentials reports whether the brokers refused the credentials; otherwise an ACL is missing.
func (e *FatalError) Credentials() bool {
	return errors.Is(e.Err, kerr.SaslAuthenticationFailed) || errors.Is(e.Err, kerr.IllegalSaslState) ||
		errors.Is(e.Err, kerr.UnsupportedSaslMechanism)
}

func (e *FatalError) Error() string {
	if e.Credentials() {
		return "kafka refused the credentials (check the SASL mechanism, user and password): " + e.Err.Error()
	}
	return "kafka refused an operation: the principal lacks an ACL it needs (strike kafka access --components prints them): " + e.Err.Error()
}

func (e *FatalError) Unwrap() error { return e.Err }

// authErrors are the broker answers that mean the credentials or the ACLs are wrong.
var authErrors = []error{
	kerr.SaslAuthenticationFailed, kerr.IllegalSaslState, kerr.UnsupportedSaslMechanism,
	kerr.TopicAuthorizationFailed, kerr.GroupAuthorizationFailed, kerr.ClusterAuthorizationFailed,
	kerr.TransactionalIDAuthorizationFailed, kerr.DelegationTokenAuthorizationFailed,
}

// Fatal returns err as a *FatalError when it is an authentication or authorization failure,
// and nil otherwise.
func Fatal(err error) error {
	var fe *FatalError
	if errors.As(err, &fe) {
		return fe
	}
	for _, a := range authErrors {
		if errors.Is(err, a) {
			return &FatalError{Err: err}
		}
	}
	return nil
}

// Classify says what a consumer does about err: Retry for a Transient error, Stop for an
// authentication or authorization failure (even inside a Transient one) and for anything
// unmarked.
func Classify(err error) Class {
	if Fatal(err) != nil || !errors.Is(err, errTransient) {
		return Stop
	}
	return Retry
}

// FetchError returns the first fetch error of fs that stops a consumer (Fatal), and logs the
// others, which the client retries itself. A poll's own deadline or cancellation is no error.
func FetchError(fs kgo.Fetches, log zerolog.Logger) error {
	var fatal error
	fs.EachError(func(t string, p int32, err error) {
		switch {
		case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		case Fatal(err) != nil:
			if fatal == nil {
				fatal = Fatal(fmt.Errorf("fetch %s[%d]: %w", t, p, err))
			}
		default:
			log.Warn().Err(err).Str("topic", t).Int32("partition", p).Msg("fetch error; the client retries it")
		}
	})
	return fatal
}

// Backoff is every consumer's retry schedule: 100 ms doubling to 10 s, with jitter, for as long
// as the failure lasts (what can succeed later is retried until it does or the consumer stops).
func Backoff() *backoff.ExponentialBackOff {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 100 * time.Millisecond
	b.MaxInterval = 10 * time.Second
	return b
}

// Wait sleeps d, or until ctx ends; false if ctx ended.
func Wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Loop is the consumer loop of every batch consumer: poll, stop on a fatal fetch error, hand
// the records to Handle, and classify what it returns. Run it once.
type Loop struct {
	// Name prefixes the errors Run returns (the component).
	Name string
	Log  zerolog.Logger
	// Poll returns the next fetches (PollRecords on the consumer's client or session).
	Poll func(context.Context) kgo.Fetches
	// Handle processes one non-empty batch. nil: done. A Transient error: Run backs off, then
	// either calls Handle again with the same records (SameBatch: nothing rewinds them) or
	// polls again (a transactional consumer whose abort rewound the offsets). Any other error
	// stops Run (Classify).
	Handle    func(context.Context, []*kgo.Record) error
	SameBatch bool
	// Idle, optional, runs after a poll that returned no records.
	Idle func(context.Context)
	// AfterPoll, optional, runs after each poll is handled and when Run returns (for example
	// AllowRebalance with BlockRebalanceOnPoll).
	AfterPoll func()
}

// Run loops until ctx ends or the client is closed (nil), or an error stops it.
func (l Loop) Run(ctx context.Context) error {
	retry := Backoff()
	for {
		err := l.once(ctx, retry)
		switch {
		case errors.Is(err, errClosed) || ctx.Err() != nil:
			return nil
		case err != nil:
			return fmt.Errorf("%s: %w", l.Name, err)
		}
	}
}

var errClosed = errors.New("client closed")

// once polls and handles one batch.
func (l Loop) once(ctx context.Context, retry *backoff.ExponentialBackOff) error {
	if l.AfterPoll != nil {
		defer l.AfterPoll()
	}
	fs := l.Poll(ctx)
	if fs.IsClientClosed() || ctx.Err() != nil {
		return errClosed
	}
	if err := FetchError(fs, l.Log); err != nil {
		return err
	}
	recs := fs.Records()
	if len(recs) == 0 {
		if l.Idle != nil {
			l.Idle(ctx)
		}
		return nil
	}
	for {
		err := l.Handle(ctx, recs)
		switch {
		case err == nil:
			retry.Reset()
			return nil
		case ctx.Err() != nil:
			return nil
		case Classify(err) == Stop:
			if fe := Fatal(err); fe != nil {
				return fe
			}
			return err
		}
		wait := retry.NextBackOff()
		l.Log.Warn().Err(err).Dur("retry_in", wait).Int("records", len(recs)).Msg("batch failed; retrying")
		if !Wait(ctx, wait) || !l.SameBatch {
			return nil
		}
	}
}
