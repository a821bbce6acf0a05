package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"
)

const (
	beginMark = "<!-- faults:begin -->"
	endMark   = "<!-- faults:end -->"
)

// report is what a fault run found.
type report struct {
	Opt       options
	Code      string
	Verdict   verdict
	Timings   timings
	Load      *load
	Neo4jPort int
	Problems  []string
}

// counts are the answers over the whole run and during Neo4j's outage.
func (r report) counts() (all, down tally) {
	all.Status, down.Status = map[int]int{}, map[int]int{}
	add := func(into *tally, t *tally) {
		into.Requests += t.Requests
		into.RetryAfter += t.RetryAfter
		into.Transport += t.Transport
		into.Slowest = max(into.Slowest, t.Slowest)
		for s, n := range t.Status {
			into.Status[s] += n
		}
		into.Samples = append(into.Samples, t.Samples...)
	}
	for name, t := range r.Load.tallies {
		add(&all, t)
		if strings.HasPrefix(name, "Neo4j down") {
			add(&down, t)
		}
	}
	return all, down
}

// problems are the checks the run failed.
func (r report) problems() []string {
	var p []string
	v := r.Verdict
	if len(v.Lost) > 0 {
		p = append(p, fmt.Sprintf("%d acknowledged registrations are not in the graph: %s", len(v.Lost), first(v.Lost)))
	}
	if len(v.Partial) > 0 {
		p = append(p, fmt.Sprintf("%d model runs are partial: %s", len(v.Partial), first(v.Partial)))
	}
	if len(v.Duplicated) > 0 {
		p = append(p, fmt.Sprintf("%d writes were registered more than once: %s", len(v.Duplicated), first(v.Duplicated)))
	}
	if len(v.Refused) > 0 {
		p = append(p, fmt.Sprintf("%d writes got an answer other than 201 or 503: %s", len(v.Refused), first(v.Refused)))
	}
	if len(v.LifecycleLost) > 0 {
		p = append(p, fmt.Sprintf("%d acknowledged run transitions do not show: %s", len(v.LifecycleLost), first(v.LifecycleLost)))
	}
	if len(v.LifecycleRefused) > 0 {
		p = append(p, fmt.Sprintf("%d lifecycles got an unexpected answer: %s", len(v.LifecycleRefused), first(v.LifecycleRefused)))
	}
	if v.Acked == 0 {
		p = append(p, "no registration was acknowledged at all")
	}
	all, down := r.counts()
	if n := all.count(func(s int) bool { return s >= 500 && s != 503 }); n > 0 {
		p = append(p, fmt.Sprintf("%d answers were 5xx other than 503: %s", n, first(all.Samples)))
	}
	if n := all.Status[503] - all.RetryAfter; n > 0 {
		p = append(p, fmt.Sprintf("%d 503s came without Retry-After: %s", n, first(all.Samples)))
	}
	if down.Status[503] == 0 {
		p = append(p, "no client saw a 503 while Neo4j was down")
	}
	for _, name := range r.Load.order {
		if t := r.Load.tallies[name]; t.Transport > 0 && !strings.HasPrefix(name, "server down") {
			p = append(p, fmt.Sprintf("%d requests got no HTTP answer in phase %q, where the server was up", t.Transport, name))
		}
	}
	return p
}

func (t tally) count(match func(int) bool) int {
	n := 0
	for s, c := range t.Status {
		if match(s) {
			n += c
		}
	}
	return n
}

