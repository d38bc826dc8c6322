package render

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/osprey-strike/strike/internal/secrets"
)

// maxExpirySkew is how early a token is renewed at most: a tenth of its lifetime, capped here,
// so a request never leaves with a token about to expire in flight.
const maxExpirySkew = 10 * time.Second

// tokenCache holds the instance's current bearer token. The token is a secrets.Secret so that
// printing the Client cannot leak it.
type tokenCache struct {
	mu     sync.Mutex
	token  secrets.Secret
	expiry time.Time // zero: no expiry given, use until refused
}

// token returns a live token, fetching one when there is none or it is about to expire.
// Concurrent callers wait for one fetch instead of each fetching.
func (c *Client) token(ctx context.Context) (secrets.Secret, error) {
	c.tok.mu.Lock()
	defer c.tok.mu.Unlock()
	if c.tok.token != "" && (c.tok.expiry.IsZero() || c.cfg.Now().Before(c.tok.expiry)) {
		return c.tok.token, nil
	}
	c.tok.token = ""
	cc := clientcredentials.Config{
		ClientID:     c.cfg.ClientID,
		ClientSecret: c.cfg.ClientSecret.Reveal(),
		TokenURL:     c.tokenURL,
		AuthStyle:    oauth2.AuthStyleInHeader, // HTTP Basic, RFC 6749 §2.3.1
	}
	actx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	start := c.cfg.Now()
	t, err := cc.Token(context.WithValue(actx, oauth2.HTTPClient, c.tokenHTTP))
	if err != nil {
		return "", c.tokenError(ctx, actx, err)
	}
	var ttl time.Duration
	switch {
	case t.ExpiresIn > 0:
		ttl = time.Duration(min(t.ExpiresIn, maxRetryAfterSeconds)) * time.Second
	case !t.Expiry.IsZero():
		ttl = time.Until(t.Expiry)
	}
	c.tok.token = secrets.Secret(t.AccessToken)
	c.tok.expiry = time.Time{}
	if ttl > 0 {
		c.tok.expiry = start.Add(ttl - min(ttl/10, maxExpirySkew))
	}
	c.log.Debug().Dur("expires_in", ttl).Msg("render token fetched")
	return c.tok.token, nil
}

// invalidate drops tok if it is still the cached token (another caller may have replaced it).
func (c *Client) invalidate(tok secrets.Secret) {
	c.tok.mu.Lock()
	defer c.tok.mu.Unlock()
	if c.tok.token == tok {
		c.tok.token = ""
	}
}

// currentToken is for scrubbing error text.
func (c *Client) currentToken() secrets.Secret {
	c.tok.mu.Lock()
	defer c.tok.mu.Unlock()
	return c.tok.token
}

// tokenError classifies a token-endpoint failure for the retry loop, building the message
// itself: oauth2's own error text may quote the response body.
func (c *Client) tokenError(ctx, actx context.Context, err error) error {
	const where = "POST /oauth/token"
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		var header http.Header
		if re.Response != nil {
			status, header = re.Response.StatusCode, re.Response.Header
		}
		code := errorCode([]byte(fmt.Sprintf(`{"error":%q}`, re.ErrorCode)))
		switch {
		case status == http.StatusTooManyRequests:
			return c.rateLimited(ctx, where, header)
		case status >= 500 || status == http.StatusRequestTimeout:
			return fmt.Errorf("%w: %s: HTTP %d", ErrUnavailable, where, status)
		case status == http.StatusBadRequest || status == http.StatusUnauthorized || status == http.StatusForbidden:
			return backoff.Permanent(fmt.Errorf("%w: %s: client credentials refused (HTTP %d %s)", ErrUnauthorized, where, status, code))
		default:
			return backoff.Permanent(fmt.Errorf("%w: %s: HTTP %d %s", ErrRejected, where, status, code))
		}
	}
	if cerr := ctx.Err(); cerr != nil {
		return backoff.Permanent(fmt.Errorf("%s: %w", where, cerr))
	}
	if actx.Err() != nil {
		return fmt.Errorf("%w: %s: timed out after %s", ErrUnavailable, where, c.cfg.Timeout)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%w: %s: %v", ErrUnavailable, where, ue.Err)
	}
	// Anything else is oauth2 failing to read or parse a 2xx answer.
	return backoff.Permanent(malformed("%s: token answer unreadable", where))
}
