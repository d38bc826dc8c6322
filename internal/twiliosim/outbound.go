package twiliosim

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/osprey-strike/strike/internal/twilio"
)

// outbound is one webhook request the Sim makes.
type outbound struct {
	url, method, account string
	params               map[string]string
	// idempotency is sent as I-Twilio-Idempotency-Token, the same on a
	// duplicated delivery, as Twilio does on its retries.
	idempotency string
}

// send makes the request, signed like Twilio's: X-Twilio-Signature over the
// URL and the POST params (GET: over the URL with the params in its query)
// with the account's signing token. It returns the body of a 2xx answer.
func (s *Sim) send(o outbound) ([]byte, error) {
	token := s.signingToken(o.account)
	var (
		req *http.Request
		err error
	)
	if o.method == http.MethodGet {
		u, perr := url.Parse(o.url)
		if perr != nil {
			return nil, fmt.Errorf("webhook URL: %w", perr)
		}
		q := u.Query()
		for k, v := range o.params {
			q.Set(k, v)
		}
		u.RawQuery = q.Encode()
		full := u.String()
		req, err = http.NewRequestWithContext(s.ctx, http.MethodGet, full, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set(twilio.SignatureHeader, twilio.Sign(token, full, nil))
	} else {
		form := url.Values{}
		for k, v := range o.params {
			form.Set(k, v)
		}
		req, err = http.NewRequestWithContext(s.ctx, http.MethodPost, o.url, strings.NewReader(form.Encode()))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set(twilio.SignatureHeader, twilio.Sign(token, o.url, o.params))
	}
	req.Header.Set("User-Agent", "TwilioProxy/1.1")
	if o.idempotency != "" {
		req.Header.Set("I-Twilio-Idempotency-Token", o.idempotency)
	}
	res, err := s.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxTwiML+1))
	if err != nil {
		return nil, fmt.Errorf("webhook %s: read answer: %w", o.url, err)
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return nil, fmt.Errorf("webhook %s answered %d", o.url, res.StatusCode)
	}
	return body, nil
}

// outbox delivers one call's webhooks of one kind in order, one at a time,
// from a goroutine that exists only while there is work.
type outbox struct {
	mu      sync.Mutex
	q       []func()
	running bool
}

// enqueue adds f to q and starts its drainer if idle. Safe with s.mu held.
func (s *Sim) enqueue(q *outbox, f func()) {
	q.mu.Lock()
	q.q = append(q.q, f)
	if q.running {
		q.mu.Unlock()
		return
	}
	q.running = true
	q.mu.Unlock()
	if !s.goTracked(func() { drain(q) }) {
		q.mu.Lock()
		q.running, q.q = false, nil
		q.mu.Unlock()
	}
}

func drain(q *outbox) {
	for {
		q.mu.Lock()
		if len(q.q) == 0 {
			q.running = false
			q.mu.Unlock()
			return
		}
		f := q.q[0]
		q.q = q.q[1:]
		q.mu.Unlock()
		f()
	}
}
