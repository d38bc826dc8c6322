package ringdown

import (
	"fmt"
	"slices"
	"time"

	"github.com/osprey-strike/strike/internal/ids"

	"github.com/osprey-strike/strike/internal/twilio"
	"github.com/osprey-strike/strike/schemas"
)

// ApplyPlaced applies a CreateCall result.
func (m Machine) ApplyPlaced(s *State, p Placed, now time.Time) (Output, error) {
	var out Output
	i := s.live(p.CallID)
	if i < 0 {
		// The call ended (cancel, ECO finished) while it was being placed: hang it up, unless
		// it is the call we already know under that SID.
		if p.SID != "" {
			if j := s.endedCall(p.CallID); j < 0 || s.Ended[j].SID != p.SID || s.Ended[j].Result == schemas.CallCanceled {
				out.Commands = append(out.Commands, Command{Kind: CmdEnd, ECOID: s.ECO.ECOID, Call: Call{ID: p.CallID, SID: p.SID}})
			}
		}
		return out, nil
	}
	c := &s.Calls[i]
	switch p.Err {
	case "":
		if c.SID == "" {
			m.adoptSID(s, &out, i, p.SID, now)
		} else {
			m.second(s, &out, i, p.SID)
		}
		return out, nil
	case PlaceInvalidNumber:
		return out, m.endLive(s, &out, i, schemas.CallInvalidNumber, p.Detail, now)
	case PlaceAccount:
		return out, m.abandon(s, &out, p.Detail, now)
	case PlaceUncertain:
		// The call may exist: wait for one of its callbacks, then ask Twilio, before any
		// second placement.
		c.Placing, c.Unsure = false, true
		c.Deadline = now.Add(m.Rules.ConfirmWait)
		out.Changed = true
		return out, nil
	default:
		c.Placing = false
		c.Deadline = now.Add(m.Rules.PlaceRetry)
		out.Changed = true
		return out, nil
	}
}

// second records sid as a further call of live attempt i (a re-placement raced the original)
// and hangs it up, once. A 1 pressed on it still counts for the attempt.
func (m Machine) second(s *State, out *Output, i int, sid string) {
	c := &s.Calls[i]
	if sid == c.SID || slices.Contains(c.Extra, sid) {
		return
	}
	c.Extra = append(c.Extra, sid)
	out.Changed = true
	out.Commands = append(out.Commands, Command{Kind: CmdEnd, ECOID: s.ECO.ECOID, Call: Call{ID: c.ID, SID: sid}})
}

// ApplyCallback applies a Twilio webhook.
func (m Machine) ApplyCallback(s *State, cb schemas.TelephonyCallback, now time.Time) (Output, error) {
	if IsCallIn(cb.CallID) {
		return m.applyCallIn(s, cb, now)
	}
	var out Output
	i := s.live(cb.CallID)
	if i < 0 {
		m.lateCallback(s, &out, cb, now)
		return out, nil
	}
	if s.Calls[i].SID == "" {
		m.adoptSID(s, &out, i, cb.CallSID, now)
	}
	c := &s.Calls[i]
	primary := c.SID == cb.CallSID
	if !primary {
		m.second(s, &out, i, cb.CallSID)
	}
	if cb.Kind == schemas.CallbackGather {
		switch cb.Digits {
		case "1":
			return out, m.accept(s, &out, i, cb.CallSID, now)
		case "2":
			out.Events = append(out.Events, Event{Type: schemas.TypeCalloutDeclined,
				ID: ids.EventID(schemas.TypeCalloutDeclined, s.ECO.ECOID, c.ID), At: now,
				Value: schemas.CalloutDeclined{CalloutRef: s.ref(), Contact: c.Contact, CallSID: cb.CallSID, DeclinedAt: now.UTC()}})
			for _, other := range c.sids() {
				if other != cb.CallSID {
					out.Commands = append(out.Commands, Command{Kind: CmdEnd, ECOID: s.ECO.ECOID, Call: Call{ID: c.ID, SID: other}})
				}
			}
			return out, m.endLive(s, &out, i, schemas.CallDeclined, "", now)
		}
		return out, nil // an invalid key after the last prompt: the call ends unanswered
	}
	if !primary {
		return out, nil // the status of a second call: it is being hung up
	}
	if cb.SequenceNumber != nil {
		if *cb.SequenceNumber <= c.Seq {
			return out, nil // duplicate, or older than what we applied
		}
		c.Seq = *cb.SequenceNumber
		out.Changed = true
	}
	switch cb.CallStatus {
	case twilio.StatusInProgress:
		if !c.Answered {
			c.Answered = true
			c.Deadline = c.PlacedAt.Add(s.ring(m.Rules) + m.Rules.AnswerGrace)
			out.Changed = true
		}
		return out, nil
	case twilio.StatusCompleted, twilio.StatusBusy, twilio.StatusNoAnswer, twilio.StatusFailed, twilio.StatusCanceled:
		result := resultOf(cb.CallStatus, c.Answered || cb.CallDurationSeconds > 0, cb.SIPResponseCode)
		for _, other := range c.Extra {
			out.Commands = append(out.Commands, Command{Kind: CmdEnd, ECOID: s.ECO.ECOID, Call: Call{ID: c.ID, SID: other}})
		}
		return out, m.endLive(s, &out, i, result, detail(cb.CallStatus, cb.SIPResponseCode), now)
	}
	return out, nil
}

