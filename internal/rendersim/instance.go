package rendersim

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"sync"
	"time"
)

// instance is one simulated Render instance. Its mutex guards everything below it; handlers
// hold it only while reading or changing state, never while waiting.
type instance struct {
	idPrefix string // starts every job id
	name     string
	clientID string
	secret   string
	epoch    string // namespaces cursors and page tokens

	mu       sync.Mutex
	schedule Schedule
	jobs     []*job // creation order
	byID     map[string]*job
	byRef    map[string]*job
	changes  []Job // the change feed: changes[i] has sequence number i+1
	tokens   map[string]time.Time
	faults   Faults
	stats    Stats
}

func newInstance(name, clientID, secret string, schedule Schedule, idPrefix string) *instance {
	return &instance{
		idPrefix: idPrefix,
		name:     name, clientID: clientID, secret: secret,
		epoch:    randomHex(6),
		schedule: schedule,
		byID:     map[string]*job{},
		byRef:    map[string]*job{},
		tokens:   map[string]time.Time{},
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// transition is one scheduled status change that fell due.
type transition struct {
	at     time.Time
	j      *job
	status string
}

// advance applies every scheduled transition due at or before now, in time order (ties by job
// creation order), so the change feed is chronological. Caller holds mu.
func (in *instance) advance(now time.Time) {
	var due []transition
	for _, j := range in.jobs {
		status, at := j.Status, j.enteredAt
		for {
			next, after, ok := in.schedule.next(status)
			if !ok || at.Add(after).After(now) {
				break
			}
			at = at.Add(after)
			status = next
			due = append(due, transition{at: at, j: j, status: next})
		}
	}
	slices.SortStableFunc(due, func(a, b transition) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return cmp.Compare(a.j.n, b.j.n)
	})
	for _, t := range due {
		in.setStatus(t.j, t.status, t.at)
	}
}

// setStatus records one change. Caller holds mu.
func (in *instance) setStatus(j *job, status string, at time.Time) {
	j.Status = status
	j.enteredAt = at
	if status != StatusDispatched && j.Assignee == "" {
		j.Assignee = crew[(j.n-1)%len(crew)]
	}
	in.record(j, at)
}

// record bumps a job's version and appends its new state to the change feed. Caller holds mu.
func (in *instance) record(j *job, at time.Time) {
	j.Version++
	j.UpdatedAt = at
	in.changes = append(in.changes, j.Job)
}

// create makes a job unless one with the same external reference exists, which it returns
// instead with created false. Caller holds mu.
func (in *instance) create(spec JobSpec, now time.Time) (Job, bool) {
	if j, ok := in.byRef[spec.ExternalRef]; ok {
		return j.Job, false
	}
	n := len(in.jobs) + 1
	j := &job{n: n, enteredAt: now, Job: Job{
		ID: fmt.Sprintf("%s%06d", in.idPrefix, n), ExternalRef: spec.ExternalRef, Title: spec.Title, Region: spec.Region,
		Status: StatusDispatched, CreatedAt: now,
	}}
	in.jobs = append(in.jobs, j)
	in.byID[j.ID] = j
	in.byRef[j.ExternalRef] = j
	in.record(j, now)
	return j.Job, true
}

// issueToken mints a bearer token and forgets expired ones, so memory stays bounded however
// often clients refresh. Caller holds mu.
func (in *instance) issueToken(now time.Time, ttl time.Duration) string {
	for t, exp := range in.tokens {
		if !now.Before(exp) {
			delete(in.tokens, t)
		}
	}
	tok := randomHex(24)
	in.tokens[tok] = now.Add(ttl)
	in.stats.TokensIssued++
	return tok
}

// tokenValid reports whether tok is a live token of this instance. Caller holds mu.
func (in *instance) tokenValid(tok string, now time.Time) bool {
	exp, ok := in.tokens[tok]
	if !ok {
		return false
	}
	if !now.Before(exp) {
		delete(in.tokens, tok)
		return false
	}
	return true
}

// notePoll records the start of a poll. Caller holds mu.
func (in *instance) notePoll(now time.Time) {
	in.stats.Polls++
	if in.stats.FirstPoll.IsZero() {
		in.stats.FirstPoll = now
	}
	in.stats.LastPoll = now
	if len(in.stats.PollTimes) == maxPollTimes {
		in.stats.PollTimes = slices.Delete(in.stats.PollTimes, 0, 1)
	}
	in.stats.PollTimes = append(in.stats.PollTimes, now)
}