func first(l []string) string {
	if len(l) == 0 {
		return ""
	}
	if len(l) > 1 {
		return l[0] + fmt.Sprintf(" (and %d more)", len(l)-1)
	}
	return l[0]
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

// markdown is the report, between the markers writeReport replaces.
func (r report) markdown() string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	v, tm, o := r.Verdict, r.Timings, r.Opt
	all, down := r.counts()
	cmd := "make faults"
	if len(o.args) > 0 {
		cmd = "go run ./scripts/faults " + strings.Join(o.args, " ")
	}
	p("%s\n", beginMark)
	p("Measured with `%s` on %s, %s, server built from %s; %s in all.\n", cmd, time.Now().UTC().Format("2006-01-02"), machine(), r.Code, tm.Total.Round(time.Second))
	p("Load: %d writers registering model runs (2 inputs, 2 outputs each; every write resent with its Idempotency-Key after %s on 503 or no answer, until acknowledged), one client creating, claiming and completing tracked runs, one reader, and /readyz polled every 100 ms during the faults. ", o.concurrency, o.backoff)
	p("Phases: %s of load; Neo4j SIGKILLed (%d registrations in flight), down %s, restarted; %s of load; the server SIGKILLed (%d in flight), down %s, restarted; %s of load; pending writes retried for up to %s.\n\n",
		o.steady, tm.InflightNeo4jKill, secs(tm.Neo4jDown), o.steady, tm.InflightSrvKill, o.serverDown, o.steady, o.drain)
	p("| figure | value | pass |\n|---|---|---|\n")
	ok := func(b bool) string {
		if b {
			return "yes"
		}
		return "**NO**"
	}
	p("| registrations acknowledged (201) / attempted | %d / %d | %s |\n", v.Acked, v.Attempted, ok(v.Acked > 0))
	p("| acknowledged only after retrying / of them with the record an earlier, unanswered attempt had committed (Idempotency-Key replay) | %d / %d | |\n", v.AckedAfterRetry, v.Replayed)
	p("| acknowledged but lost (not in the graph under the id given) | %d | %s |\n", len(v.Lost), ok(len(v.Lost) == 0))
	p("| model runs in the graph / of them committed but never acknowledged | %d / %d | |\n", v.InGraph, v.UnackedCommitted)
	p("| partial model runs (a USED, WAS_GENERATED_BY, WAS_ASSOCIATED_WITH or WAS_INFORMED_BY its document names missing or doubled) | %d | %s |\n", len(v.Partial), ok(len(v.Partial) == 0))
	p("| writes registered twice by their retries | %d | %s |\n", len(v.Duplicated), ok(len(v.Duplicated) == 0))
	p("| writes still unacknowledged when the drain ended | %d | |\n", v.NeverAnswered)
	p("| tracked runs created / completed; transitions acknowledged or seen done | %d / %d; %d | |\n", v.LifecyclesAcked, v.LifecyclesCompleted, v.LifecycleOps)
	p("| acknowledged transitions missing from a run's state or events | %d | %s |\n", len(v.LifecycleLost), ok(len(v.LifecycleLost) == 0))
	p("| answers while Neo4j was down or restarting / of them 503 with Retry-After | %d / %d | %s |\n", down.Requests, down.RetryAfter, ok(down.RetryAfter > 0))
	p("| 500s (any 5xx but 503), whole run | %d | %s |\n", all.count(func(s int) bool { return s >= 500 && s != 503 }), ok(all.count(func(s int) bool { return s >= 500 && s != 503 }) == 0))
	p("| 503s without Retry-After, whole run | %d | %s |\n", all.Status[503]-all.RetryAfter, ok(all.Status[503] == all.RetryAfter))
	p("| Neo4j restart: start to Bolt answering | %s | |\n", secs(tm.Neo4jRestart))
	p("| Bolt answering to a query by a fresh driver (Neo4j's own recovery) | %s | |\n", secs(tm.QueryAfterBolt))
	p("| Bolt answering to /readyz 200 (same server process: %s) | %s | %s |\n", ok(tm.SamePid), secs(tm.ReadyAfterBolt), ok(tm.SamePid && tm.ReadyAfterKill > 0))
	p("| Bolt answering to the first acknowledged write | %s | %s |\n", secs(tm.WriteAfterBolt), ok(tm.WriteAfterKill > 0))
	p("| SIGKILL of Neo4j to /readyz 200, to the first write | %s, %s | |\n", secs(tm.ReadyAfterKill), secs(tm.WriteAfterKill))
	p("| server restart to /readyz 200, to the first write | %s, %s | %s |\n", secs(tm.ServerStart), secs(tm.WriteAfterServer), ok(tm.WriteAfterServer > 0))
	p("\nAnswers by phase (an answer counts in the phase it arrived in; \"no answer\" is a refused or reset connection):\n\n")
	p("| phase | requests | 2xx | 503 (with Retry-After) | 409 | other 4xx | 5xx but 503 | no answer | slowest answer |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, name := range r.Load.order {
		t := r.Load.tallies[name]
		p("| %s | %d | %d | %d (%d) | %d | %d | %d | %d | %s |\n", name, t.Requests,
			t.count(func(s int) bool { return s >= 200 && s < 300 }), t.Status[503], t.RetryAfter, t.Status[409],
			t.count(func(s int) bool { return s >= 400 && s < 500 && s != 409 }),
			t.count(func(s int) bool { return s >= 500 && s != 503 }), t.Transport, secs(t.Slowest))
	}
	if len(r.Problems) > 0 {
		p("\nFailed checks:\n")
		for _, pr := range r.Problems {
			p("- %s\n", pr)
		}
	}
	p("%s\n", endMark)
	return b.String()
}

// writeReport puts md between the markers of an existing file, keeping what is around
// them; a file without the markers gets the report appended.
func writeReport(path, md string) error {
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	s := string(old)
	i, j := strings.Index(s, beginMark), strings.Index(s, endMark)
	if i >= 0 && j > i {
		s = s[:i] + strings.TrimSuffix(md, "\n") + s[j+len(endMark):]
	} else {
		s = strings.TrimRight(s, "\n") + "\n\n" + md
	}
	return os.WriteFile(path, []byte(s), 0o644)
}

// machine says where the run ran.
func machine() string {
	return fmt.Sprintf("%d CPUs (shared by the client, the server, Neo4j and other work), %s/%s, %s", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version())
}

// codeState names the commit, and says when Go files outside scripts/ differ from it.
func codeState() string {
	head, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "an unknown commit (not a git checkout)"
	}
	out, _ := exec.Command("git", "status", "--porcelain").Output()
	var dirty []string
	for _, l := range strings.Split(string(out), "\n") {
		if len(l) > 3 && strings.HasSuffix(l, ".go") && !strings.HasPrefix(l[3:], "scripts/") {
			dirty = append(dirty, l[3:])
		}
	}
	s := "commit " + strings.TrimSpace(string(head))
	if len(dirty) > 0 {
		slices.Sort(dirty)
		s += " plus uncommitted changes to " + strings.Join(dirty, ", ")
	}
	return s
}