func detail(status string, sip int) string {
	if sip != 0 {
		return fmt.Sprintf("%s (SIP %d)", status, sip)
	}
	return status
}

// resultOf maps Twilio's final status to a call result. An answered call that ends without a
// key is a voicemail (or a person who said nothing): never an acceptance. A failed call with SIP
// 480 (temporarily unavailable: a phone switched off) is a no answer.
func resultOf(status string, answered bool, sip int) string {
	switch status {
	case twilio.StatusCompleted:
		if answered {
			return schemas.CallVoicemail
		}
		return schemas.CallNoAnswer
	case twilio.StatusBusy:
		return schemas.CallBusy
	case twilio.StatusFailed:
		if sip == 480 {
			return schemas.CallNoAnswer
		}
		return schemas.CallFailed
	}
	return schemas.CallNoAnswer
}

// lateCallback handles a callback for a call that is no longer live: only a 1 pressed on a call
// that did not end accepted matters, once, as a late acceptance.
func (m Machine) lateCallback(s *State, out *Output, cb schemas.TelephonyCallback, now time.Time) {
	j := s.endedCall(cb.CallID)
	if j >= 0 && cb.CallSID != "" && cb.CallSID != s.Ended[j].SID && !slices.Contains(s.Ended[j].Stray, cb.CallSID) &&
		len(s.Ended[j].Stray) < maxStray {
		// A call of an attempt that already ended: a replica paused or killed in the middle of
		// its CreateCall placed it late. Hang it up at its first sign of life.
		s.Ended[j].Stray = append(s.Ended[j].Stray, cb.CallSID)
		out.Changed = true
		out.Commands = append(out.Commands, Command{Kind: CmdEnd, ECOID: s.ECO.ECOID, Call: Call{ID: cb.CallID, SID: cb.CallSID}})
	}
	if cb.Kind != schemas.CallbackGather || cb.Digits != "1" {
		return
	}
	if j < 0 || s.Ended[j].Result == schemas.CallAccepted || s.Ended[j].Late {
		return // unknown, the attempt's acceptance (a 1 on its other call), or already late
	}
	s.Ended[j].Late = true
	_ = m.late(s, out, cb.CallID, cb.CallSID, s.callee(cb.CallID), now)
}

// CallIDPosition reads the roster position back from a call id (0 if malformed).
func CallIDPosition(callID string) int {
	var pos int
	for i := len(callID) - 1; i >= 0; i-- {
		if callID[i] == 'c' && i > 0 && callID[i-1] == '/' {
			_, _ = fmt.Sscanf(callID[i+1:], "%d", &pos)
			return pos
		}
	}
	return 0
}

// ApplyCancel stops the ring-down and hangs up the live calls.
func (m Machine) ApplyCancel(s *State, c schemas.ECOCancelled, now time.Time) Output {
	var out Output
	if s.Final() {
		return out
	}
	out.Events = append(out.Events, Event{Type: schemas.TypeCalloutCancelled,
		ID: ids.EventID(schemas.TypeCalloutCancelled, s.ECO.ECOID), At: now,
		Value: schemas.CalloutCancelled{CalloutRef: s.ref(), CancelledBy: c.CancelledBy.Name, Reason: c.Reason, CancelledAt: now.UTC()}})
	m.finish(s, &out, PhaseCancelled, now)
	return out
}

// ApplyFetched applies a reconciliation FetchCall: the Calls API tells the truth when a
// callback was lost.
func (m Machine) ApplyFetched(s *State, f Fetched, now time.Time) (Output, error) {
	var out Output
	i := s.live(f.CallID)
	if i < 0 || s.Calls[i].SID != f.SID || f.Err != "" {
		return out, nil // ended meanwhile, or the fetch failed: the deadline re-armed by Tick stands
	}
	c := &s.Calls[i]
	ring := s.ring(m.Rules)
	switch {
	case twilio.IsTerminal(f.Status):
		return out, m.endLive(s, &out, i, resultOf(f.Status, c.Answered || f.Duration > 0, 0), "reconciled: "+f.Status, now)
	case f.Status == twilio.StatusInProgress && now.Before(c.PlacedAt.Add(ring+m.Rules.AnswerGrace)):
		c.Answered = true
		c.Deadline = c.PlacedAt.Add(ring + m.Rules.AnswerGrace)
		out.Changed = true
		return out, nil
	case f.Status != twilio.StatusInProgress && now.Before(c.PlacedAt.Add(ring+m.Rules.ReconcileMargin)):
		return out, nil
	}
	// Stuck ringing past its ring duration, or answered and silent past the grace: hang up.
	out.Commands = append(out.Commands, Command{Kind: CmdEnd, ECOID: s.ECO.ECOID, Call: *c})
	return out, m.endLive(s, &out, i, schemas.CallNoAnswer, "reconciled: stuck "+f.Status, now)
}

