package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"provgraph/scripts/internal/benchserver"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// report is everything measured in one run of the benchmark.
type report struct {
	When    time.Time
	Command string
	Machine string
	Code    string
	Neo4j   string
	Prefix  string
	Fixture string
	Results []result
	Memory  benchserver.Memory
	Options options
}

// The targets.
const (
	targetAPIShare   = 0.50 // API rate / raw rate at concurrency 8
	targetP99        = 100 * time.Millisecond
	targetBatchGain  = 5.0       // batch rate / single rate
	targetServerPeak = 200 << 20 // bytes (MiB)
	// lifecycles/s through the API / the same Cypher straight on Neo4j, at concurrency 8
	targetLifecycleShare = 0.50
)

const (
	beginMark = "<!-- bench:begin -->"
	endMark   = "<!-- bench:end -->"
)

func (rep report) find(section string, concurrency, batch int, label ...string) (result, bool) {
	for _, r := range rep.Results {
		if len(label) > 0 && r.Label != label[0] {
			continue
		}
		if r.Section == section && r.Concurrency == concurrency && r.Batch == batch && r.Skipped == "" {
			return r, true
		}
	}
	return result{}, false
}

// Markdown is the report, between the markers writeReport replaces.
func (rep report) Markdown() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("%s\n## Measured %s\n\n", beginMark, rep.When.Format("2006-01-02 15:04 MST"))
	p("- Command: `%s`\n", rep.Command)
	p("- Code: %s\n", rep.Code)
	p("- Machine: %s\n", rep.Machine)
	p("- Database: %s, on the same machine (`%s`)\n", rep.Neo4j, rep.Options.neo4jURI)
	p("- Server: `%s serve` started by the benchmark, id prefix `%s`; fixture: %s; ", rep.Options.bin, rep.Prefix, rep.Fixture)
	if rep.Options.count > 0 {
		p("%d requests per phase", rep.Options.count)
	} else {
		p("%s per raw/API phase, %s per batch phase, %s per lifecycle phase", rep.Options.duration, rep.Options.batchDuration, rep.Options.lifeDuration)
	}
	p(", %s unrecorded warm-up per section\n\n", rep.Options.warmup)

	if slices.ContainsFunc(rep.Results, func(r result) bool { return r.Section != "lifecycle" && r.Skipped == "" }) {
		p("| section | what | concurrency | records/request | requests | errors | records/s | p50 | p99 | CPU/record: server, Neo4j, client | machine busy | transactions open / waiting for a lock |\n")
		p("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	}
	var skipped []result
	for _, r := range rep.Results {
		if r.Skipped != "" {
			skipped = append(skipped, r)
			continue
		}
		if r.Section == "lifecycle" {
			continue // its own tables, below
		}
		p("| %s | %s | %d | %d | %d | %d | %.1f | %s | %s | %s | %.0f%% | %.1f / %.1f |\n", r.Section, r.Label, r.Concurrency, r.Batch, r.Requests, r.Errors,
			r.Rate(), ms(r.Percentile(0.50)), ms(r.Percentile(0.99)), r.cpuSplit(), r.MachineBusy*100, r.Open, r.Blocked)
	}
	pending := false
	for _, r := range skipped {
		if r.Concurrency == 0 {
			pending = true
			p("\n**%s: pending.** %s\n", r.Label, r.Skipped)
		} else {
			p("\n%s at concurrency %d: not run (%s).\n", r.Label, r.Concurrency, r.Skipped)
		}
	}
	for _, r := range rep.Results {
		for _, e := range r.FirstErrors {
			p("\nError seen in %s at concurrency %d: `%s`\n", r.Label, r.Concurrency, oneLine(e))
		}
	}

	rep.lifecycleMarkdown(p)

	p("\n### Against the targets\n\n| figure | target | measured | |\n|---|---|--:|---|\n")
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "**missed**"
	}
	for _, c := range rep.Options.concurrencies {
		api, ok1 := rep.find("api", c, 1)
		raw, ok2 := rep.find("raw", c, 1)
		if !ok1 || !ok2 || raw.Rate() == 0 {
			continue
		}
		share := api.Rate() / raw.Rate()
		if c == 8 {
			p("| API rate / raw rate, c=%d | ≥ %.0f%% | %.0f%% (%.1f / %.1f runs/s) | %s |\n", c, targetAPIShare*100, share*100, api.Rate(), raw.Rate(), verdict(share >= targetAPIShare))
			p("| API p99, c=%d | < %s | %s | %s |\n", c, ms(targetP99), ms(api.Percentile(0.99)), verdict(api.Percentile(0.99) < targetP99))
		} else {
			p("| API rate / raw rate, c=%d | (none) | %.0f%% (%.1f / %.1f runs/s) | |\n", c, share*100, api.Rate(), raw.Rate())
		}
	}
	if shares := rep.pairShares(); len(shares) > 0 {
		var each []string
		for _, x := range shares {
			each = append(each, fmt.Sprintf("%.0f%%", x*100))
		}
		med := median(shares)
		p("| API rate / raw rate, c=%d, median of %d interleaved pairs | ≥ %.0f%% | %.0f%% (pairs: %s) | %s |\n",
			rep.Options.pairsC, len(shares), targetAPIShare*100, med*100, strings.Join(each, ", "), verdict(med >= targetAPIShare))
	}
	for _, size := range rep.Options.batchSizes {
		for _, c := range rep.Options.batchConcurrencies {
			batch, ok1 := rep.find("batch", c, size)
			single, ok2 := rep.find("api", c, 1)
			if !ok1 || !ok2 || single.Rate() == 0 {
				continue
			}
			gain := batch.Rate() / single.Rate()
			p("| batch of %d / single, c=%d | ≥ %.0f× | %.1f× (%.1f / %.1f runs/s) | %s |\n", size, c, targetBatchGain, gain, batch.Rate(), single.Rate(), verdict(gain >= targetBatchGain))
		}
	}
	if pending {
		p("| batch / single | ≥ %.0f× | pending: the route was not there | |\n", targetBatchGain)
	}
	for _, c := range rep.Options.lifeConcurrencies {
		api, ok1 := rep.find("lifecycle", c, 1, "API lifecycle")
		raw, ok2 := rep.find("lifecycle", c, 1, "raw lifecycle")
		if !ok1 || !ok2 || raw.Rate() == 0 {
			continue
		}
		share := api.Rate() / raw.Rate()
		if c == 8 {
			p("| lifecycle API rate / raw rate, c=%d | ≥ %.0f%% | %.0f%% (%.1f / %.1f lifecycles/s) | %s |\n", c, targetLifecycleShare*100, share*100, api.Rate(), raw.Rate(), verdict(share >= targetLifecycleShare))
		} else {
			p("| lifecycle API rate / raw rate, c=%d | (none) | %.0f%% (%.1f / %.1f lifecycles/s) | |\n", c, share*100, api.Rate(), raw.Rate())
		}
	}
	for _, v := range []versus{kfpVersus, tesVersus, flowservVersus, azuremlVersus} {
		rep.versusTarget(p, v)
	}
	p("| server peak RSS (VmHWM) | < %d MiB | %.1f MiB | %s |\n", targetServerPeak>>20, float64(rep.Memory.Peak)/(1<<20), verdict(rep.Memory.Peak < targetServerPeak))
	p("%s\n", endMark)
	return b.String()
}

