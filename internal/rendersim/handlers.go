package rendersim

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// response is what a request gets, decided under the instance lock and written after it is
// released, so a hanging or slow response never blocks the instance.
type response struct {
	status   int
	body     []byte
	header   http.Header
	hang     bool          // Timeouts fault: never answer
	delay    time.Duration // SlowPages fault
	truncate bool          // Truncated fault
}

func jsonResponse(status int, v any) response {
	b, err := json.Marshal(v)
	if err != nil { // cannot happen with the types used here
		return errorResponse(http.StatusInternalServerError, "internal", err.Error())
	}
	return response{status: status, body: b}
}

type errorBody struct {
	Error   string   `json:"error"`
	Message string   `json:"message,omitempty"`
	Job     *wireJob `json:"job,omitempty"`
}

func errorResponse(status int, code, msg string) response {
	return jsonResponse(status, errorBody{Error: code, Message: msg})
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeResponse(w, errorResponse(status, code, msg))
}

func writeResponse(w http.ResponseWriter, resp response) {
	for k, v := range resp.header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(resp.body)))
	w.WriteHeader(resp.status)
	_, _ = w.Write(resp.body)
}

// endpoint kinds, for the request counters.
type endpoint int

const (
	endpointList endpoint = iota
	endpointCreate
	endpointGet
)

type apiHandler func(in *instance, r *http.Request, now time.Time) response

// api wraps a jobs endpoint with instance lookup, counting, token check and fault injection.
func (s *Server) api(kind endpoint, h apiHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		in, err := s.instance(r.PathValue("instance"))
		if err != nil {
			writeError(w, http.StatusNotFound, "not_found", "no such instance")
			return
		}
		s.write(w, r, s.prepare(in, kind, r, h))
	}
}

func (s *Server) prepare(in *instance, kind endpoint, r *http.Request, h apiHandler) response {
	in.mu.Lock()
	defer in.mu.Unlock()
	now := s.clock.Now()
	in.advance(now)
	q := r.URL.Query()
	switch {
	case kind == endpointCreate:
		in.stats.Creates++
	case kind == endpointGet || q.Get("external_ref") != "":
		in.stats.Gets++
	default:
		in.stats.Pages++
		if q.Get("page_token") == "" {
			in.notePoll(now)
		}
	}

	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || !in.tokenValid(tok, now) {
		in.stats.Unauthorized++
		return unauthorized("missing, unknown or expired token")
	}
	f := &in.faults
	if take(&f.ExpiredTokens) {
		delete(in.tokens, tok)
		in.stats.Unauthorized++
		in.stats.Faults++
		return unauthorized("token expired")
	}
	switch {
	case take(&f.Timeouts):
		in.stats.Faults++
		return response{hang: true}
	case take(&f.RateLimits):
		in.stats.Faults++
		resp := errorResponse(http.StatusTooManyRequests, "rate_limited", "slow down")
		if f.RetryAfter != "" {
			resp.header = http.Header{"Retry-After": {f.RetryAfter}}
		}
		return resp
	case take(&f.ServerErrors):
		in.stats.Faults++
		return errorResponse(http.StatusInternalServerError, "internal", "simulated failure")
	}

	resp := h(in, r, now)
	if kind == endpointList && f.SlowPages > 0 {
		resp.delay = f.SlowPages
	}
	switch {
	case take(&f.Malformed):
		in.stats.Faults++
		resp.body = resp.body[:len(resp.body)/2] // half a JSON object is never valid JSON
	case take(&f.Truncated):
		in.stats.Faults++
		resp.truncate = true
	}
	return resp
}

func unauthorized(msg string) response {
	resp := errorResponse(http.StatusUnauthorized, "invalid_token", msg)
	resp.header = http.Header{"Www-Authenticate": {`Bearer error="invalid_token"`}}
	return resp
}

// write sends resp, honouring the hang, delay and truncate faults.
func (s *Server) write(w http.ResponseWriter, r *http.Request, resp response) {
	if resp.hang {
		select {
		case <-r.Context().Done():
		case <-s.closed:
			writeError(w, http.StatusServiceUnavailable, "shutting_down", "simulator closed")
		}
		return
	}
	if resp.delay > 0 {
		t := time.NewTimer(resp.delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return
		case <-s.closed:
			writeError(w, http.StatusServiceUnavailable, "shutting_down", "simulator closed")
			return
		}
	}
	if !resp.truncate {
		writeResponse(w, resp)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(resp.body)))
	w.WriteHeader(resp.status)
	_, _ = w.Write(resp.body[:len(resp.body)/2])
	if fl, ok := w.(http.Flusher); ok {
		fl.Flush()
	}
	panic(http.ErrAbortHandler) // drop the connection mid-body; net/http recovers this quietly
}

