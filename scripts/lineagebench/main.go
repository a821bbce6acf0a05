// Command lineagebench measures lineage queries on synthetic graphs shaped like real use
// (issue 5 §5): GET /api/v1/lineage/{id} upstream and downstream at depth 5, 10 and 20,
// against Provena's query form straight on Neo4j as the baseline, in the same run on the
// same graph.
//
// It generates the graph (-nodes, default 10^5) straight into the running Neo4j with the
// Go driver, under its own id prefix lbench-<nodes> (-reuse keeps a complete one), starts
// its own server the way scripts/bench does (free port, own admin token), then times
// -n requests per point through the API and the baseline queries with a per-query
// timeout. It prints a Markdown report and with -out writes it between
// <!-- lineage-bench:begin --> and <!-- lineage-bench:end --> (appended when absent).
//
//	make lineage-bench LINEAGEBENCHFLAGS='-reuse -out docs/benchmarks.md'
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"provgraph/scripts/internal/benchserver"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j/config"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j/dbtype"

	"provgraph/registry"
	"provgraph/scripts/internal/apiclient"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "lineagebench:", err)
		os.Exit(1)
	}
}

type options struct {
	nodes, n, batch, samples int
	reuse, build             bool
	timeout, budget          time.Duration
	bin, neo4jURI, db, out   string
	user, pass               string
	args                     []string
}

var depths = []int{5, 10, 20}
var directions = []string{"upstream", "downstream"}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("lineagebench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	def := func(name, d string) string {
		if v := os.Getenv(name); v != "" {
			return v
		}
		return d
	}
	fs.IntVar(&o.nodes, "nodes", 100000, "nodes in the synthetic graph")
	fs.BoolVar(&o.reuse, "reuse", false, "keep the graph of this size if a complete one exists (otherwise it is deleted and written again)")
	fs.IntVar(&o.n, "n", 50, "timed API requests (and at most as many baseline queries) per direction and depth")
	fs.IntVar(&o.batch, "batch", 5000, "rows per write transaction while generating")
	fs.IntVar(&o.samples, "samples", 5, "sample datasets (from the middle of long chains) the requests cycle through")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "per-query timeout of the baseline")
	fs.DurationVar(&o.budget, "baseline-budget", 60*time.Second, "stop a baseline point after this much time (fewer queries are then reported)")
	fs.StringVar(&o.bin, "bin", "bin/provgraph", "the provgraph binary to serve with")
	fs.BoolVar(&o.build, "build", true, "build -bin from ./cmd/provgraph first")
	fs.StringVar(&o.neo4jURI, "neo4j", def("PROVGRAPH_NEO4J_URI", "bolt://127.0.0.1:7687"), "Bolt URI of the running Neo4j")
	fs.StringVar(&o.out, "out", "", "also write the report into this Markdown file, between <!-- lineage-bench:begin --> and <!-- lineage-bench:end -->")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	o.user, o.pass, o.db = os.Getenv("PROVGRAPH_NEO4J_USER"), os.Getenv("PROVGRAPH_NEO4J_PASSWORD"), def("PROVGRAPH_NEO4J_DATABASE", "neo4j")
	if o.nodes < 1000 || o.n < 1 || o.batch < 1 || o.samples < 1 || o.timeout <= 0 || o.budget <= 0 {
		return o, errors.New("-nodes ≥ 1000; -n, -batch, -samples, -timeout and -baseline-budget positive")
	}
	o.args = args
	return o, nil
}

// point is one direction and depth, through the API or the baseline.
type point struct {
	Direction string
	Depth     int
	Times     []time.Duration
	Nodes     int // summed over the timed requests
	Paths     int // baseline: rows (paths) summed
	Truncated int // API: answers cut by ?limit
	TimedOut  int // baseline
	Skipped   string
}

func (p point) pct(q float64) time.Duration {
	if len(p.Times) == 0 {
		return 0
	}
	t := slices.Clone(p.Times)
	slices.Sort(t)
	i := int(float64(len(t))*q+0.999999) - 1
	return t[max(0, min(i, len(t)-1))]
}

func (p point) avg(n int) float64 {
	if len(p.Times) == 0 {
		return 0
	}
	return float64(n) / float64(len(p.Times))
}

