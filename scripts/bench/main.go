// Command bench measures how fast provgraph registers model runs, against the floor of
// writing the same graph straight to Neo4j, and how much memory the server needs.
//
// It builds and starts its own server (a free 127.0.0.1 port, its own admin token and a
// PROVGRAPH_ID_PREFIX unique to the run) on the Neo4j that is already running, seeds a
// fixture through the API, then runs its sections in turn:
//
//   - raw:   the run's graph written with one hand-written Cypher transaction per run
//     (the Go driver, no validation reads): the floor;
//   - api:   POST /api/v1/model-runs, one run per request;
//   - batch: POST /api/v1/model-runs:batch, 100 and 1000 runs per request (skipped with
//     a message when the route answers 404/405);
//   - lifecycle: tracked runs, create → claim → 10 heartbeats → one metrics report →
//     complete, through /api/v1/runs (claims by a separate executor token) and as the
//     same conditional Cypher straight on Neo4j, one transaction per operation.
//
// Each at several concurrencies, closed loop, timing every request. It prints a Markdown
// report (rates, p50/p99, the server's peak RSS, the ratios against the targets) and with
// -out writes it into a file. The server is stopped with SIGTERM at the end; Neo4j keeps
// running and the data stay, under the run's id prefix.
//
//	make bench BENCHFLAGS='-duration 5s -out docs/benchmarks.md'
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"provgraph/scripts/internal/benchserver"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"provgraph/registry"
	"provgraph/scripts/internal/apiclient"
	"provgraph/scripts/internal/fixture"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// options are the flags.
type options struct {
	bin, neo4jURI, out   string
	neo4jPIDFile         string
	build                bool
	duration, warmup     time.Duration
	batchDuration        time.Duration
	count                int
	concurrencies        []int
	batchSizes           []int
	batchConcurrencies   []int
	datasets             int
	batchInFlight        int
	sections             []string
	neo4jUser, neo4jPass string
	neo4jDB              string
	args                 []string

	pairs, pairsC int // interleaved raw/API phases: how many pairs, at what concurrency

	lifeConcurrencies []int
	lifeDuration      time.Duration
	lifeHeartbeats    int
	lifeMetrics       int
}

// bench is the state the sections share.
type bench struct {
	opt    options
	log    io.Writer
	srv    *benchserver.Server
	api    *apiclient.Client
	raw    *rawWriter
	f      fixture.Fixture
	seq    counter
	prefix string
	neo4j  string // version, for the report
}

// A section measures one way of registering records and returns a row per phase.
type section struct {
	name  string
	about string
	run   func(b *bench, ctx context.Context) ([]result, error)
}

func sections() []section {
	return []section{
		{"raw", "the run's graph in one hand-written Cypher write transaction per run (Go driver, no validation reads)", (*bench).rawSection},
		{"api", "POST /api/v1/model-runs, one run per request", (*bench).apiSection},
		{"pairs", "raw and API phases interleaved, so that the database warming up or the machine's load drifting moves both sides of each ratio alike", (*bench).pairsSection},
		{"batch", "POST /api/v1/model-runs:batch (atomic), many runs per request", (*bench).batchSection},
		{"lifecycle", "tracked runs: create → claim → heartbeats → metrics → complete, through the API and as the same Cypher straight on Neo4j", (*bench).lifecycleSection},
		{"kfp", "a run's create → get → terminate through the KFP API against create → get → cancel natively, interleaved pairs", (*bench).kfpSection},
		{"tes", "GA4GH TES create → get → cancel against the same operations on the native routes, interleaved pairs", (*bench).tesSection},
		{"flowserv", "flowserv start_run → get_run → cancel_run against create → get → cancel on the native routes, interleaved pairs", (*bench).flowservSection},
		{"azureml", "Azure ML snapshotrun → get → cancel against create → get → cancel on the native routes, interleaved pairs", (*bench).azuremlSection},
		{"provena", "Provena register → fetch job against native register → get of the same model runs, interleaved pairs", (*bench).provenaSection},
	}
}

