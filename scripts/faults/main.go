// Command faults crashes provgraph's database, then the server itself, under load, and
// checks what a client may rely on afterwards.
//
// It starts a Neo4j of its own (scripts/neo4j/neo4j.sh on a free port, data in a
// temporary directory) and `provgraph serve` on it, seeds the benchmark's fixture, and
// runs registration writers (POST /api/v1/model-runs at -concurrency 4, each write sent
// with an Idempotency-Key until it is acknowledged), a tracked-run lifecycle client
// (create, claim, complete) and a reader. Mid-load it kills Neo4j with SIGKILL, keeps
// it down for -outage, restarts it and waits for the server, not restarted, to answer
// /readyz 200 and acknowledge a write again; then it kills the server with SIGKILL and
// restarts it. After a drain it reads the graph back over Bolt and checks that:
//
//   - every acknowledged registration is in the graph, under the id its 201 gave;
//   - no model run in the graph lacks a USED / WAS_GENERATED_BY / WAS_ASSOCIATED_WITH /
//     WAS_INFORMED_BY relationship its document names (no partial run), and no write
//     was registered twice by its retries;
//   - every acknowledged run transition shows in the run's state and events;
//   - no answer was a 500, every 503 carried Retry-After, and clients saw 503s while
//     Neo4j was down;
//   - /readyz and writes recovered after Neo4j's restart within -recover, with the
//     same server process.
//
// It prints a Markdown report (-out puts it between the markers of docs/operations.md)
// and exits 1 when a check fails. Both processes are stopped and the directory removed
// at the end, also on failure.
//
//	make faults                                      # the long run
//	make faults FAULTSFLAGS='-out docs/operations.md'
//	go run ./scripts/faults -short                   # the bounded run of `make test`
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"provgraph/scripts/internal/apiclient"
	"provgraph/scripts/internal/benchserver"
	"provgraph/scripts/internal/fixture"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "faults:", err)
		os.Exit(1)
	}
}

type options struct {
	bin, script, out string
	short, keep      bool
	concurrency      int
	steady, outage   time.Duration
	serverDown       time.Duration
	recoverLimit     time.Duration
	drain, backoff   time.Duration
	datasets         int
	heap             string
	pageCacheMB      int
	args             []string
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("faults", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.bin, "bin", "bin/provgraph", "the provgraph binary to serve with (`make build`)")
	fs.StringVar(&o.script, "neo4j", "scripts/neo4j/neo4j.sh", "the Neo4j launcher script")
	fs.StringVar(&o.out, "out", "", "write the report between the fault-run markers of this file, e.g. docs/operations.md")
	fs.BoolVar(&o.short, "short", false, "the bounded run of `make test`: shorter phases (flags given explicitly still win)")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary directory (logs, Neo4j's data) instead of removing it")
	fs.IntVar(&o.concurrency, "concurrency", 4, "registration writers")
	fs.DurationVar(&o.steady, "steady", 20*time.Second, "load before, between and after the faults")
	fs.DurationVar(&o.outage, "outage", 15*time.Second, "how long Neo4j stays down before it is restarted")
	fs.DurationVar(&o.serverDown, "server-down", 2*time.Second, "how long the server stays down before it is restarted")
	fs.DurationVar(&o.recoverLimit, "recover", 60*time.Second, "the longest a recovery may take")
	fs.DurationVar(&o.drain, "drain", 30*time.Second, "how long pending writes keep retrying once the load stops")
	fs.DurationVar(&o.backoff, "backoff", 250*time.Millisecond, "how long a client waits before retrying (shorter than Retry-After, to keep the load on)")
	fs.IntVar(&o.datasets, "datasets", 64, "datasets in the fixture")
	fs.StringVar(&o.heap, "heap", "512m", "the private Neo4j's heap (NEO4J_HEAP)")
	fs.IntVar(&o.pageCacheMB, "pagecache", 64, "the private Neo4j's page cache in MiB (NEO4J_PAGECACHE_MB)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.short {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		for name, v := range map[string]string{"steady": "3s", "outage": "3s", "server-down": "1s", "drain": "15s", "datasets": "32"} {
			if !set[name] {
				_ = fs.Set(name, v)
			}
		}
	}
	if o.concurrency < 1 || o.steady <= 0 || o.outage <= 0 || o.recoverLimit <= 0 || o.datasets < 4 {
		return o, errors.New("-concurrency, -steady, -outage, -recover must be positive and -datasets at least 4")
	}
	o.args = args
	return o, nil
}

