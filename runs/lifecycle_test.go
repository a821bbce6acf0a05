package runs

import (
	"testing"

	"provgraph"
)

// The expected matrix, written out by hand: row = from, column = to, in the order of
// States(); 1 where some operation moves a run from row to column.
var reachable = map[State]string{
	//           P R C S F E X   (PENDING RUNNING CANCELING SUCCEEDED FAILED ERROR CANCELED)
	Pending:   "0100011",
	Running:   "0111110",
	Canceling: "0010001",
	Succeeded: "0000000",
	Failed:    "1000000",
	Errored:   "1000000",
	Canceled:  "1000000",
}

func TestLifecycleEveryPair(t *testing.T) {
	for _, from := range States() {
		for j, to := range States() {
			want := reachable[from][j] == '1'
			if got := Reachable(from, to); got != want {
				t.Errorf("%s → %s: reachable %v, want %v", from, to, got, want)
			}
		}
	}
}

// Every (operation, state) pair: the resulting state, or "409".
func TestLifecycleEveryOperation(t *testing.T) {
	want := map[Op]map[State]State{
		OpClaim:     {Pending: Running},
		OpHeartbeat: {Running: Running, Canceling: Canceling},
		OpComplete:  {Running: Succeeded},
		OpFail:      {Running: Failed},
		OpError:     {Pending: Errored, Running: Errored},
		OpCancel:    {Pending: Canceled, Running: Canceling},
		OpCanceled:  {Canceling: Canceled},
		OpRetry:     {Failed: Pending, Errored: Pending, Canceled: Pending},
	}
	for _, op := range Ops() {
		for _, from := range States() {
			got, err := Next(op, from)
			to, ok := want[op][from]
			switch {
			case ok && (err != nil || got != to):
				t.Errorf("%s from %s: %s %v, want %s", op, from, got, err, to)
			case !ok && provgraph.ErrorCode(err) != provgraph.Conflict:
				t.Errorf("%s from %s: %s %v, want a conflict", op, from, got, err)
			}
		}
	}
	if _, err := Next("explode", Running); provgraph.ErrorCode(err) != provgraph.Invalid {
		t.Errorf("unknown op: %v", err)
	}
}

func TestTerminalStatesHaveNoWayOutButRetry(t *testing.T) {
	for _, s := range States() {
		for _, op := range Ops() {
			if _, err := Next(op, s); s.Terminal() && err == nil && op != OpRetry {
				t.Errorf("%s leaves terminal %s", op, s)
			}
		}
	}
	if _, ok := ParseState("running"); !ok {
		t.Error("states parse case-insensitively")
	}
	if _, ok := ParseState("DONE"); ok {
		t.Error("DONE is not a state")
	}
}