func run(args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	opt, err := parseFlags(args, stderr, getenv)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	code := codeState() // before the run: what the server is built from
	if opt.build {
		fmt.Fprintf(stderr, "building %s\n", opt.bin)
		cmd := exec.CommandContext(ctx, "go", "build", "-o", opt.bin, "./cmd/provgraph")
		cmd.Stdout, cmd.Stderr = stderr, stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go build ./cmd/provgraph: %w (run from the repository root, or pass -build=false -bin <binary>)", err)
		}
	}
	dir, err := os.MkdirTemp("", "provgraph-bench-")
	if err != nil {
		return err
	}
	b := &bench{opt: opt, log: stderr, prefix: "bench-" + time.Now().UTC().Format("20060102T150405") + "-" + benchserver.RandomHex(3)}

	fmt.Fprintf(stderr, "starting the server (id prefix %s, log %s/server.log)\n", b.prefix, dir)
	b.srv, err = benchserver.Start(ctx, benchserver.Config{Bin: opt.bin, Neo4jURI: opt.neo4jURI, Prefix: b.prefix, Dir: dir, MaxBody: 64 << 20})
	if err != nil {
		return err
	}
	defer func() {
		if err := b.srv.Stop(); err != nil {
			fmt.Fprintf(stderr, "stopping the server: %v\n", err)
		}
	}()
	b.api = apiclient.New(b.srv.URL, b.srv.Token, 64)

	t0 := time.Now()
	b.f, err = fixture.Seed(ctx, b.api, opt.datasets, b.prefix)
	if err != nil {
		return fmt.Errorf("seeding the fixture: %w", err)
	}
	fmt.Fprintf(stderr, "seeded the fixture (%d datasets) in %s\n", len(b.f.Datasets), time.Since(t0).Round(time.Millisecond))
	b.raw, err = newRawWriter(ctx, opt.neo4jURI, opt.neo4jUser, opt.neo4jPass, opt.neo4jDB, registry.NewIDs(b.prefix+"/raw"), b.f)
	if err != nil {
		return err
	}
	defer b.raw.Close(context.Background())
	b.neo4j = b.raw.neo4jVersion(ctx)

	var results []result
	for _, s := range sections() {
		if !slices.Contains(opt.sections, s.name) {
			continue
		}
		fmt.Fprintf(stderr, "== %s: %s\n", s.name, s.about)
		rs, err := s.run(b, ctx)
		if err != nil {
			return fmt.Errorf("section %s: %w", s.name, err)
		}
		results = append(results, rs...)
	}
	mem, err := b.srv.Memory()
	if err != nil {
		return fmt.Errorf("reading the server's memory: %w", err)
	}
	rep := report{When: time.Now().UTC(), Command: commandLine(args), Code: code, Machine: machine(), Neo4j: b.neo4j, Prefix: b.prefix,
		Fixture: fmt.Sprintf("%d datasets", len(b.f.Datasets)), Results: results, Memory: mem, Options: opt}
	md := rep.Markdown()
	fmt.Fprint(stdout, md)
	if opt.out != "" {
		if err := writeReport(opt.out, md); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "wrote %s\n", opt.out)
	}
	return nil
}

// measure runs a warm-up (unrecorded) and then one phase per concurrency.
func (b *bench) measure(ctx context.Context, sectionName, label string, batch int, concurrencies []int, d time.Duration, o op) []result {
	if b.opt.warmup > 0 {
		drive(ctx, phase{Concurrency: concurrencies[0], Duration: b.opt.warmup}, &b.seq, o)
	}
	var out []result
	for _, c := range concurrencies {
		if batch*c > b.opt.batchInFlight && batch > 1 {
			why := fmt.Sprintf("%d requests of %d records in flight exceed -batch-inflight %d", c, batch, b.opt.batchInFlight)
			fmt.Fprintf(b.log, "   %-22s c=%-3d skipped: %s\n", label, c, why)
			out = append(out, result{Section: sectionName, Label: label, Batch: batch, Concurrency: c, Skipped: why})
			continue
		}
		out = append(out, b.measureOne(ctx, sectionName, label, batch, c, d, o))
	}
	return out
}

// measureOne runs one recorded phase at concurrency c, with the server's CPU, the
// machine's load and the database's lock waits over it.
func (b *bench) measureOne(ctx context.Context, sectionName, label string, batch, c int, d time.Duration, o op) result {
	ph := phase{Concurrency: c, Duration: d, Count: b.opt.count}
	cpu0, _ := b.srv.CPU()
	db0, dbErr := b.dbCPU()
	client0, _ := benchserver.ProcessCPU(os.Getpid())
	busy0, total0 := benchserver.MachineCPU()
	stopSampling := b.sampleLocks(ctx)
	r := drive(ctx, ph, &b.seq, o)
	r.Open, r.Blocked = stopSampling()
	cpu1, _ := b.srv.CPU()
	db1, _ := b.dbCPU()
	client1, _ := benchserver.ProcessCPU(os.Getpid())
	busy1, total1 := benchserver.MachineCPU()
	r.Section, r.Label, r.Batch = sectionName, label, batch
	r.ServerCPU, r.ClientCPU = cpu1-cpu0, client1-client0
	if dbErr == nil {
		r.DBCPU = db1 - db0
	}
	if total1 > total0 {
		r.MachineBusy = float64(busy1-busy0) / float64(total1-total0)
	}
	fmt.Fprintf(b.log, "   %-22s c=%-3d %8.1f records/s  p50 %-8s p99 %-8s CPU per record (server, Neo4j, client) %s, machine %3.0f%% busy, %.1f of %.1f transactions waiting for locks (%d requests, %d errors)\n",
		label, c, r.Rate(), r.Percentile(0.50).Round(100*time.Microsecond), r.Percentile(0.99).Round(100*time.Microsecond),
		r.cpuSplit(), r.MachineBusy*100, r.Blocked, r.Open, r.Requests, r.Errors)
	for _, e := range r.FirstErrors {
		fmt.Fprintf(b.log, "     error: %s\n", e)
	}
	return r
}