// timings are the moments the run measures, and how long things took.
type timings struct {
	Neo4jFirstStart   time.Duration // the private Neo4j's first start, to Bolt answering
	InflightNeo4jKill int64         // registrations in flight when Neo4j was killed
	Neo4jDown         time.Duration // SIGKILL to the restart beginning
	Neo4jRestart      time.Duration // the restart beginning to Bolt answering
	QueryAfterBolt    time.Duration // Bolt answering to a fresh driver's query succeeding
	ReadyAfterBolt    time.Duration // Bolt answering to /readyz 200
	WriteAfterBolt    time.Duration // Bolt answering to the first acknowledged write
	ReadyAfterKill    time.Duration // SIGKILL to /readyz 200
	WriteAfterKill    time.Duration // SIGKILL to the first acknowledged write
	SamePid           bool          // the server that answered after was the one before

	InflightSrvKill  int64
	ServerStart      time.Duration // restarting the server to /readyz 200
	WriteAfterServer time.Duration // restarting the server to the first acknowledged write
	Total            time.Duration
}

func run(args []string, stdout, stderr io.Writer) (err error) {
	opt, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	began := time.Now()
	code := codeState()
	for _, p := range []string{opt.bin, opt.script} {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("%w (run from the repository root after `make build`)", err)
		}
	}
	dir, err := os.MkdirTemp("", "provgraph-faults-")
	if err != nil {
		return err
	}
	logf := func(format string, a ...any) {
		fmt.Fprintf(stderr, "%6.1fs  %s\n", time.Since(began).Seconds(), fmt.Sprintf(format, a...))
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	db := &privateNeo4j{script: opt.script, home: filepath.Join(dir, "neo4j"), pidFile: filepath.Join(dir, "neo4j.pid"),
		port: port, heap: opt.heap, pageCacheM: opt.pageCacheMB}
	var srv *benchserver.Server
	defer func() {
		if srv != nil {
			if e := srv.Stop(); e != nil && !strings.Contains(e.Error(), "signal: killed") {
				logf("stopping the server: %v", e)
			}
		}
		if e := db.stop(); e != nil {
			logf("stopping neo4j: %v", e)
		}
		if err != nil {
			for _, log := range []string{filepath.Join(dir, "server.log"), db.home + ".log"} {
				fmt.Fprintf(stderr, "--- last lines of %s\n%s\n", filepath.Base(log), tail(log, 15))
			}
		}
		if opt.keep {
			logf("kept %s", dir)
		} else {
			os.RemoveAll(dir)
		}
	}()

	var tm timings
	t0 := time.Now()
	logf("starting a private Neo4j on 127.0.0.1:%d (data in %s)", port, db.home)
	if err := db.start(ctx); err != nil {
		return err
	}
	tm.Neo4jFirstStart = time.Since(t0)
	tag := "faults-" + benchserver.RandomHex(3)
	cfg := benchserver.Config{Bin: opt.bin, Neo4jURI: db.URI(), Prefix: tag, Dir: dir, MaxBody: 1 << 20, ArtifactDir: filepath.Join(dir, "artifacts")}
	if srv, err = benchserver.Start(ctx, cfg); err != nil {
		return err
	}
	logf("neo4j answered in %s; the server is ready at %s", tm.Neo4jFirstStart.Round(time.Millisecond), srv.URL)
	c := apiclient.New(srv.URL, srv.Token, opt.concurrency+4)
	// Requests sent while Neo4j recovers from the crash wait for it (30 s and more on a
	// loaded machine); an answer slower than this is a hang.
	c.HTTP.Timeout = 2 * time.Minute
	f, err := fixture.Seed(ctx, c, opt.datasets, tag)
	if err != nil {
		return fmt.Errorf("seeding the fixture: %w", err)
	}

	l := newLoad(c, f, tag, opt.backoff)
	loadCtx, cancelLoad := context.WithCancel(ctx)
	defer cancelLoad()
	var wg sync.WaitGroup
	for range opt.concurrency {
		wg.Go(func() { l.writer(loadCtx) })
	}
	wg.Go(func() { l.lifecycler(loadCtx) })
	wg.Go(func() { l.reader(loadCtx) })
	logf("load running: %d registration writers, 1 lifecycle client, 1 reader", opt.concurrency)
	var problems []string
	problem := func(format string, a ...any) {
		p := fmt.Sprintf(format, a...)
		problems = append(problems, p)
		logf("PROBLEM: %s", p)
	}
	// A fresh Neo4j plans each query the first time it meets it, which takes seconds on a
	// small machine: the faults wait for the load to be flowing, not starting.
	if !pause(ctx, opt.steady) {
		return ctx.Err()
	}
	if !waitAcks(ctx, l, 2*opt.concurrency, time.Now().Add(opt.recoverLimit)) {
		problem("fewer than %d registrations acknowledged before the faults", 2*opt.concurrency)
	}

	// Neo4j crashes, stays down, comes back: the same server must recover by itself.
	pid := srv.Pid()
	l.setPhase("Neo4j down or restarting")
	tm.InflightNeo4jKill = l.inflight.Load()
	tKill := time.Now()
	if err := db.kill(); err != nil {
		return err
	}
	logf("neo4j killed (SIGKILL) with %d registrations in flight; down for %s", tm.InflightNeo4jKill, opt.outage)
	if _, ok := l.ready(ctx, time.Now().Add(opt.outage)); ok {
		problem("/readyz answered 200 while Neo4j was down")
	}
	tRestart := time.Now()
	tm.Neo4jDown = tRestart.Sub(tKill)
	if err := db.start(ctx); err != nil {
		return err
	}
	tBolt := time.Now()
	tm.Neo4jRestart = tBolt.Sub(tRestart)
	logf("neo4j restarted; Bolt answers after %s", tm.Neo4jRestart.Round(time.Millisecond))
	queried := make(chan struct{})
	go func() {
		defer close(queried)
		if tq, ok := db.queryable(ctx, tBolt.Add(opt.recoverLimit)); ok {
			tm.QueryAfterBolt = tq.Sub(tBolt)
		}
	}()
	if tReady, ok := l.ready(ctx, tBolt.Add(opt.recoverLimit)); ok {
		tm.ReadyAfterBolt, tm.ReadyAfterKill = tReady.Sub(tBolt), tReady.Sub(tKill)
	} else {
		problem("/readyz did not answer 200 within %s of Neo4j's restart", opt.recoverLimit)
	}
	<-queried
	l.setPhase("after Neo4j's restart")
	// Answers that arrived just after the kill were committed before it: the first
	// write of the restarted Neo4j is the first acknowledged after Bolt answers again.
	if tw, ok := waitAck(ctx, l, tBolt, tBolt.Add(opt.recoverLimit)); ok {
		tm.WriteAfterBolt, tm.WriteAfterKill = tw.Sub(tBolt), tw.Sub(tKill)
	} else {
		problem("no write was acknowledged within %s of Neo4j's restart", opt.recoverLimit)
	}
	exited, _ := srv.Exited()
	tm.SamePid = !exited && srv.Pid() == pid
	if !tm.SamePid {
		problem("the server process exited while Neo4j was down")
	}
	logf("recovered: a fresh driver's query %s, /readyz 200 %s and first write %s after Bolt answered (server pid %d throughout: %v)",
		tm.QueryAfterBolt.Round(time.Millisecond), tm.ReadyAfterBolt.Round(time.Millisecond), tm.WriteAfterBolt.Round(time.Millisecond), pid, tm.SamePid)
	if !pause(ctx, opt.steady) {
		return ctx.Err()
	}

	// The server crashes and is restarted on the same port, with the same token.
	l.setPhase("server down or restarting")
	tm.InflightSrvKill = l.inflight.Load()
	if err := srv.Kill(); err != nil {
		return err
	}
	logf("server killed (SIGKILL) with %d registrations in flight; down for %s", tm.InflightSrvKill, opt.serverDown)
	if !pause(ctx, opt.serverDown) {
		return ctx.Err()
	}
	cfg.Port, cfg.Token = port0(srv.URL), srv.Token
	tUp0 := time.Now()
	if srv, err = benchserver.Start(ctx, cfg); err != nil {
		return fmt.Errorf("restarting the server: %w", err)
	}
	tm.ServerStart = time.Since(tUp0)
	l.setPhase("after the server's restart")
	if tw, ok := waitAck(ctx, l, tUp0, tUp0.Add(opt.recoverLimit)); ok {
		tm.WriteAfterServer = tw.Sub(tUp0)
	} else {
		problem("no write was acknowledged within %s of the server's restart", opt.recoverLimit)
	}
	logf("server restarted: ready in %s, first write after %s", tm.ServerStart.Round(time.Millisecond), tm.WriteAfterServer.Round(time.Millisecond))
	if !pause(ctx, opt.steady) {
		return ctx.Err()
	}

	l.setPhase("drain")
	l.drainTo.Store(time.Now().Add(opt.drain).UnixNano())
	l.stopping.Store(true)
	wg.Wait()
	logf("load stopped; reading the graph back")

	stored, err := graphRuns(ctx, db.URI())
	if err != nil {
		return err
	}
	v := checkWrites(l.writes, stored, f.Model)
	if err := checkLifecycles(ctx, c, l.lifecycles, &v); err != nil {
		return err
	}
	tm.Total = time.Since(began)
	rep := report{Opt: opt, Code: code, Verdict: v, Timings: tm, Load: l, Neo4jPort: port}
	problems = append(problems, rep.problems()...)
	rep.Problems = problems
	md := rep.markdown()
	fmt.Fprint(stdout, md)
	if opt.out != "" {
		if err := writeReport(opt.out, md); err != nil {
			return err
		}
		logf("report written into %s", opt.out)
	}
	if len(problems) > 0 {
		return fmt.Errorf("%d checks failed:\n  %s", len(problems), strings.Join(problems, "\n  "))
	}
	logf("all checks passed in %s", tm.Total.Round(time.Second))
	return nil
}

// waitAck waits until a registration acknowledged after t, or the deadline.
func waitAck(ctx context.Context, l *load, t, deadline time.Time) (time.Time, bool) {
	for ctx.Err() == nil && time.Now().Before(deadline) {
		if at, ok := l.firstAckAfter(t); ok {
			return at, true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Time{}, false
}

// waitAcks waits until n registrations are acknowledged, or the deadline.
func waitAcks(ctx context.Context, l *load, n int, deadline time.Time) bool {
	for ctx.Err() == nil && time.Now().Before(deadline) {
		l.mu.Lock()
		got := len(l.acks)
		l.mu.Unlock()
		if got >= n {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

func pause(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// port0 is the port of a http://127.0.0.1:port URL.
func port0(u string) int {
	var p int
	_, _ = fmt.Sscanf(u[strings.LastIndex(u, ":")+1:], "%d", &p)
	return p
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
