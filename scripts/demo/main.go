// Command demo loads a small, realistic provenance example into a running provgraph
// server through its REST API only, and prints where to look.
//
// The example is a reef projection study: CSIRO, two modellers, one reef model, three
// dataset templates, one workflow template and a chain of three yearly model runs in which
// each run's projected reef state is the next run's initial state.
//
// Every invocation creates fresh records (nothing is looked up or reused), so running it
// twice gives two independent examples. Each POST carries an Idempotency-Key derived from
// a random per-invocation seed and the step, so a retried request inside one invocation
// (after a dropped connection or a 503) can never register a record twice.
//
//	make run &   # elsewhere
//	make demo    # or: go run ./scripts/demo -url http://127.0.0.1:8080
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"time"

	"provgraph/scripts/internal/apiclient"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	base := fs.String("url", defaultURL(getenv("PROVGRAPH_ADDR")), "base URL of the running server (default from PROVGRAPH_ADDR)")
	bin := fs.String("provgraph", "bin/provgraph", "the provgraph binary, used to create a writer token when PROVGRAPH_TOKEN is unset")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	c := apiclient.New(*base, "", 4)
	if err := c.Ready(ctx); err != nil {
		return err
	}
	token, created, err := writerToken(ctx, *bin, getenv)
	if err != nil {
		return err
	}
	c.Token = token
	if err := checkToken(ctx, c); err != nil {
		return err
	}

	d := &demo{c: c, seed: randomHex(6)}
	ids, err := d.load(ctx)
	if err != nil {
		return fmt.Errorf("loading the example (seed %s): %w", d.seed, err)
	}
	// The PROV document of the last run, upstream three steps, must be there.
	last := ids.runs[2]
	r, err := c.Do(ctx, "GET", "/api/v1/prov/"+last+"?format=turtle&depth=3", nil)
	if err != nil || r.Status != 200 {
		return fmt.Errorf("GET /api/v1/prov/%s: %v %d %s", last, err, r.Status, r.Body)
	}
	d.print(stdout, ids, token, created, len(r.Body))
	return nil
}

func defaultURL(addr string) string {
	if addr == "" {
		addr = "127.0.0.1:8080"
	}
	if host, port, err := net.SplitHostPort(addr); err == nil && (host == "" || host == "0.0.0.0" || host == "::") {
		addr = net.JoinHostPort("127.0.0.1", port)
	}
	return "http://" + addr
}

// writerToken is $PROVGRAPH_TOKEN, or a new local writer token made by the binary (the
// server rereads its token file when it changes).
func writerToken(ctx context.Context, bin string, getenv func(string) string) (token string, created bool, err error) {
	if t := getenv("PROVGRAPH_TOKEN"); t != "" {
		return t, false, nil
	}
	cmd := exec.CommandContext(ctx, bin, "token", "create", "--role", "writer", "--name", "demo "+time.Now().UTC().Format(time.RFC3339))
	var errb strings.Builder
	cmd.Stderr = &errb
	out, err := cmd.Output()
	if err != nil {
		return "", false, fmt.Errorf("creating a writer token with `%s token create --role writer` (set PROVGRAPH_TOKEN to use your own): %v %s", bin, err, errb.String())
	}
	token = strings.TrimSpace(string(out))
	if token == "" {
		return "", false, errors.New("`provgraph token create` printed no token")
	}
	return token, true, nil
}