// ApplyFound applies a lookup of an Unsure attempt: a call Twilio has for it is adopted (and
// ended at once if it already ended); none at all proves nothing was created, and only then is
// the attempt placed again.
func (m Machine) ApplyFound(s *State, f Found, now time.Time) (Output, error) {
	var out Output
	i := s.live(f.CallID)
	if i < 0 || s.Calls[i].SID != "" || !s.Calls[i].Unsure {
		return out, nil // a callback told us first, or the attempt ended meanwhile
	}
	c := &s.Calls[i]
	if f.Err != "" {
		c.Deadline = now.Add(m.Rules.PlaceRetry) // ask again later; never guess
		out.Changed = true
		return out, nil
	}
	var found *FoundCall
	for k := range f.Calls {
		if !s.knows(f.Calls[k].SID) {
			found = &f.Calls[k] // the list is newest first: keep the oldest unknown one
		}
	}
	if found == nil {
		c.Unsure, c.Placing, c.Deadline = false, true, time.Time{}
		out.Changed = true
		out.Commands = append(out.Commands, m.place(s, *c))
		return out, nil
	}
	m.adoptSID(s, &out, i, found.SID, now)
	if twilio.IsTerminal(found.Status) {
		return out, m.endLive(s, &out, i, resultOf(found.Status, found.Duration > 0, 0), "reconciled: "+found.Status, now)
	}
	return out, nil
}

// knows reports whether sid is a call of this ring-down already.
func (s *State) knows(sid string) bool {
	for _, c := range s.Calls {
		if c.SID == sid || slices.Contains(c.Extra, sid) {
			return true
		}
	}
	for _, e := range s.Ended {
		if e.SID == sid {
			return true
		}
	}
	return false
}

// Tick applies everything due at now: placement retries, lookups of Unsure attempts,
// reconciliation fetches, a retry round, the retirement.
func (m Machine) Tick(s *State, now time.Time) (Output, error) {
	var out Output
	for i := range s.Calls {
		c := &s.Calls[i]
		if c.Deadline.IsZero() || now.Before(c.Deadline) {
			continue
		}
		out.Changed = true
		switch {
		case c.SID == "" && c.Unsure:
			// If the lookup's answer never comes (the partition moved), ask again later.
			c.Deadline = now.Add(m.Rules.PlaceRetry)
			out.Commands = append(out.Commands, Command{Kind: CmdLookup, ECOID: s.ECO.ECOID, Call: *c})
			continue
		case c.SID == "":
			c.Deadline, c.Placing = time.Time{}, true
			out.Commands = append(out.Commands, m.place(s, *c))
			continue
		}
		// If the fetch fails or says "not yet", look again after PlaceRetry.
		c.Deadline = now.Add(m.Rules.PlaceRetry)
		out.Commands = append(out.Commands, Command{Kind: CmdFetch, ECOID: s.ECO.ECOID, Call: *c})
	}
	if err := m.expireHolds(s, &out, now); err != nil {
		return out, err
	}
	if s.Phase == PhaseWaitingRetry && !now.Before(s.RetryAt) {
		s.Phase, s.RetryAt = PhaseRinging, time.Time{}
		s.Round++
		s.Pass, s.Next = 1, 0
		out.Changed = true
		out.Events = append(out.Events, m.started(s, now))
		if err := m.advance(s, &out, now); err != nil {
			return out, err
		}
	}
	if s.Final() && len(s.Calls) == 0 && !s.FinishedAt.IsZero() && !now.Before(s.FinishedAt.Add(m.Rules.Retention)) {
		out.Retire = true
	}
	return out, nil
}

// Resume prepares a restored ring-down for its new owner. An attempt whose intent was committed
// without a SID may have been placed by the previous owner (in flight when it died, or queued
// when the partition moved): it becomes Unsure, so its callbacks or the Calls list are consulted
// before it is placed again. It reports whether s changed.
func (m Machine) Resume(s *State, now time.Time) bool {
	changed := false
	for i := range s.Calls {
		c := &s.Calls[i]
		if c.SID == "" && (c.Placing || c.Unsure) {
			c.Placing, c.Unsure = false, true
			c.Deadline = now.Add(m.Rules.ConfirmWait)
			changed = true
		}
	}
	return changed
}
