package runs

import (
	"fmt"
	"slices"
	"strings"

	"provgraph"
)

// State is where a tracked run is in its lifecycle (DESIGN §7).
type State string

// The states. SUCCEEDED, FAILED, ERROR and CANCELED are terminal.
const (
	Pending   State = "PENDING"
	Running   State = "RUNNING"
	Canceling State = "CANCELING"
	Succeeded State = "SUCCEEDED"
	Failed    State = "FAILED"
	Errored   State = "ERROR"
	Canceled  State = "CANCELED"
)

// States lists every state in lifecycle order.
func States() []State {
	return []State{Pending, Running, Canceling, Succeeded, Failed, Errored, Canceled}
}

// ParseState reads a state name, case-insensitively.
func ParseState(s string) (State, bool) {
	st := State(strings.ToUpper(strings.TrimSpace(s)))
	return st, slices.Contains(States(), st)
}

// Terminal reports whether nothing more happens to a run in this state (until a retry).
func (s State) Terminal() bool {
	return s == Succeeded || s == Failed || s == Errored || s == Canceled
}

// Op is something done to a run.
type Op string

// The operations that move a run. Heartbeat keeps the state.
const (
	OpClaim     Op = "claim"     // an executor takes the run and starts it
	OpHeartbeat Op = "heartbeat" // the executor extends its lease
	OpComplete  Op = "complete"  // the run's work succeeded
	OpFail      Op = "fail"      // the run's own failure
	OpError     Op = "error"     // a system failure (also the reaper, when a lease lapses)
	OpCancel    Op = "cancel"    // cancel / terminate / abort, by a user
	OpCanceled  Op = "canceled"  // the executor acknowledges a cancel (or its lease lapses)
	OpRetry     Op = "retry"     // a new attempt of a run that did not succeed
)

// Ops lists every operation.
func Ops() []Op {
	return []Op{OpClaim, OpHeartbeat, OpComplete, OpFail, OpError, OpCancel, OpCanceled, OpRetry}
}

// transition is one row of the lifecycle table.
type transition struct {
	op   Op
	from State
	to   State
}

// lifecycle is the whole state machine; storage turns each row into a conditional write.
// A running run is canceled in two steps, so the executor holding it can stop cleanly;
// while CANCELING only the acknowledgement (or the reaper) ends it, which is what makes a
// cancel racing a completion have exactly one winner.
var lifecycle = []transition{
	{OpClaim, Pending, Running},
	{OpHeartbeat, Running, Running},
	{OpHeartbeat, Canceling, Canceling},
	{OpComplete, Running, Succeeded},
	{OpFail, Running, Failed},
	{OpError, Pending, Errored},
	{OpError, Running, Errored},
	{OpCancel, Pending, Canceled},
	{OpCancel, Running, Canceling},
	{OpCanceled, Canceling, Canceled},
	{OpRetry, Failed, Pending},
	{OpRetry, Errored, Pending},
	{OpRetry, Canceled, Pending},
}

// Next is the state op leads to from from, or a conflict naming the current state.
func Next(op Op, from State) (State, error) {
	for _, t := range lifecycle {
		if t.op == op && t.from == from {
			return t.to, nil
		}
	}
	if !slices.Contains(Ops(), op) {
		return "", provgraph.Errorf(provgraph.Invalid, "unknown operation %q", op)
	}
	return "", provgraph.Errorf(provgraph.Conflict, "cannot %s a run that is %s (from: %s)", op, from, strings.Join(statesNames(From(op)), ", "))
}

// From lists the states op may start from: storage matches on exactly these.
func From(op Op) []State {
	var out []State
	for _, t := range lifecycle {
		if t.op == op {
			out = append(out, t.from)
		}
	}
	return out
}

// Reachable reports whether some operation moves a run from one state to another.
func Reachable(from, to State) bool {
	return slices.ContainsFunc(lifecycle, func(t transition) bool { return t.from == from && t.to == to })
}

// ConflictFor is the error storage returns when a conditional write matched no run in a
// state op may start from.
func ConflictFor(op Op, current State) error {
	_, err := Next(op, current)
	if err == nil {
		return provgraph.Errorf(provgraph.Conflict, "the run changed while it was being %s; it is now %s", op, current)
	}
	return err
}

func statesNames(ss []State) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = string(s)
	}
	return out
}

// String implements fmt.Stringer.
func (s State) String() string { return string(s) }

var _ fmt.Stringer = Pending