// dbCPU is the processor time Neo4j has used, from the process in -neo4j-pidfile.
func (b *bench) dbCPU() (time.Duration, error) {
	pid, err := os.ReadFile(b.opt.neo4jPIDFile)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(pid)))
	if err != nil {
		return 0, fmt.Errorf("%s: %w", b.opt.neo4jPIDFile, err)
	}
	return benchserver.ProcessCPU(n)
}

// sampleLocks samples the database's transactions every 100 ms until the returned
// function is called, which returns the mean open and lock-waiting counts.
func (b *bench) sampleLocks(ctx context.Context) func() (open, blocked float64) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan [2]float64)
	go func() {
		var sumOpen, sumBlocked, n float64
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				if n == 0 {
					n = 1
				}
				done <- [2]float64{sumOpen / n, sumBlocked / n}
				return
			case <-t.C:
				o, bl, err := b.raw.blockedTransactions(ctx)
				if err == nil {
					sumOpen, sumBlocked, n = sumOpen+float64(o), sumBlocked+float64(bl), n+1
				}
			}
		}
	}()
	return func() (float64, float64) {
		cancel()
		v := <-done
		return v[0], v[1]
	}
}

func (b *bench) rawSection(ctx context.Context) ([]result, error) {
	if err := b.raw.learnProvJSON(ctx, b.api, b.seq.next()); err != nil {
		return nil, err
	}
	if b.raw.provJSON == "" {
		fmt.Fprintf(b.log, "   this server stores no prov_json with a run; neither does the raw writer\n")
	}
	return b.measure(ctx, "raw", "raw Cypher", 1, b.opt.concurrencies, b.opt.duration, b.raw.write), nil
}

func (b *bench) apiSection(ctx context.Context) ([]result, error) {
	return b.measure(ctx, "api", "API single", 1, b.opt.concurrencies, b.opt.duration, postRun(b.api, b.f)), nil
}

// pairsSection runs -pairs pairs of a raw and an API phase at -pairs-c, one right after
// the other, in alternating order (raw first, then API first, …): each pair's ratio is
// measured under the same conditions, and the report gives every ratio and their median.
func (b *bench) pairsSection(ctx context.Context) ([]result, error) {
	var out []result
	for i := 1; i <= b.opt.pairs; i++ {
		raw := func() result {
			return b.measureOne(ctx, "pairs", fmt.Sprintf("raw Cypher, pair %d", i), 1, b.opt.pairsC, b.opt.duration, b.raw.write)
		}
		api := func() result {
			return b.measureOne(ctx, "pairs", fmt.Sprintf("API single, pair %d", i), 1, b.opt.pairsC, b.opt.duration, postRun(b.api, b.f))
		}
		if i%2 == 1 {
			out = append(out, raw(), api())
		} else {
			a := api()
			out = append(out, raw(), a)
		}
	}
	return out, nil
}

func (b *bench) batchSection(ctx context.Context) ([]result, error) {
	why, err := probeBatch(ctx, b.api)
	if err != nil {
		return nil, err
	}
	if why != "" {
		fmt.Fprintf(b.log, "   skipped: %s\n", why)
		return []result{{Section: "batch", Label: "API batch", Skipped: why}}, nil
	}
	var out []result
	for _, size := range b.opt.batchSizes {
		out = append(out, b.measure(ctx, "batch", fmt.Sprintf("API batch of %d", size), size, b.opt.batchConcurrencies, b.opt.batchDuration, postBatch(b.api, b.f, size))...)
	}
	return out, nil
}

