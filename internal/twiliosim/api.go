package twiliosim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/osprey-strike/strike/internal/twilio"
)

const apiPrefix = "/2010-04-01/Accounts/{AccountSid}"

// Handler serves the simulated API:
//
//	GET  /2010-04-01/Accounts/{Sid}.json                        fetch an account
//	POST /2010-04-01/Accounts/{AccountSid}/Calls.json          create a call
//	GET  /2010-04-01/Accounts/{AccountSid}/Calls.json          list calls (To, From, PageSize, Page)
//	GET  /2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}.json fetch a call
//	POST /2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}.json Status=completed|canceled
//	GET  /2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers.json      list numbers (PhoneNumber)
//	POST /2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers/{Sid}.json VoiceUrl, VoiceMethod, StatusCallback
//
// Every request pays Config.Latency, may be failed by FailNext, must carry
// the main account's basic auth (401/20003) and name the main account or a
// configured subaccount (404/20404).
func (s *Sim) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2010-04-01/Accounts/{AccountFile}", s.handleAccount)
	mux.HandleFunc("POST "+apiPrefix+"/Calls.json", s.handleCreate)
	mux.HandleFunc("GET "+apiPrefix+"/Calls.json", s.handleList)
	mux.HandleFunc("GET "+apiPrefix+"/Calls/{CallFile}", s.handleFetch)
	mux.HandleFunc("POST "+apiPrefix+"/Calls/{CallFile}", s.handleUpdate)
	mux.HandleFunc("GET "+apiPrefix+"/IncomingPhoneNumbers.json", s.handleListNumbers)
	mux.HandleFunc("POST "+apiPrefix+"/IncomingPhoneNumbers/{NumberFile}", s.handleUpdateNumber)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { writeNotFound(w, r) })
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests++
		var fail *apiError
		if len(s.failNext) > 0 {
			fail = &s.failNext[0]
			s.failNext = s.failNext[1:]
		}
		s.mu.Unlock()
		if s.cfg.Latency > 0 {
			t := time.NewTimer(s.cfg.Latency)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		if fail != nil {
			writeError(w, fail)
			return
		}
		user, pass, ok := r.BasicAuth()
		if !ok || user != s.cfg.AccountSID || pass != s.cfg.AuthToken {
			w.Header().Set("WWW-Authenticate", `Basic realm="Twilio API"`)
			writeError(w, &apiError{Status: http.StatusUnauthorized, Code: 20003, Message: "Authenticate"})
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// account checks the path AccountSid against the main account and its
// subaccounts.
func (s *Sim) account(w http.ResponseWriter, r *http.Request) (string, bool) {
	sid := r.PathValue("AccountSid")
	s.mu.Lock()
	_, ok := s.tokens[sid]
	s.mu.Unlock()
	if !ok {
		writeNotFound(w, r)
	}
	return sid, ok
}

func (s *Sim) handleCreate(w http.ResponseWriter, r *http.Request) {
	account, ok := s.account(w, r)
	if !ok {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		writeError(w, badRequest(20001, "Invalid form body"))
		return
	}
	p, aerr := parseCreate(r.PostForm)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	s.mu.Lock()
	c := s.createCall(account, p)
	rec, res := c.record(), s.resource(c)
	lose, lost := 0, false
	if len(s.failCreate) > 0 {
		lose, lost = s.failCreate[0], true
		s.failCreate = s.failCreate[1:]
	}
	s.mu.Unlock()
	s.log.Debug().Str("account_sid", account).Str("call_sid", rec.SID).Msg("call created")
	if s.cfg.OnCallCreated != nil {
		s.cfg.OnCallCreated(rec)
	}
	switch {
	case lost && lose == 0:
		// The call exists; the answer never arrives. net/http closes the
		// connection without a response.
		panic(http.ErrAbortHandler)
	case lost:
		writeError(w, &apiError{Status: lose, Code: 20500, Message: "Internal Server Error"})
		return
	}
	writeJSON(w, http.StatusCreated, res)
}

// handleAccount serves the Accounts resource
// (https://www.twilio.com/docs/iam/api/account): the main account and its
// subaccounts, auth token included, to the main credentials. A subaccount's
// owner_account_sid is the main account; the main account owns itself.
func (s *Sim) handleAccount(w http.ResponseWriter, r *http.Request) {
	sid, isJSON := strings.CutSuffix(r.PathValue("AccountFile"), ".json")
	s.mu.Lock()
	tok, ok := s.tokens[sid]
	created := s.created
	s.mu.Unlock()
	if !isJSON || !ok {
		writeNotFound(w, r)
		return
	}
	name := "Strike main account"
	if sid != s.cfg.AccountSID {
		name = "SubAccount " + sid[len(sid)-6:]
	}
	uri := "/2010-04-01/Accounts/" + sid
	date := created.UTC().Format(time.RFC1123Z)
	writeJSON(w, http.StatusOK, map[string]any{
		"sid": sid, "owner_account_sid": s.cfg.AccountSID, "auth_token": tok, "friendly_name": name,
		"status": "active", "type": "Full", "date_created": date, "date_updated": date, "uri": uri + ".json",
		"subresource_uris": map[string]string{"calls": uri + "/Calls.json"},
	})
}

// List paging (https://www.twilio.com/docs/usage/twilios-response#pagination):
// PageSize defaults to 50 and is at most 1000.
const (
	defaultPageSize = 50
	maxPageSize     = 1000
)

// handleList serves the Calls list resource
// (https://www.twilio.com/docs/voice/api/call-resource#read-multiple-call-resources):
// the account's calls, filtered by To and From, newest first (by
// date_created), one page of PageSize at a time with Page numbering from 0
// and next_page_uri / previous_page_uri to walk the pages. PageToken is
// accepted and ignored: Page alone locates a page here.
func (s *Sim) handleList(w http.ResponseWriter, r *http.Request) {
	account, ok := s.account(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	size, page := defaultPageSize, 0
	if v := q.Get("PageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, badRequest(20001, "Invalid PageSize: %s", v))
			return
		}
		size = min(n, maxPageSize)
	}
	if v := q.Get("Page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeError(w, badRequest(20001, "Invalid Page: %s", v))
			return
		}
		page = n
	}
	to, from := q.Get("To"), q.Get("From")
	s.mu.Lock()
	var all []callResource
	for i := len(s.order) - 1; i >= 0; i-- { // newest first; creation order breaks date ties
		c := s.order[i]
		if c.account == account && (to == "" || c.to == to) && (from == "" || c.from == from) {
			all = append(all, s.resource(c))
		}
	}
	s.mu.Unlock()
	start := min(page*size, len(all))
	end := min(start+size, len(all))
	base := url.Values{}
	for _, k := range []string{"To", "From"} {
		if v := q.Get(k); v != "" {
			base.Set(k, v)
		}
	}
	pageURI := func(p int) string {
		v := url.Values{}
		for k, vs := range base {
			v[k] = vs
		}
		v.Set("PageSize", strconv.Itoa(size))
		v.Set("Page", strconv.Itoa(p))
		return "/2010-04-01/Accounts/" + account + "/Calls.json?" + v.Encode()
	}
	var next, prev *string
	if end < len(all) {
		n := pageURI(page + 1)
		next = &n
	}
	if page > 0 {
		p := pageURI(page - 1)
		prev = &p
	}
	calls := all[start:end]
	if calls == nil {
		calls = []callResource{}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"calls": calls, "page": page, "page_size": size, "start": start, "end": max(start, end-1),
		"first_page_uri": pageURI(0), "next_page_uri": next, "previous_page_uri": prev, "uri": pageURI(page),
	})
}

