package web

import (
	"testing"

	"github.com/osprey-strike/strike/schemas"
)

// Every call result and skip reason the schemas allow has words, so the page never shows a code.
func TestEveryCallResultAndSkipReasonHasWords(t *testing.T) {
	for _, r := range schemas.CallResults {
		if _, ok := resultWords[r]; !ok {
			t.Errorf("call result %q has no words", r)
		}
	}
	for _, r := range schemas.SkipReasons {
		if w := skipWhy(r, nil, nil); w == "" || w == r {
			t.Errorf("skip reason %q is said as %q", r, w)
		}
	}
}