func parseFlags(args []string, stderr io.Writer, getenv func(string) string) (options, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	def := func(name, d string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return d
	}
	var conc, bsizes, bconc, secs, lconc string
	fs.StringVar(&o.bin, "bin", "bin/provgraph", "the provgraph binary to serve with")
	fs.BoolVar(&o.build, "build", true, "build -bin from ./cmd/provgraph first")
	fs.StringVar(&o.neo4jURI, "neo4j", def("PROVGRAPH_NEO4J_URI", "bolt://127.0.0.1:7687"), "Bolt URI of the running Neo4j (default from PROVGRAPH_NEO4J_URI)")
	fs.StringVar(&o.neo4jPIDFile, "neo4j-pidfile", def("NEO4J_PIDFILE", "var/neo4j.pid"), "pid file of the Neo4j process, for its CPU per record (scripts/neo4j writes it; default from NEO4J_PIDFILE)")
	fs.DurationVar(&o.duration, "duration", 6*time.Second, "length of each raw and API phase")
	fs.DurationVar(&o.batchDuration, "batch-duration", 6*time.Second, "length of each batch phase (the request in flight at the end still counts)")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "unrecorded warm-up before each section (0 for none)")
	fs.IntVar(&o.count, "count", 0, "requests per phase instead of a duration (0: use the durations)")
	fs.StringVar(&conc, "c", "1,8,32", "concurrencies of the raw and API phases")
	fs.StringVar(&bsizes, "batch", "100,1000", "batch sizes")
	fs.StringVar(&bconc, "batch-c", "1,8", "concurrencies of the batch phases")
	fs.IntVar(&o.batchInFlight, "batch-inflight", 1000, "skip batch phases with more records than this in flight (size × concurrency)")
	fs.IntVar(&o.datasets, "datasets", 256, "datasets in the fixture (each run uses 4 in a row of the pool)")
	fs.StringVar(&secs, "sections", "raw,api,pairs,batch,lifecycle,kfp,tes,flowserv,azureml,provena", "sections to run, in their fixed order")
	fs.IntVar(&o.pairs, "pairs", 7, "interleaved raw/API pairs in the pairs section")
	fs.IntVar(&o.pairsC, "pairs-c", 8, "concurrency of the pairs section")
	fs.StringVar(&lconc, "lifecycle-c", "8", "concurrencies of the lifecycle phases (raw and API)")
	fs.DurationVar(&o.lifeDuration, "lifecycle-duration", 10*time.Second, "length of each lifecycle phase (the lifecycles in flight at the end still count)")
	fs.IntVar(&o.lifeHeartbeats, "lifecycle-heartbeats", 10, "heartbeats per lifecycle")
	fs.IntVar(&o.lifeMetrics, "lifecycle-metrics", 10, "metrics in the one report per lifecycle (1 to 1000)")
	fs.StringVar(&o.out, "out", "", "also write the report into this Markdown file (between <!-- bench:begin --> and <!-- bench:end --> if it has them)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	o.neo4jUser, o.neo4jPass, o.neo4jDB = getenv("PROVGRAPH_NEO4J_USER"), getenv("PROVGRAPH_NEO4J_PASSWORD"), def("PROVGRAPH_NEO4J_DATABASE", "neo4j")
	var errs []error
	ints := func(flagName, s string) []int {
		var out []int
		for _, p := range strings.Split(s, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(p))
			if err != nil || n < 1 {
				errs = append(errs, fmt.Errorf("-%s %q: want positive whole numbers separated by commas", flagName, s))
				return nil
			}
			out = append(out, n)
		}
		return out
	}
	o.concurrencies, o.batchSizes, o.batchConcurrencies = ints("c", conc), ints("batch", bsizes), ints("batch-c", bconc)
	o.lifeConcurrencies = ints("lifecycle-c", lconc)
	if o.lifeHeartbeats < 0 || o.lifeMetrics < 1 || o.lifeMetrics > 1000 || o.lifeDuration <= 0 {
		errs = append(errs, errors.New("-lifecycle-heartbeats must be ≥ 0, -lifecycle-metrics 1 to 1000, -lifecycle-duration positive"))
	}
	for _, n := range o.batchSizes {
		if n > 1000 {
			errs = append(errs, fmt.Errorf("-batch %d: the route takes 1 to 1000 records", n))
		}
	}
	names := map[string]bool{}
	for _, s := range sections() {
		names[s.name] = true
	}
	for _, s := range strings.Split(secs, ",") {
		if s = strings.TrimSpace(s); !names[s] {
			errs = append(errs, fmt.Errorf("-sections: no section %q", s))
		}
		o.sections = append(o.sections, s)
	}
	if o.duration <= 0 || o.batchDuration <= 0 {
		errs = append(errs, errors.New("-duration and -batch-duration must be positive"))
	}
	o.args = args
	return o, errors.Join(errs...)
}
