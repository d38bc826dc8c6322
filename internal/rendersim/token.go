package rendersim

import (
	"crypto/subtle"
	"math"
	"net/http"
	"net/url"
)

type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
}

// handleToken serves POST /{instance}/oauth/token (OAuth2 client credentials, RFC 6749 §4.4),
// accepting the client credentials in HTTP Basic auth or in the form.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	in, err := s.instance(r.PathValue("instance"))
	if err != nil {
		writeError(w, http.StatusNotFound, "not_found", "no such instance")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", "body must be a form")
		return
	}
	id, secret := clientCredentials(r)
	w.Header().Set("Cache-Control", "no-store")

	in.mu.Lock()
	defer in.mu.Unlock()
	in.stats.TokenRequests++
	if take(&in.faults.TokenServerErrors) {
		in.stats.Faults++
		writeError(w, http.StatusInternalServerError, "server_error", "simulated failure")
		return
	}
	if r.PostForm.Get("grant_type") != "client_credentials" {
		writeError(w, http.StatusBadRequest, "unsupported_grant_type", "only client_credentials is supported")
		return
	}
	idOK := subtle.ConstantTimeCompare([]byte(id), []byte(in.clientID)) == 1
	secretOK := subtle.ConstantTimeCompare([]byte(secret), []byte(in.secret)) == 1
	if !idOK || !secretOK {
		w.Header().Set("WWW-Authenticate", `Basic realm="render"`)
		writeError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return
	}
	now := s.clock.Now()
	tok := in.issueToken(now, s.cfg.TokenTTL)
	writeResponse(w, jsonResponse(http.StatusOK, tokenResponse{
		AccessToken: tok, TokenType: "Bearer",
		ExpiresIn: int64(math.Ceil(s.cfg.TokenTTL.Seconds())),
	}))
}

// clientCredentials reads the client id and secret from HTTP Basic auth (form-urlencoded
// inside, per RFC 6749 §2.3.1) or from the form body.
func clientCredentials(r *http.Request) (id, secret string) {
	if u, p, ok := r.BasicAuth(); ok {
		return unescape(u), unescape(p)
	}
	return r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
}

func unescape(s string) string {
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}