func run(args []string, stdout, stderr io.Writer) error {
	opt, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code := codeState()
	if opt.build {
		fmt.Fprintf(stderr, "building %s\n", opt.bin)
		cmd := exec.CommandContext(ctx, "go", "build", "-o", opt.bin, "./cmd/provgraph")
		cmd.Stdout, cmd.Stderr = stderr, stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go build ./cmd/provgraph: %w (run from the repository root)", err)
		}
	}
	auth := neo4j.NoAuth()
	if opt.user != "" {
		auth = neo4j.BasicAuth(opt.user, opt.pass, "")
	}
	drv, err := neo4j.NewDriverWithContext(opt.neo4jURI, auth, func(c *config.Config) { c.MaxConnectionPoolSize = 10 })
	if err != nil {
		return err
	}
	defer drv.Close(context.Background())
	if err := drv.VerifyConnectivity(ctx); err != nil {
		return fmt.Errorf("neo4j at %s: %w", opt.neo4jURI, err)
	}

	// The server first: it makes the constraints the generator's lookups need.
	dir, err := os.MkdirTemp("", "provgraph-lineagebench-")
	if err != nil {
		return err
	}
	prefix := "lbench-srv-" + benchserver.RandomHex(3)
	fmt.Fprintf(stderr, "starting the server (log %s/server.log)\n", dir)
	srv, err := benchserver.Start(ctx, benchserver.Config{Bin: opt.bin, Neo4jURI: opt.neo4jURI, Prefix: prefix, Dir: dir, MaxBody: 1 << 20})
	if err != nil {
		return err
	}
	defer func() {
		if err := srv.Stop(); err != nil {
			fmt.Fprintf(stderr, "stopping the server: %v\n", err)
		}
	}()

	t0 := time.Now()
	p := newPlan(opt.nodes)
	for _, s := range p.samples {
		if !registry.ValidID(p.datasets[s].id) {
			return fmt.Errorf("generated id %q is not valid", p.datasets[s].id)
		}
	}
	fmt.Fprintf(stderr, "plan %s: %d nodes (%d runs, %d datasets, %d hubs), %d relationships, %d chains (%d long, longest %d runs), in %s\n",
		p.prefix, p.nodes(), len(p.runs), len(p.datasets), 3*hubsPerKind, p.relationships(), p.chains, p.longChains, p.longestChain, time.Since(t0).Round(time.Millisecond))
	have, done, err := existing(ctx, drv, opt.db, p)
	if err != nil {
		return err
	}
	genNote := ""
	switch {
	case opt.reuse && done && have == int64(p.nodes()):
		genNote = fmt.Sprintf("reused (generated by an earlier run; -reuse)")
		fmt.Fprintf(stderr, "reusing the complete graph under %s\n", p.prefix)
	default:
		if have > 0 {
			fmt.Fprintf(stderr, "deleting %d nodes of an earlier graph under %s\n", have, p.prefix)
			if err := deleteGraph(ctx, drv, opt.db, p); err != nil {
				return fmt.Errorf("deleting the earlier graph: %w", err)
			}
		}
		fmt.Fprintf(stderr, "generating %s in batches of %d rows\n", p.prefix, opt.batch)
		t1 := time.Now()
		if err := write(ctx, drv, opt.db, p, opt.batch, stderr); err != nil {
			return err
		}
		took := time.Since(t1)
		genNote = fmt.Sprintf("%s (%.0f nodes/s, batches of %d rows)", took.Round(100*time.Millisecond), float64(p.nodes())/took.Seconds(), opt.batch)
		fmt.Fprintf(stderr, "generated in %s\n", genNote)
	}

	samples := p.samples
	if len(samples) > opt.samples {
		samples = samples[:opt.samples]
	}
	ids := make([]string, len(samples))
	for i, s := range samples {
		ids[i] = p.datasets[s].id
	}
	api := apiclient.New(srv.URL, srv.Token, 1)
	var apiPts, basePts []point
	for _, dir := range directions {
		for _, d := range depths {
			pt, err := measureAPI(ctx, api, ids, dir, d, opt.n)
			if err != nil {
				return err
			}
			fmt.Fprintf(stderr, "   API      %-10s depth %2d: p50 %-9s p99 %-9s %6.0f nodes\n", dir, d, ms(pt.pct(.5)), ms(pt.pct(.99)), pt.avg(pt.Nodes))
			apiPts = append(apiPts, pt)
		}
	}
	for _, dir := range directions {
		for _, d := range depths {
			pt, err := measureBaseline(ctx, drv, opt, ids, dir, d)
			if err != nil {
				return err
			}
			fmt.Fprintf(stderr, "   baseline %-10s depth %2d: p50 %-9s p99 %-9s %6.0f nodes %8.0f paths, %d of %d timed out\n", dir, d, ms(pt.pct(.5)), ms(pt.pct(.99)),
				pt.avg(pt.Nodes), pt.avg(pt.Paths), pt.TimedOut, len(pt.Times))
			basePts = append(basePts, pt)
		}
	}
	rep := report{When: time.Now().UTC(), Command: "go run ./scripts/lineagebench " + strings.Join(args, " "), Code: code, Neo4j: neo4jVersion(ctx, drv),
		Plan: p, Gen: genNote, Samples: len(ids), Opt: opt, API: apiPts, Base: basePts}
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