// lookup finds the call of the path, answering 404 if the account does not
// own it.
func (s *Sim) lookup(w http.ResponseWriter, r *http.Request) (*call, bool) {
	account, ok := s.account(w, r)
	if !ok {
		return nil, false
	}
	sid, isJSON := strings.CutSuffix(r.PathValue("CallFile"), ".json")
	s.mu.Lock()
	c, ok := s.calls[sid]
	s.mu.Unlock()
	if !isJSON || !ok || c.account != account {
		writeNotFound(w, r)
		return nil, false
	}
	return c, true
}

func (s *Sim) handleFetch(w http.ResponseWriter, r *http.Request) {
	c, ok := s.lookup(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	res := s.resource(c)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, res)
}

// handleUpdate supports ending a call: Status=completed hangs up a call in
// any live state (queued and ringing calls end canceled, answered ones
// completed); Status=canceled ends only queued and ringing calls and leaves
// an answered call up. Updating a call that has ended is error 21220.
func (s *Sim) handleUpdate(w http.ResponseWriter, r *http.Request) {
	c, ok := s.lookup(w, r)
	if !ok {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		writeError(w, badRequest(20001, "Invalid form body"))
		return
	}
	status := r.PostForm.Get("Status")
	if status != twilio.StatusCompleted && status != twilio.StatusCanceled {
		writeError(w, badRequest(20001, "The simulator supports only Status=completed or Status=canceled updates"))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.terminal() {
		writeError(w, badRequest(21220, "Call is not in-progress. Cannot redirect."))
		return
	}
	switch {
	case c.status == twilio.StatusQueued || c.status == twilio.StatusRinging:
		s.end(c, twilio.StatusCanceled, sipRequestCanceled)
	case status == twilio.StatusCompleted:
		s.end(c, twilio.StatusCompleted, sipOK)
	}
	writeJSON(w, http.StatusOK, s.resource(c))
}

// callResource is the JSON of Twilio's Call resource; null fields are nil.
type callResource struct {
	Sid             string            `json:"sid"`
	DateCreated     string            `json:"date_created"`
	DateUpdated     string            `json:"date_updated"`
	ParentCallSid   *string           `json:"parent_call_sid"`
	AccountSid      string            `json:"account_sid"`
	To              string            `json:"to"`
	ToFormatted     string            `json:"to_formatted"`
	From            string            `json:"from"`
	FromFormatted   string            `json:"from_formatted"`
	PhoneNumberSid  *string           `json:"phone_number_sid"`
	Status          string            `json:"status"`
	StartTime       *string           `json:"start_time"`
	EndTime         *string           `json:"end_time"`
	Duration        *string           `json:"duration"`
	Price           *string           `json:"price"`
	PriceUnit       string            `json:"price_unit"`
	Direction       string            `json:"direction"`
	AnsweredBy      *string           `json:"answered_by"`
	ApiVersion      string            `json:"api_version"`
	ForwardedFrom   *string           `json:"forwarded_from"`
	GroupSid        *string           `json:"group_sid"`
	CallerName      *string           `json:"caller_name"`
	QueueTime       string            `json:"queue_time"`
	TrunkSid        *string           `json:"trunk_sid"`
	URI             string            `json:"uri"`
	SubresourceUris map[string]string `json:"subresource_uris"`
}

// resource renders c. Called with s.mu held.
func (s *Sim) resource(c *call) callResource {
	rfc := func(t time.Time) *string {
		if t.IsZero() {
			return nil
		}
		v := t.UTC().Format(time.RFC1123Z)
		return &v
	}
	updated := c.created
	for _, t := range []time.Time{c.started, c.answered, c.ended} {
		if t.After(updated) {
			updated = t
		}
	}
	var answeredBy *string
	if c.answeredBy != "" {
		a := c.answeredBy
		answeredBy = &a
	}
	var duration *string
	if c.terminal() {
		d := strconv.Itoa(s.duration(c))
		duration = &d
	}
	queue := time.Duration(0)
	if !c.started.IsZero() {
		queue = c.started.Sub(c.created)
	}
	uri := fmt.Sprintf("/2010-04-01/Accounts/%s/Calls/%s", c.account, c.sid)
	return callResource{
		Sid:           c.sid,
		DateCreated:   *rfc(c.created),
		DateUpdated:   *rfc(updated),
		AccountSid:    c.account,
		To:            c.to,
		ToFormatted:   c.to,
		From:          c.from,
		FromFormatted: c.from,
		Status:        c.status,
		StartTime:     rfc(c.started),
		EndTime:       rfc(c.ended),
		Duration:      duration,
		PriceUnit:     "USD",
		Direction:     "outbound-api",
		AnsweredBy:    answeredBy,
		ApiVersion:    "2010-04-01",
		QueueTime:     strconv.FormatInt(queue.Milliseconds(), 10),
		URI:           uri + ".json",
		SubresourceUris: map[string]string{
			"notifications": uri + "/Notifications.json",
			"recordings":    uri + "/Recordings.json",
			"events":        uri + "/Events.json",
		},
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers in Twilio's error shape, which twilio-go decodes into
// *client.TwilioRestError.
func writeError(w http.ResponseWriter, e *apiError) {
	writeJSON(w, e.Status, map[string]any{
		"code":      e.Code,
		"message":   e.Message,
		"more_info": fmt.Sprintf("https://www.twilio.com/docs/errors/%d", e.Code),
		"status":    e.Status,
	})
}

func writeNotFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, &apiError{Status: http.StatusNotFound, Code: 20404,
		Message: fmt.Sprintf("The requested resource %s was not found", r.URL.Path)})
}