// writeReport puts md between the markers of an existing file, keeping what is around
// them, or writes it as the whole file.
func writeReport(path, md string) error {
	old, err := os.ReadFile(path)
	if err == nil {
		s := string(old)
		i, j := strings.Index(s, beginMark), strings.Index(s, endMark)
		if i >= 0 && j > i {
			md = s[:i] + strings.TrimSuffix(md, "\n") + s[j+len(endMark):]
		}
	} else if !os.IsNotExist(err) {
		return err
	}
	return os.WriteFile(path, []byte(md), 0o644)
}

func ms(d time.Duration) string { return msPrec(d, 1) }

// cpuSplit is the processor time per record of the server, Neo4j and the client, in ms.
func (r result) cpuSplit() string {
	db := "?"
	if r.DBCPU > 0 {
		db = strconv.FormatFloat(float64(r.perRecord(r.DBCPU))/float64(time.Millisecond), 'f', 2, 64)
	}
	return fmt.Sprintf("%.2f, %s, %.2f ms", float64(r.CPUPerRecord())/float64(time.Millisecond), db,
		float64(r.perRecord(r.ClientCPU))/float64(time.Millisecond))
}

func msPrec(d time.Duration, prec int) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', prec, 64) + " ms"
}

func oneLine(s string) string {
	s = strings.ReplaceAll(strings.ReplaceAll(s, "\n", " "), "`", "'")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// machine describes where the benchmark ran.
func machine() string {
	model := "unknown CPU"
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	mem := "unknown memory"
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "MemTotal:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				mem = fmt.Sprintf("%.1f GiB memory", float64(kb)/(1<<20))
			}
		}
	}
	return fmt.Sprintf("%d CPUs (nproc; %s), %s, %s/%s, %s; the client, the server and Neo4j share it",
		runtime.NumCPU(), model, mem, runtime.GOOS, runtime.GOARCH, runtime.Version())
}

// codeState names the commit the server was built from and any uncommitted Go changes
// outside scripts/, since a benchmark of work in progress must say so.
func codeState() string {
	head, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown (not a git checkout)"
	}
	out, _ := exec.Command("git", "status", "--porcelain").Output()
	var dirty []string
	for _, l := range strings.Split(string(out), "\n") {
		if len(l) < 4 || !strings.HasSuffix(l, ".go") || strings.HasPrefix(l[3:], "scripts/") {
			continue
		}
		dirty = append(dirty, l[3:])
	}
	s := "commit " + strings.TrimSpace(string(head))
	if len(dirty) > 0 {
		s += fmt.Sprintf(" plus uncommitted changes to %d Go files (%s)", len(dirty), strings.Join(dirty, ", "))
	}
	return s
}

func commandLine(args []string) string {
	if len(args) == 0 {
		return "make bench"
	}
	return "make bench BENCHFLAGS='" + strings.Join(args, " ") + "'"
}

// pairShares are the API/raw rate ratios of the pairs section, pair by pair.
func (rep report) pairShares() []float64 {
	var out []float64
	for i := 1; ; i++ {
		raw, ok1 := rep.find("pairs", rep.Options.pairsC, 1, fmt.Sprintf("raw Cypher, pair %d", i))
		api, ok2 := rep.find("pairs", rep.Options.pairsC, 1, fmt.Sprintf("API single, pair %d", i))
		if !ok1 || !ok2 || raw.Rate() == 0 {
			return out
		}
		out = append(out, api.Rate()/raw.Rate())
	}
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