// measureAPI times n requests (after one unrecorded one per sample) of GET
// /api/v1/lineage/{id}, cycling through the samples.
func measureAPI(ctx context.Context, c *apiclient.Client, ids []string, dir string, depth, n int) (point, error) {
	pt := point{Direction: dir, Depth: depth}
	get := func(id string) (time.Duration, int, bool, error) {
		path := "/api/v1/lineage/" + id + "?" + url.Values{"direction": {dir}, "depth": {fmt.Sprint(depth)}, "limit": {"10000"}}.Encode()
		t := time.Now()
		r, err := c.Do(ctx, "GET", path, nil)
		took := time.Since(t)
		if err != nil {
			return 0, 0, false, err
		}
		if r.Status != http.StatusOK {
			return 0, 0, false, &apiclient.APIError{Method: "GET", Path: path, Status: r.Status, Body: string(r.Body)}
		}
		var res struct {
			Nodes     []json.RawMessage `json:"nodes"`
			Truncated bool              `json:"truncated"`
		}
		if err := json.Unmarshal(r.Body, &res); err != nil {
			return 0, 0, false, err
		}
		return took, len(res.Nodes), res.Truncated, nil
	}
	for _, id := range ids {
		if _, _, _, err := get(id); err != nil {
			return pt, err
		}
	}
	for i := range n {
		took, nodes, trunc, err := get(ids[i%len(ids)])
		if err != nil {
			return pt, err
		}
		pt.Times = append(pt.Times, took)
		pt.Nodes += nodes
		if trunc {
			pt.Truncated++
		}
	}
	return pt, nil
}

// baselineCypher is Provena's query form: label-less, path-returning; downstream is its
// mirror.
func baselineCypher(dir string, depth int) string {
	if dir == "upstream" {
		return fmt.Sprintf("MATCH r=((p)<-[*1..%d]-(s {id:$id})) RETURN r", depth)
	}
	return fmt.Sprintf("MATCH r=((p)-[*1..%d]->(s {id:$id})) RETURN r", depth)
}

// measureBaseline runs the baseline straight on Neo4j, consuming every path, with a
// per-query timeout (a timed-out query counts as the timeout). After one unrecorded
// query per sample it times up to n, stopping at the first timeout or after the budget.
func measureBaseline(ctx context.Context, d neo4j.DriverWithContext, opt options, ids []string, dir string, depth int) (point, error) {
	pt := point{Direction: dir, Depth: depth}
	cypher := baselineCypher(dir, depth)
	one := func(id string) (time.Duration, int, int, bool, error) {
		qctx, cancel := context.WithTimeout(ctx, opt.timeout)
		defer cancel()
		s := d.NewSession(qctx, neo4j.SessionConfig{DatabaseName: opt.db, AccessMode: neo4j.AccessModeRead})
		defer s.Close(context.Background())
		t := time.Now()
		tx, err := s.BeginTransaction(qctx, neo4j.WithTxTimeout(opt.timeout))
		if err != nil {
			return 0, 0, 0, false, err
		}
		defer tx.Close(context.Background())
		nodes, paths := map[string]bool{}, 0
		res, err := tx.Run(qctx, cypher, map[string]any{"id": id})
		if err == nil {
			for res.Next(qctx) {
				paths++
				for _, n := range res.Record().Values[0].(dbtype.Path).Nodes {
					nodes[n.ElementId] = true
				}
			}
			err = res.Err()
		}
		took := time.Since(t)
		if err != nil {
			if qctx.Err() != nil || strings.Contains(err.Error(), "TransactionTimedOut") || strings.Contains(err.Error(), "terminated") {
				return opt.timeout, 0, 0, true, nil
			}
			return 0, 0, 0, false, err
		}
		return took, len(nodes), paths, false, nil
	}
	start := time.Now()
	for _, id := range ids {
		if time.Since(start) > opt.budget {
			break
		}
		took, _, _, timedOut, err := one(id)
		if err != nil {
			return pt, err
		}
		if timedOut { // the warm-up timed out: record it as the figure
			pt.Times, pt.TimedOut = append(pt.Times, took), 1
			return pt, nil
		}
	}
	start = time.Now()
	for i := 0; i < opt.n && time.Since(start) < opt.budget; i++ {
		took, nodes, paths, timedOut, err := one(ids[i%len(ids)])
		if err != nil {
			return pt, err
		}
		pt.Times = append(pt.Times, took)
		pt.Nodes, pt.Paths = pt.Nodes+nodes, pt.Paths+paths
		if timedOut {
			pt.TimedOut++
			break
		}
	}
	return pt, nil
}

func neo4jVersion(ctx context.Context, d neo4j.DriverWithContext) string {
	res, err := neo4j.ExecuteQuery(ctx, d, "CALL dbms.components() YIELD name, versions, edition RETURN name + ' ' + versions[0] + ' ' + edition AS v",
		nil, neo4j.EagerResultTransformer)
	if err != nil || len(res.Records) == 0 {
		return "unknown"
	}
	v, _ := res.Records[0].Get("v")
	return fmt.Sprint(v)
}
