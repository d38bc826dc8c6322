package twiliosim

import (
	"crypto/rand"
	"encoding/hex"
	"math"
	"strconv"
	"time"

	"github.com/osprey-strike/strike/internal/twilio"
)

// Status-callback events.
const (
	eventInitiated = "initiated"
	eventRinging   = "ringing"
	eventAnswered  = "answered"
	eventCompleted = "completed"
)

// SIP final responses reported in completed callbacks.
const (
	sipOK              = 200
	sipBusy            = 486
	sipRequestCanceled = 487 // no answer, or canceled while ringing
	sipServerError     = 500
)

// call is one simulated call. Every field is guarded by Sim.mu.
type call struct {
	sid, account, to, from string
	direction              string        // "" (outbound-api) or "inbound" (inbound.go)
	timeout                time.Duration // script time, as requested
	p                      createParams
	behaviour              Behaviour
	faults                 Faults

	status                            string
	created, started, answered, ended time.Time
	seq                               int
	keys                              string // keys still to press
	pressed                           string
	answeredBy                        string // AMD verdict, set on answer when asked for
	callbacks                         []CallbackRecord
	held                              []outbound    // OutOfOrder: sent after completed
	timer                             Timer         // the pending play-out step
	done                              chan struct{} // closed when the call ends
	statusQ, appQ                     outbox        // ordered webhook delivery
}

func newSID(prefix string) string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return prefix + hex.EncodeToString(b[:])
}

func (c *call) terminal() bool { return twilio.IsTerminal(c.status) }

func (c *call) record() CallRecord {
	return CallRecord{
		SID: c.sid, AccountSID: c.account, To: c.to, From: c.from,
		Created: c.created, Started: c.started, Answered: c.answered, Ended: c.ended,
		Timeout: c.timeout, StatusCallback: c.p.StatusCallback, URL: c.p.URL, Twiml: c.p.Twiml != "",
		Status: c.status, Pressed: c.pressed,
		Callbacks: append([]CallbackRecord(nil), c.callbacks...),
	}
}

// createCall registers a call and schedules its start after the account's
// CPS queue. Called with s.mu held.
func (s *Sim) createCall(account string, p createParams) *call {
	now := s.clock.Now()
	n := s.numberCalls[p.To]
	s.numberCalls[p.To] = n + 1
	b, ok := s.script[p.To]
	if !ok {
		b = s.cfg.Default
	}
	c := &call{
		sid: newSID("CA"), account: account, to: p.To, from: p.From,
		timeout: p.Timeout, p: p,
		behaviour: resolve(b, n),
		faults:    s.faults.merge(s.numberFault[p.To]),
		status:    twilio.StatusQueued,
		created:   now,
		done:      make(chan struct{}),
	}
	if ap, ok := c.behaviour.(AnswerAndPress); ok {
		c.keys = ap.Digit
	}
	s.calls[c.sid] = c
	s.order = append(s.order, c)

	startAt := now
	if s.cfg.CPS > 0 {
		if next := s.nextSlot[account]; next.After(startAt) {
			startAt = next
		}
		s.nextSlot[account] = startAt.Add(time.Duration(float64(time.Second) / s.cfg.CPS))
	}
	// Queue time is real (CPS is not scaled). A call that need not queue
	// starts before the API answers, so its record is settled on return.
	if startAt.After(now) {
		s.after(c, startAt.Sub(now), s.start)
	} else {
		s.start(c)
	}
	return c
}