type listResponse struct {
	Jobs          []wireJob `json:"jobs"`
	NextPageToken string    `json:"next_page_token,omitempty"`
	NextCursor    string    `json:"next_cursor,omitempty"`
}

func wireJobs(jobs []Job) []wireJob {
	out := make([]wireJob, len(jobs))
	for i, j := range jobs {
		out[i] = toWire(j)
	}
	return out
}

// handleList serves GET /api/v1/jobs: the change feed, or a lookup by external_ref.
func (s *Server) handleList(in *instance, r *http.Request, _ time.Time) response {
	q := r.URL.Query()
	if ref := q.Get("external_ref"); ref != "" {
		out := listResponse{Jobs: []wireJob{}}
		if j, ok := in.byRef[ref]; ok {
			out.Jobs = append(out.Jobs, toWire(j.Job))
		}
		return jsonResponse(http.StatusOK, out)
	}
	size := s.cfg.DefaultPageSize
	if v := q.Get("page_size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return errorResponse(http.StatusBadRequest, "invalid_request", "page_size must be a positive integer")
		}
		size = min(n, s.cfg.MaxPageSize)
	}
	total := int64(len(in.changes))
	var pt pageToken
	if t := q.Get("page_token"); t != "" {
		var err error
		if pt, err = decodePageToken(in.epoch, t); err != nil || pt.high > total {
			return errorResponse(http.StatusBadRequest, "invalid_page_token", "page_token is not valid here")
		}
	} else {
		from, err := decodeCursor(in.epoch, q.Get("changed_since"))
		if err != nil || from > total {
			return errorResponse(http.StatusBadRequest, "invalid_cursor", "changed_since is not a cursor of this instance; restart from an empty cursor")
		}
		pt = pageToken{from: from, high: total} // later changes wait for the next poll
	}
	items := in.changes[pt.from:pt.high]
	start := min(pt.offset, len(items))
	end := min(start+size, len(items))
	out := listResponse{Jobs: wireJobs(items[start:end])}
	switch {
	case in.faults.PageTokenLoop:
		in.stats.Faults++
		out.NextPageToken = encodePageToken(in.epoch, pageToken{from: pt.from, high: pt.high})
	case in.faults.DuplicatePages && !pt.repeat:
		in.stats.Faults++
		out.NextPageToken = encodePageToken(in.epoch, pageToken{from: pt.from, high: pt.high, offset: start, repeat: true})
	case end < len(items):
		out.NextPageToken = encodePageToken(in.epoch, pageToken{from: pt.from, high: pt.high, offset: end})
	default:
		out.NextCursor = encodeCursor(in.epoch, pt.high)
	}
	return jsonResponse(http.StatusOK, out)
}

const maxRefLen = 200

// handleCreate serves POST /api/v1/jobs, idempotent on external_ref.
func (s *Server) handleCreate(in *instance, r *http.Request, now time.Time) response {
	var spec JobSpec
	if err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 64<<10)).Decode(&spec); err != nil {
		return errorResponse(http.StatusBadRequest, "invalid_request", "body must be a JSON job spec")
	}
	if spec.ExternalRef == "" || len(spec.ExternalRef) > maxRefLen {
		return errorResponse(http.StatusBadRequest, "invalid_request", "external_ref is required (at most 200 characters)")
	}
	j, created := in.create(spec, now)
	if !created {
		w := toWire(j)
		return jsonResponse(http.StatusConflict, errorBody{Error: "duplicate_external_ref", Message: "a job with this external_ref exists", Job: &w})
	}
	return jsonResponse(http.StatusCreated, toWire(j))
}

// handleGet serves GET /api/v1/jobs/{id}.
func (s *Server) handleGet(in *instance, r *http.Request, _ time.Time) response {
	j, ok := in.byID[r.PathValue("id")]
	if !ok {
		return errorResponse(http.StatusNotFound, "not_found", "no such job")
	}
	return jsonResponse(http.StatusOK, toWire(j.Job))
}
