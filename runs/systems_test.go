package runs

import (
	"slices"
	"testing"
)

// Every system names every one of our states with a name it reads back, and reads every
// name it has onto one of ours.
func TestSystemsMapEveryState(t *testing.T) {
	for _, sys := range Systems() {
		for _, s := range States() {
			name, ok := sys.Out[s]
			if !ok {
				t.Errorf("%s: no name for %s", sys.Name, s)
				continue
			}
			back, ok := sys.In[name]
			if !ok {
				t.Errorf("%s: %s is written %q, which it does not read", sys.Name, s, name)
			}
			// What comes back is the same state, or one a client of that system cannot
			// tell apart from it; never terminal for a live run or the reverse.
			if back.Terminal() != s.Terminal() {
				t.Errorf("%s: %s → %q → %s changes terminality", sys.Name, s, name, back)
			}
		}
		for name, s := range sys.In {
			if _, ok := ParseState(string(s)); !ok {
				t.Errorf("%s: %q maps to unknown %q", sys.Name, name, s)
			}
		}
	}
}

// A filter on a system's state name selects every state it writes with that name and
// the one it reads it as; an unknown name selects nothing, and a missing system panics
// at start, where the adapter reads its row.
func TestSystemSelects(t *testing.T) {
	ica := SystemNamed("Illumina ICA")
	if got := ica.Selects("Failed"); !slices.Contains(got, Failed) || !slices.Contains(got, Errored) {
		t.Fatalf("ICA Failed selects %v", got)
	}
	if got := SystemNamed("GA4GH TES").Selects("NOPE"); len(got) != 0 {
		t.Fatalf("an unknown name selects %v", got)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for a system that is not there")
		}
	}()
	SystemNamed("Nope")
}
