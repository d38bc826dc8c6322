package twilio

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync/atomic"

	"github.com/twilio/twilio-go/client"
)

// requestTransport binds one request to the caller's context and records
// the HTTP status it saw.
//
// twilio-go's client.Client.SendRequest builds every request with
// context.Background(); the only place a context can be attached without
// forking it is the RoundTripper. The http.Client's own Timeout still applies:
// for a custom RoundTripper net/http enforces it through Request.Cancel, which
// WithContext keeps.
//
// The recorded status lets classify tell a bare 502/503 (whose body is not a
// Twilio error, so twilio-go returns a decoding error) from a transport error.
//
// sent records whether the request may have reached Twilio: with an
// *http.Transport, once a connection was obtained for it (httptrace GotConn);
// with any other RoundTripper, as soon as it is handed over (we cannot see
// further). CreateCall retries a transport failure only when nothing was sent.
type requestTransport struct {
	ctx    context.Context
	next   http.RoundTripper
	status int
	sent   atomic.Bool
}

func (t *requestTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := t.ctx
	if _, ok := t.next.(*http.Transport); ok {
		ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
			GotConn: func(httptrace.GotConnInfo) { t.sent.Store(true) },
		})
	} else {
		t.sent.Store(true)
	}
	res, err := t.next.RoundTrip(req.WithContext(ctx))
	if res != nil {
		t.status = res.StatusCode
	}
	return res, err
}

// isDialError reports whether err is a failure to reach Twilio at all: DNS
// resolution, a refused or unreachable connection, or a proxy that could not
// connect. No byte of the request left, so no call can have been created.
func isDialError(err error) bool {
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return true
	}
	var op *net.OpError
	return errors.As(err, &op) && (op.Op == "dial" || op.Op == "proxyconnect")
}

// rebaseClient is a client.BaseClient that sends twilio-go's requests to a
// different base URL (a simulator). twilio-go's ApiService hard-codes
// https://api.twilio.com; BaseClient is the supported hook between URL
// building and sending, so we swap scheme and host there and delegate
// everything else — auth, encoding, error decoding — to twilio-go.
type rebaseClient struct {
	*client.Client
	base *url.URL
}

func (r *rebaseClient) SendRequest(method, rawURL string, data url.Values,
	headers map[string]interface{}, body ...byte) (*http.Response, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	u.Scheme, u.Host = r.base.Scheme, r.base.Host
	u.Path = strings.TrimSuffix(r.base.Path, "/") + u.Path
	u.RawPath = ""
	return r.Client.SendRequest(method, u.String(), data, headers, body...)
}
