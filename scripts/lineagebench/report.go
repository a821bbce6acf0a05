package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

const (
	beginMark = "<!-- lineage-bench:begin -->"
	endMark   = "<!-- lineage-bench:end -->"
)

type report struct {
	When          time.Time
	Command, Code string
	Neo4j, Gen    string
	Plan          *plan
	Samples       int
	Opt           options
	API, Base     []point
}

func (rep report) find(pts []point, dir string, depth int) point {
	for _, p := range pts {
		if p.Direction == dir && p.Depth == depth {
			return p
		}
	}
	return point{}
}

func baseFig(p point, q float64, timeout time.Duration) string {
	if len(p.Times) == 0 {
		return "not run"
	}
	if p.TimedOut > 0 && p.pct(q) >= timeout {
		return fmt.Sprintf("timed out (> %s)", timeout)
	}
	return ms(p.pct(q))
}

// ratio is baseline ÷ API, "≥" when the baseline timed out.
func ratio(b, a point, q float64) string {
	if len(b.Times) == 0 || len(a.Times) == 0 || a.pct(q) == 0 {
		return "–"
	}
	s := fmt.Sprintf("%.1f×", float64(b.pct(q))/float64(a.pct(q)))
	if b.TimedOut > 0 {
		s = "≥ " + s
	}
	return s
}

func (rep report) Markdown() string {
	var b strings.Builder
	p := rep.Plan
	w := func(f string, a ...any) { fmt.Fprintf(&b, f, a...) }
	w("%s\n\n", beginMark)
	w("### Lineage at %d nodes (%s)\n\n", p.nodes(), rep.When.Format("2006-01-02 15:04 UTC"))
	w("- Command: `%s`; code: %s; %s.\n", strings.TrimSpace(rep.Command), rep.Code, rep.Neo4j)
	w("- Machine: %d CPUs, %s/%s, %s; the client, the server and Neo4j share it.\n", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version())
	w("- Graph `%s/…`: %d nodes (%d model runs, %d datasets, %d hub persons, models and workflow templates each), %d relationships; %d chains of runs, %d of them 60–150 runs long (longest %d). Each run uses 3 datasets (its chain's previous output, and two that are fresh sources or, 30%% of the time, recent outputs of other chains), generates 1–2, and is associated with, uses and is influenced by a hub. Generation: %s.\n",
		p.prefix, p.nodes(), len(p.runs), len(p.datasets), hubsPerKind, p.relationships(), p.chains, p.longChains, p.longestChain, rep.Gen)
	w("- Roots: %d datasets from the middle of the long chains (≥ 30 runs each way), cycled. API: `GET /api/v1/lineage/{id}?direction=…&depth=…&limit=10000`, %d timed requests per point after one unrecorded per root, one at a time. Baseline: Provena's form straight on Neo4j with the Go driver, every path consumed, upstream `MATCH r=((p)<-[*1..d]-(s {id:$id})) RETURN r`, downstream its mirror `MATCH r=((p)-[*1..d]->(s {id:$id})) RETURN r`; timeout %s per query (a timed-out query counts as %s and ends its point), at most %d per point or %s.\n\n",
		rep.Samples, rep.Opt.n, rep.Opt.timeout, rep.Opt.timeout, rep.Opt.n, rep.Opt.budget)
	w("| direction | depth | API p50 | API p99 | API nodes (avg) | baseline p50 | baseline p99 | baseline nodes / paths (avg) | baseline queries | baseline ÷ API (p50 / p99) |\n")
	w("|---|---|---|---|---|---|---|---|---|---|\n")
	for _, dir := range directions {
		for _, d := range depths {
			a, bp := rep.find(rep.API, dir, d), rep.find(rep.Base, dir, d)
			nodes := fmt.Sprintf("%.0f", a.avg(a.Nodes))
			if a.Truncated > 0 {
				nodes += fmt.Sprintf(" (%d truncated)", a.Truncated)
			}
			bn := fmt.Sprintf("%.0f / %.0f", bp.avg(bp.Nodes), bp.avg(bp.Paths))
			if bp.TimedOut > 0 {
				done := len(bp.Times) - bp.TimedOut
				bn = "–"
				if done > 0 {
					bn = fmt.Sprintf("%.0f / %.0f (of the %d that finished)", float64(bp.Nodes)/float64(done), float64(bp.Paths)/float64(done), done)
				}
			}
			w("| %s | %d | %s | %s | %s | %s | %s | %s | %d (%d timed out) | %s / %s |\n", dir, d, ms(a.pct(.5)), ms(a.pct(.99)), nodes,
				baseFig(bp, .5, rep.Opt.timeout), baseFig(bp, .99, rep.Opt.timeout), bn, len(bp.Times), bp.TimedOut, ratio(bp, a, .5), ratio(bp, a, .99))
		}
	}
	w("\nTargets at depth 10 (issue 5 §5, meant for 10^6 nodes; this graph has %d):\n\n", p.nodes())
	for _, dir := range directions {
		a, bp := rep.find(rep.API, dir, 10), rep.find(rep.Base, dir, 10)
		met := func(ok bool) string {
			if ok {
				return "met"
			}
			return "missed"
		}
		r := 0.0
		if a.pct(.99) > 0 {
			r = float64(bp.pct(.99)) / float64(a.pct(.99))
		}
		w("- %s: p99 %s < 50 ms: **%s**; baseline p99 %s ÷ API p99 = %s ≥ 10×: **%s**.\n", dir, ms(a.pct(.99)), met(a.pct(.99) < 50*time.Millisecond),
			baseFig(bp, .99, rep.Opt.timeout), ratio(bp, a, .99), met(r >= 10))
	}
	w("\n%s\n", endMark)
	return b.String()
}

// writeReport puts md between the markers in path, appending them at the end when the
// file has none; the rest of the file is left as it was.
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
		if s != "" && !strings.HasSuffix(s, "\n") {
			s += "\n"
		}
		if s != "" {
			s += "\n"
		}
		s += md
	}
	return os.WriteFile(path, []byte(s), 0o644)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

func codeState() string {
	head, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown (not a git checkout)"
	}
	return "commit " + strings.TrimSpace(string(head))
}
