package web

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/osprey-strike/strike/schemas"
)

// Words for the issue 13 events on the ECO page's timeline. The API gives the events as they
// are (types and reason codes); only the page puts them into sentences.

// refusedWords says why the dialer refused a control.
var refusedWords = map[string]string{
	schemas.RefusedFinished:      "the callout had already ended",
	schemas.RefusedWrongKind:     "not this kind of tenant's control",
	schemas.RefusedWrongTenant:   "not this ECO's tenant",
	schemas.RefusedOutOfBounds:   "outside Strike's bounds",
	schemas.RefusedBelowAccepted: "fewer than have already accepted",
	schemas.RefusedPassRunning:   "fewer passes than the one already running",
	schemas.RefusedUnknown:       "no such person on this ECO",
	schemas.RefusedAccepted:      "the contact already accepted",
	schemas.RefusedCalling:       "the contact is being called right now",
	schemas.RefusedDuplicate:     "the number is already on this ECO",
	schemas.RefusedInvalid:       "a required field was missing",
}

// callInWords says why a call-in was refused or its place given back.
var callInWords = map[string]string{
	schemas.RefusedFinished:   "the callout had already ended",
	schemas.CallInNotOnRoster: "not on the roster",
	schemas.CallInNoPlace:     "no place left",
	schemas.RefusedAccepted:   "they had already accepted",
	schemas.CallInDeclined:    "declined",
	schemas.CallInExpired:     "the hold expired",
	"call_ended":              "they hung up",
	"bypassed":                "a dispatcher skipped them",
}

// resultWords says how a call ended (schemas.CallResults), on the timeline, in the people table
// and in the call attempts.
var resultWords = map[string]string{
	schemas.CallAccepted:      "accepted",
	schemas.CallDeclined:      "declined",
	schemas.CallNoAnswer:      "no answer",
	schemas.CallVoicemail:     "went to voicemail",
	schemas.CallBusy:          "busy",
	schemas.CallFailed:        "failed",
	schemas.CallInvalidNumber: "invalid number",
	schemas.CallCanceled:      "hung up by Strike",
	schemas.CallError:         "not placed (error)",
}

// callResult is how a call ended, in words.
func callResult(code string) string { return words(resultWords, code) }

// words is the sentence for code, or the code readably when it has none.
func words(m map[string]string, code string) string {
	if w, ok := m[code]; ok {
		return w
	}
	return strings.ReplaceAll(code, "_", " ")
}

func clock(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

// describeControl: what a control asked for, who asked, and what the dialer did with it.
func describeControl(raw []byte) (label, note string) {
	var o schemas.ControlOutcome
	if json.Unmarshal(raw, &o) != nil {
		return "Control", ""
	}
	what := strings.ReplaceAll(o.Action, "_", " ")
	switch {
	case o.Action == schemas.ControlPeopleNeeded && o.PeopleNeeded > 0:
		what += " to " + strconv.Itoa(o.PeopleNeeded)
	case o.Action == schemas.ControlPasses && o.LoopCount > 0:
		what += " to " + strconv.Itoa(o.LoopCount)
	case o.Action == schemas.ControlAddNumber && o.Contact != nil:
		what = "add " + o.Contact.Name + " " + o.Contact.Phone
	case o.Contact != nil:
		what += ": " + o.Contact.Name
	}
	note = what + " — by " + o.Actor.User.Name + " (" + o.Actor.TenantID + ")"
	if o.Outcome == schemas.ControlRefused {
		return "Control refused", note + ": " + words(refusedWords, o.Reason)
	}
	return "Control applied", note
}

// describeSkip: who was not called in their turn, and why.
func describeSkip(raw []byte) (label, note string) {
	var sk schemas.ContactSkipped
	if json.Unmarshal(raw, &sk) != nil {
		return "Skipped", ""
	}
	return "Skipped", sk.Contact.Name + ": " + skipWhy(sk.Reason, sk.AwayUntil, sk.Substitute)
}

// skipWhy says why someone was not called in their turn (schemas.SkipReasons), on the timeline
// and in the people table.
func skipWhy(reason string, awayUntil *time.Time, substitute *schemas.Person) string {
	switch reason {
	case schemas.SkipUnavailable:
		if awayUntil != nil {
			return "away until " + clock(*awayUntil)
		}
		return "away"
	case schemas.SkipSubstituted:
		if substitute != nil {
			return "away, substituted by " + substitute.Name
		}
		return "away, substituted by their substitute"
	case schemas.SkipBypassed:
		return "bypassed by a dispatcher"
	case schemas.SkipFilled:
		return "filled before their turn"
	case schemas.SkipInvalidNumber:
		return "invalid number"
	case schemas.SkipNotReached:
		return "not reached (the callout ended first)"
	}
	return strings.ReplaceAll(reason, "_", " ")
}

// describeCallIn: someone who dialled back, and whether their place was held.
func describeCallIn(raw []byte) (label, note string) {
	var c schemas.CallIn
	if json.Unmarshal(raw, &c) != nil {
		return "Call-in", ""
	}
	who := c.From
	if c.Contact != nil {
		who = c.Contact.Name
	}
	note = who + " called back: "
	switch c.Outcome {
	case schemas.CallInHeld:
		note += "place held"
		if !c.HoldUntil.IsZero() {
			note += " until " + c.HoldUntil.UTC().Format("15:04:05 UTC")
		}
	case schemas.CallInReleased:
		note += "place released (" + words(callInWords, c.Reason) + ")"
	case schemas.CallInRefused:
		note += "refused (" + words(callInWords, c.Reason) + ")"
	default:
		note += strings.ReplaceAll(c.Outcome, "_", " ")
	}
	return "Call-in", note
}
