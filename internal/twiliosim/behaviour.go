package twiliosim

import "time"

// Behaviour is what the person at a number does when called. Durations are
// script time: they are multiplied by Config.TimeScale.
type Behaviour interface{ behaviour() }

// AnswerAndPress answers After the phone starts ringing and presses keys at
// the Gather prompts: Digit holds one key per prompt, so "1" accepts, "2"
// declines, "9" is an invalid key and "91" is an invalid key followed, when
// the application prompts again, by 1. When the keys run out and another
// Gather comes, the person stays silent until it times out. If After is not
// shorter than the call's Timeout the call ends no-answer.
type AnswerAndPress struct {
	After time.Duration
	Digit string
	// KeyDelay is the time from the start of each prompt to the key press;
	// 0 means Config.KeyDelay.
	KeyDelay time.Duration
}

// AnswerNoKey is a voicemail or a person who never presses a key: answered
// After the ringing starts, no digits. With HangUpAfter 0 it listens until
// the Gather times out and the application's trailing TwiML has played;
// otherwise it hangs up HangUpAfter after answering. Machine makes it an
// answering machine for answering machine detection (AnsweredBy
// machine_start, or machine_end_beep with DetectMessageEnd); otherwise
// detection finds a human, as for AnswerAndPress.
type AnswerNoKey struct {
	After       time.Duration
	HangUpAfter time.Duration
	Machine     bool
}

// NoAnswer rings until the call's Timeout; the call ends no-answer (SIP 487).
type NoAnswer struct{}

// Busy ends the call busy (SIP 486) After dialing, without ringing.
type Busy struct{ After time.Duration }

// Failed ends the call failed After dialing, without ringing, with SIPCode
// in the completed callback (0 means 500). 480 (temporarily unavailable) is
// what a switched-off phone gives.
type Failed struct {
	SIPCode int
	After   time.Duration
}

// Sequence plays its n-th behaviour on the n-th call to the number (the last
// one repeats), e.g. Sequence{NoAnswer{}, AnswerAndPress{Digit: "1"}} is a
// person who misses the first pass and accepts on the second. Empty means
// NoAnswer.
type Sequence []Behaviour

func (AnswerAndPress) behaviour() {}
func (AnswerNoKey) behaviour()    {}
func (NoAnswer) behaviour()       {}
func (Busy) behaviour()           {}
func (Failed) behaviour()         {}
func (Sequence) behaviour()       {}

// Script maps a To number (E.164) to its Behaviour.
type Script map[string]Behaviour

// resolve picks the behaviour of the n-th (0-based) call to a number.
func resolve(b Behaviour, n int) Behaviour {
	for {
		seq, ok := b.(Sequence)
		if !ok {
			if b == nil {
				return NoAnswer{}
			}
			return b
		}
		if len(seq) == 0 {
			return NoAnswer{}
		}
		b = seq[min(n, len(seq)-1)]
	}
}

// Faults disturb the delivery of status callbacks, globally
// (Config.Faults) or per number (Config.NumberFaults); the two are combined.
// Gather results and TwiML fetches are never disturbed.
type Faults struct {
	// Duplicate sends every status callback twice (same SequenceNumber).
	Duplicate bool
	// Late delays every status callback by this much (script time).
	Late time.Duration
	// OutOfOrder holds the ringing and answered callbacks back and sends
	// them after the completed one.
	OutOfOrder bool
	// Lost drops every status callback; the call itself still happens and
	// the Calls API reports its true status.
	Lost bool
	// LostEvents drops only the callbacks of these events
	// ("initiated", "ringing", "answered", "completed").
	LostEvents []string
}

func (f Faults) merge(g Faults) Faults {
	return Faults{
		Duplicate:  f.Duplicate || g.Duplicate,
		Late:       max(f.Late, g.Late),
		OutOfOrder: f.OutOfOrder || g.OutOfOrder,
		Lost:       f.Lost || g.Lost,
		LostEvents: append(append([]string(nil), f.LostEvents...), g.LostEvents...),
	}
}

func (f Faults) drops(event string) bool {
	if f.Lost {
		return true
	}
	for _, e := range f.LostEvents {
		if e == event {
			return true
		}
	}
	return false
}

// DemoScript is the script of `strike dev`: nobody answers the first pass;
// on the second pass the second person on the roster answers after 3 s and
// presses 1, so a demo ECO is accepted by the second contact in the second
// pass. Other numbers keep the Sim's Default (NoAnswer).
func DemoScript(first, second string) Script {
	return Script{
		first:  NoAnswer{},
		second: Sequence{NoAnswer{}, AnswerAndPress{After: 3 * time.Second, Digit: "1"}},
	}
}