// after schedules step for c in d of clock time, unless the call has ended
// or the Sim closed by then. Called with s.mu held.
func (s *Sim) after(c *call, d time.Duration, step func(*call)) {
	c.timer = s.clock.AfterFunc(d, func() {
		if s.isClosed() {
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if c.terminal() {
			return
		}
		step(c)
	})
}

// start: the call leaves the queue and dialing begins.
func (s *Sim) start(c *call) {
	c.started = s.clock.Now()
	s.emit(c, eventInitiated, twilio.StatusInitiated, 0)
	dial := s.scale(s.cfg.DialDelay)
	switch b := c.behaviour.(type) {
	case Busy:
		s.after(c, dial+s.scale(b.After), func(c *call) { s.end(c, twilio.StatusBusy, sipBusy) })
	case Failed:
		code := b.SIPCode
		if code == 0 {
			code = sipServerError
		}
		s.after(c, dial+s.scale(b.After), func(c *call) { s.end(c, twilio.StatusFailed, code) })
	default:
		s.after(c, dial, s.ring)
	}
}

// ring: the phone rings until answered or Timeout.
func (s *Sim) ring(c *call) {
	c.status = twilio.StatusRinging
	s.emit(c, eventRinging, twilio.StatusRinging, 0)
	answerAfter, answers := time.Duration(0), false
	switch b := c.behaviour.(type) {
	case AnswerAndPress:
		answerAfter, answers = b.After, true
	case AnswerNoKey:
		answerAfter, answers = b.After, true
	}
	if answers && answerAfter < c.timeout {
		s.after(c, s.scale(answerAfter), s.answer)
		return
	}
	s.after(c, s.scale(c.timeout), func(c *call) { s.end(c, twilio.StatusNoAnswer, sipRequestCanceled) })
}

// answer: the call connects; the TwiML is fetched (or read inline) and run.
func (s *Sim) answer(c *call) {
	c.status = twilio.StatusInProgress
	c.answered = s.clock.Now()
	c.answeredBy = answeredBy(c)
	s.emit(c, eventAnswered, twilio.StatusInProgress, 0)
	if b, ok := c.behaviour.(AnswerNoKey); ok && b.HangUpAfter > 0 {
		s.after(c, s.scale(b.HangUpAfter), s.hangUp)
	}
	if c.p.Twiml != "" {
		doc, err := parseTwiML([]byte(c.p.Twiml), "")
		s.run(c, doc, err)
		return
	}
	s.enqueue(&c.appQ, func() { s.fetchTwiML(c) })
}

// answeredBy is answering machine detection's verdict for an answered call
// (https://www.twilio.com/docs/voice/answering-machine-detection): with
// MachineDetection=Enable "human" or "machine_start" as soon as the called
// party is identified; with DetectMessageEnd a machine is reported at the end
// of its greeting, "machine_end_beep". "" when detection was not asked for.
// Detection here is synchronous and instant: the TwiML request waits for it.
func answeredBy(c *call) string {
	if c.p.MachineDetection == "" {
		return ""
	}
	if b, ok := c.behaviour.(AnswerNoKey); ok && b.Machine {
		if c.p.MachineDetection == amdMessageEnd {
			return "machine_end_beep"
		}
		return "machine_start"
	}
	return "human"
}

// fetchTwiML requests the call's Url like Twilio does on answer; with
// machine detection the request carries AnsweredBy. Runs in the call's app
// queue, without s.mu.
func (s *Sim) fetchTwiML(c *call) {
	s.mu.Lock()
	params := s.baseParams(c)
	if c.answeredBy != "" {
		params["AnsweredBy"] = c.answeredBy
	}
	s.mu.Unlock()
	s.fetchAndRun(c, c.p.URL, c.p.Method, params)
}

// fetchAndRun requests TwiML from docURL and runs it on the call. Runs in
// the call's app queue, without s.mu.
func (s *Sim) fetchAndRun(c *call, docURL, method string, params map[string]string) {
	body, err := s.send(outbound{url: docURL, method: method, account: c.account, params: params})
	doc, perr := twimlDoc{}, err
	if err == nil {
		doc, perr = parseTwiML(body, docURL)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !c.terminal() {
		s.run(c, doc, perr)
	}
}

// run executes a TwiML document on an answered call: a Gather gets the next
// key of the script or times out; without one the call hangs up once the
// document has played. A document that could not be fetched or parsed ends
// the call, as Twilio's "application error" does. Called with s.mu held.
func (s *Sim) run(c *call, doc twimlDoc, err error) {
	if err != nil {
		s.log.Warn().Err(err).Str("call_sid", c.sid).Msg("TwiML failed; hanging up")
		s.after(c, s.scale(s.cfg.SayDuration), s.hangUp)
		return
	}
	if b, ok := c.behaviour.(AnswerNoKey); ok && b.HangUpAfter > 0 {
		return // the hang-up is already scheduled
	}
	g := doc.Gather
	if g == nil && doc.Redirect != nil {
		// The verbs before <Redirect> play (Pause, Say), then Twilio
		// requests its URL with the call's parameters
		// (https://www.twilio.com/docs/voice/twiml/redirect) and runs the
		// TwiML it answers.
		r := *doc.Redirect
		before := doc.PausesBefore + time.Duration(doc.SaysBefore)*s.cfg.SayDuration
		s.after(c, s.scale(before), func(c *call) {
			if r.URL == "" {
				s.log.Warn().Str("call_sid", c.sid).Msg("Redirect has no resolvable URL; hanging up")
				s.hangUp(c)
				return
			}
			params := s.baseParams(c)
			s.enqueue(&c.appQ, func() { s.fetchAndRun(c, r.URL, r.Method, params) })
		})
		return
	}
	if g == nil {
		s.after(c, s.scale(s.cfg.SayDuration), s.hangUp)
		return
	}
	if c.keys != "" {
		key := c.keys[:1]
		c.keys = c.keys[1:]
		delay := s.cfg.KeyDelay
		if b, ok := c.behaviour.(AnswerAndPress); ok && b.KeyDelay > 0 {
			delay = b.KeyDelay
		}
		s.after(c, s.scale(delay), func(c *call) { s.press(c, *g, key) })
		return
	}
	// Silence: the prompt plays, the Gather times out, Twilio falls through
	// to the verbs after it (https://www.twilio.com/docs/api/twiml/gather):
	// a <Redirect> there is followed, otherwise the call ends.
	// The Gather timeout is script time too, so it follows TimeScale.
	if r := doc.Redirect; r != nil && r.URL != "" {
		s.after(c, s.scale(s.cfg.PromptDuration+g.Timeout+time.Duration(doc.SaysAfterGather)*s.cfg.SayDuration), func(c *call) {
			params := s.baseParams(c)
			s.enqueue(&c.appQ, func() { s.fetchAndRun(c, r.URL, r.Method, params) })
		})
		return
	}
	s.after(c, s.scale(s.cfg.PromptDuration+g.Timeout+s.cfg.SayDuration), s.hangUp)
}

// press: a key at a Gather; its action gets the digits and answers TwiML.
func (s *Sim) press(c *call, g gatherSpec, key string) {
	c.pressed += key
	if g.Action == "" {
		s.log.Warn().Str("call_sid", c.sid).Msg("Gather has no resolvable action; hanging up")
		s.after(c, s.scale(s.cfg.SayDuration), s.hangUp)
		return
	}
	params := s.baseParams(c)
	params["Digits"] = key
	params["FinishedOnKey"] = ""
	params["msg"] = "Gather End"
	o := outbound{url: g.Action, method: g.Method, account: c.account, params: params}
	s.enqueue(&c.appQ, func() {
		body, err := s.send(o)
		doc, perr := twimlDoc{}, err
		if err == nil {
			doc, perr = parseTwiML(body, g.Action)
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if !c.terminal() {
			s.run(c, doc, perr)
		}
	})
}

func (s *Sim) hangUp(c *call) { s.end(c, twilio.StatusCompleted, sipOK) }

// end makes the call terminal and sends the completed callback.
func (s *Sim) end(c *call, status string, sip int) {
	if c.timer != nil {
		c.timer.Stop()
	}
	c.status = status
	c.ended = s.clock.Now()
	close(c.done)
	s.emit(c, eventCompleted, status, sip)
}

// duration is the connected time in whole script seconds.
func (s *Sim) duration(c *call) int {
	if c.answered.IsZero() || c.ended.IsZero() {
		return 0
	}
	return int(math.Round(s.unscale(c.ended.Sub(c.answered)).Seconds()))
}

// baseParams are the fields Twilio sends with every webhook of a call.
func (s *Sim) baseParams(c *call) map[string]string {
	direction := "outbound-api"
	if c.direction != "" {
		direction = c.direction
	}
	return map[string]string{
		"AccountSid": c.account,
		"ApiVersion": "2010-04-01",
		"CallSid":    c.sid,
		"CallStatus": c.status,
		"Called":     c.to,
		"Caller":     c.from,
		"Direction":  direction,
		"From":       c.from,
		"To":         c.to,
	}
}

// emit generates a status callback for event if the call subscribed to it
// (completed is always sent when there is a StatusCallback) and hands it to
// delivery through the call's faults. Called with s.mu held.
func (s *Sim) emit(c *call, event, callStatus string, sip int) {
	if c.p.StatusCallback == "" || (event != eventCompleted && !c.p.Events[event]) {
		return
	}
	params := s.baseParams(c)
	params["CallStatus"] = callStatus
	params["CallbackSource"] = "call-progress-events"
	if c.answeredBy != "" {
		params["AnsweredBy"] = c.answeredBy
	}
	params["SequenceNumber"] = strconv.Itoa(c.seq)
	params["Timestamp"] = s.clock.Now().UTC().Format(time.RFC1123Z)
	if event == eventCompleted {
		d := s.duration(c)
		params["CallDuration"] = strconv.Itoa(d)
		params["Duration"] = strconv.Itoa((d + 59) / 60)
		params["SipResponseCode"] = strconv.Itoa(sip)
	}
	rec := CallbackRecord{SequenceNumber: c.seq, Event: event, CallStatus: callStatus}
	c.seq++
	if c.faults.drops(event) {
		rec.Lost = true
		c.callbacks = append(c.callbacks, rec)
		return
	}
	c.callbacks = append(c.callbacks, rec)
	o := outbound{url: c.p.StatusCallback, method: c.p.StatusCallbackMethod, account: c.account,
		params: params, idempotency: newSID("")}
	if c.faults.OutOfOrder && (event == eventRinging || event == eventAnswered) {
		c.held = append(c.held, o)
		return
	}
	s.dispatch(c, o)
	if event == eventCompleted {
		for _, h := range c.held {
			s.dispatch(c, h)
		}
		c.held = nil
	}
}

// dispatch queues one status callback, twice if Duplicate, after Late if set.
func (s *Sim) dispatch(c *call, o outbound) {
	n := 1
	if c.faults.Duplicate {
		n = 2
	}
	for range n {
		send := func() {
			if _, err := s.send(o); err != nil {
				s.log.Debug().Err(err).Str("call_sid", c.sid).Msg("status callback failed")
			}
		}
		if c.faults.Late > 0 {
			s.clock.AfterFunc(s.scale(c.faults.Late), func() { s.enqueue(&c.statusQ, send) })
			continue
		}
		s.enqueue(&c.statusQ, send)
	}
}
