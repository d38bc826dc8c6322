package dialer

// placements is a heap of placements: higher priority first (P1 before P2 …), then first calls
// before repeat calls, then the oldest.
type placements []job

func (q placements) Len() int { return len(q) }
func (q placements) Less(i, j int) bool {
	a, b := q[i].cmd, q[j].cmd
	if a.Priority != b.Priority {
		return a.Priority < b.Priority
	}
	if a.First != b.First {
		return a.First
	}
	return q[i].seq < q[j].seq
}
func (q placements) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *placements) Push(x any)   { *q = append(*q, x.(job)) }
func (q *placements) Pop() any {
	old := *q
	j := old[len(old)-1]
	old[len(old)-1] = job{}
	*q = old[:len(old)-1]
	return j
}