// checkToken fails early, and clearly, when the server does not take the token: most
// likely it reads another token file (PROVGRAPH_TOKEN_FILE, or another working directory).
func checkToken(ctx context.Context, c *apiclient.Client) error {
	var last apiclient.Response
	for range 10 {
		r, err := c.Do(ctx, "GET", "/api/v1/studies?page_size=1", nil)
		if err != nil {
			return err
		}
		if r.Status == 200 {
			return nil
		}
		last = r
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("the server at %s refuses the token (%d %s); if it reads another token file than this directory's var/tokens.json, set PROVGRAPH_TOKEN to a writer token it knows", c.Base, last.Status, last.Body)
}

type demo struct {
	c    *apiclient.Client
	seed string
}

type demoIDs struct {
	org, study, model, workflow          string
	modellers                            [2]string
	forcingTmpl, initialTmpl, outputTmpl string
	forcing                              [3]string // one per year
	states                               [4]string // states[0] surveyed; states[i] projected by run i
	runs                                 [3]string
}

func (d *demo) create(ctx context.Context, step, collection string, doc any) (string, error) {
	id, err := d.c.Create(ctx, collection, doc, "demo-"+d.seed+"-"+step)
	if err != nil {
		return "", fmt.Errorf("%s: %w", step, err)
	}
	return id, nil
}

// load registers the example in dependency order and returns every id.
func (d *demo) load(ctx context.Context) (demoIDs, error) {
	var ids demoIDs
	var err error
	must := func(into *string, step, collection string, doc any) {
		if err == nil {
			*into, err = d.create(ctx, step, collection, doc)
		}
	}
	must(&ids.org, "org", "organisations", map[string]any{
		"display_name": "CSIRO", "name": "Commonwealth Scientific and Industrial Research Organisation", "ror": "https://ror.org/03qn8fb07"})
	must(&ids.modellers[0], "person-1", "people", map[string]any{
		"display_name": "Dr Mira Okafor", "first_name": "Mira", "last_name": "Okafor", "email": "mira.okafor@example.org",
		"orcid": "https://orcid.org/0000-0002-1825-0097", "ethics_approved": true})
	must(&ids.modellers[1], "person-2", "people", map[string]any{
		"display_name": "Tom Lindqvist", "first_name": "Tom", "last_name": "Lindqvist", "email": "tom.lindqvist@example.org", "ethics_approved": true})
	must(&ids.study, "study", "studies", map[string]any{
		"title": "Reef futures 2025–2027", "description": "Year-on-year projections of coral cover on the central Great Barrier Reef under SSP2-4.5."})
	must(&ids.model, "model", "models", map[string]any{
		"display_name": "ReefSim 3.2", "name": "reefsim", "description": "A coral community model: growth, bleaching and recovery on a reef grid.",
		"documentation_url": "https://example.org/reefsim/docs", "source_url": "https://example.org/reefsim/src"})
	must(&ids.forcingTmpl, "tmpl-forcing", "dataset-templates", map[string]any{
		"display_name": "Annual climate forcing", "description": "Sea surface temperature and degree heating weeks for one year.",
		"deferred_resources": []any{map[string]any{"key": "sst", "usage_type": "FORCING_DATA", "description": "daily SST, NetCDF"}}})
	must(&ids.initialTmpl, "tmpl-initial", "dataset-templates", map[string]any{
		"display_name": "Initial reef state", "description": "Coral cover per reef cell at the start of a year.",
		"defined_resources":  []any{map[string]any{"path": "grid.json", "usage_type": "CONFIG_FILE"}},
		"deferred_resources": []any{map[string]any{"key": "cover", "usage_type": "GENERAL_DATA"}}})
	must(&ids.outputTmpl, "tmpl-output", "dataset-templates", map[string]any{
		"display_name": "Projected reef state", "description": "Coral cover per reef cell at the end of a year, with bleaching events.",
		"deferred_resources": []any{
			map[string]any{"key": "cover", "usage_type": "GENERAL_DATA"},
			map[string]any{"key": "log", "usage_type": "GENERAL_DATA", "optional": true}}})
	must(&ids.workflow, "workflow", "workflow-templates", map[string]any{
		"display_name": "ReefSim one-year projection", "description": "One simulated year: forcing and an initial state in, the projected state out.",
		"software_id": ids.model, "software_version": "3.2.0",
		"input_templates":  []any{map[string]any{"template_id": ids.forcingTmpl}, map[string]any{"template_id": ids.initialTmpl}},
		"output_templates": []any{map[string]any{"template_id": ids.outputTmpl}},
		"annotations":      map[string]any{"required": []string{"scenario"}, "optional": []string{"notes"}}})
	if err != nil {
		return ids, err
	}
	dataset := func(name, display, desc, location, created string, keywords ...string) map[string]any {
		return map[string]any{"display_name": display, "name": name, "description": desc, "location": location,
			"license": "https://creativecommons.org/licenses/by/4.0/", "publisher_id": ids.org,
			"created_date": created, "published_date": created, "keywords": append([]string{"coral", "great barrier reef"}, keywords...)}
	}
	must(&ids.states[0], "survey", "datasets", dataset("reef-survey-2024", "Central GBR reef survey 2024",
		"Coral cover per reef cell from the 2024 long-term monitoring survey.", "s3://reef-data/surveys/2024/", "2025-01-15", "survey"))
	for i := range 3 {
		year := 2025 + i
		must(&ids.forcing[i], fmt.Sprintf("forcing-%d", year), "datasets", dataset(fmt.Sprintf("sst-ssp245-%d", year),
			fmt.Sprintf("SST forcing SSP2-4.5 %d", year), fmt.Sprintf("Downscaled daily SST for %d under SSP2-4.5.", year),
			fmt.Sprintf("s3://reef-data/forcing/ssp245/%d/", year), "2025-01-20", "forcing", "ssp245"))
		must(&ids.states[i+1], fmt.Sprintf("projection-%d", year), "datasets", dataset(fmt.Sprintf("reef-projection-%d", year),
			fmt.Sprintf("Projected reef state end of %d", year), fmt.Sprintf("ReefSim projection of coral cover at the end of %d.", year),
			fmt.Sprintf("s3://reef-data/projections/%s/%d/", d.seed, year), "2025-02-01", "projection"))
	}
	if err != nil {
		return ids, err
	}
	// The chain: run i reads states[i] and writes states[i+1]. The modellers alternate.
	for i := range 3 {
		year := 2025 + i
		start := time.Date(2025, 2, 3+i, 9, 0, 0, 0, time.UTC)
		from := "the 2024 survey"
		if i > 0 {
			from = fmt.Sprintf("the %d projection", year-1)
		}
		runDoc := map[string]any{
			"workflow_template_id": ids.workflow, "model_version": "3.2.0", "study_id": ids.study,
			"display_name": fmt.Sprintf("ReefSim projection %d", year),
			"description":  fmt.Sprintf("One-year projection for %d, starting from %s.", year, from),
			"inputs": []any{
				map[string]any{"dataset_template_id": ids.forcingTmpl, "dataset_id": ids.forcing[i], "resources": map[string]string{"sst": fmt.Sprintf("sst_%d.nc", year)}},
				map[string]any{"dataset_template_id": ids.initialTmpl, "dataset_id": ids.states[i], "resources": map[string]string{"cover": "cover.parquet"}},
			},
			"outputs": []any{
				map[string]any{"dataset_template_id": ids.outputTmpl, "dataset_id": ids.states[i+1], "resources": map[string]string{"cover": "cover.parquet", "log": "run.log"}},
			},
			"annotations":  map[string]string{"scenario": "ssp245", "notes": fmt.Sprintf("year %d of 3", i+1)},
			"associations": map[string]string{"modeller_id": ids.modellers[i%2], "requesting_organisation_id": ids.org},
			"start_time":   start.Format(time.RFC3339), "end_time": start.Add(5*time.Hour + 20*time.Minute).Unix(),
		}
		must(&ids.runs[i], fmt.Sprintf("run-%d", year), "model-runs", runDoc)
	}
	return ids, err
}

func (d *demo) print(w io.Writer, ids demoIDs, token string, created bool, turtleBytes int) {
	base := d.c.Base
	fmt.Fprintf(w, "Loaded the reef projection example (seed %s) into %s:\n\n", d.seed, base)
	rows := [][2]string{
		{"organisation", ids.org}, {"modeller (runs 1, 3)", ids.modellers[0]}, {"modeller (run 2)", ids.modellers[1]},
		{"study", ids.study}, {"model", ids.model}, {"workflow template", ids.workflow},
		{"template: forcing", ids.forcingTmpl}, {"template: initial state", ids.initialTmpl}, {"template: projection", ids.outputTmpl},
		{"dataset: 2024 survey", ids.states[0]},
	}
	for i := range 3 {
		rows = append(rows, [2]string{fmt.Sprintf("dataset: forcing %d", 2025+i), ids.forcing[i]})
	}
	for i := range 3 {
		rows = append(rows,
			[2]string{fmt.Sprintf("model run %d (%d)", i+1, 2025+i), ids.runs[i]},
			[2]string{fmt.Sprintf("  its output: projection %d", 2025+i), ids.states[i+1]})
	}
	for _, r := range rows {
		fmt.Fprintf(w, "  %-30s %s\n", r[0], r[1])
	}
	fmt.Fprintf(w, "\nThe chain: survey 2024 → run 1 → projection 2025 → run 2 → projection 2026 → run 3 → projection 2027.\n")
	fmt.Fprintf(w, "The PROV document of run 3 with three upstream steps is %d bytes of Turtle.\n\n", turtleBytes)
	if created {
		fmt.Fprintf(w, "A writer token was created for this demo (stored hashed in the server's token file; shown only now):\n")
		fmt.Fprintf(w, "  export PROVGRAPH_TOKEN=%s\n\n", token)
	}
	fmt.Fprintf(w, "Where to look:\n")
	auth := `-H "Authorization: Bearer $PROVGRAPH_TOKEN"`
	for _, l := range []struct{ what, path string }{
		{"run 3 as PROV Turtle, three steps upstream", "/api/v1/prov/" + ids.runs[2] + "?format=turtle&depth=3"},
		{"the 2027 projection as JSON-LD, its whole lineage", "/api/v1/prov/" + ids.states[3] + "?format=jsonld&depth=6"},
		{"run 3 as registered", "/api/v1/model-runs/" + ids.runs[2]},
		{"every run of the study", "/api/v1/model-runs?study_id=" + url.QueryEscape(ids.study)},
		{"the 2025 projection", "/api/v1/datasets/" + ids.states[1]},
	} {
		fmt.Fprintf(w, "  # %s\n  curl -s %s '%s%s'\n", l.what, auth, base, l.path)
	}
	fmt.Fprintf(w, "\nIn a browser (sign in with the token), the 2027 projection's lineage to click through:\n  %s/ui/lineage/%s?direction=upstream&depth=6\n", base, ids.states[3])
	fmt.Fprintf(w, "\nIn Neo4j (cypher-shell or the browser), the lineage of the last projection:\n")
	fmt.Fprintf(w, "  MATCH p = (:Dataset {id:'%s'})-[:WAS_GENERATED_BY|USED*1..6]->() RETURN p\n", ids.states[3])
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
