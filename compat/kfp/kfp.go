// Package kfp serves Kubeflow Pipelines' v1beta1 API (the RunService, ExperimentService
// and healthz that kfp-server-api 1.8 and the kfp 1.8 SDK call) on provgraph's tracked
// runs: an experiment is a study, a run is a tracked run, terminate is cancel. It only
// translates; the lifecycle, storage and access rules are the run service's.
package kfp

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/gorilla/mux"
	"github.com/rs/zerolog"

	"provgraph"
	"provgraph/auth"
	"provgraph/compat"
	"provgraph/registry"
	"provgraph/runs"
)

// Runs is what the adapter needs of the tracked-run service (runs.Runs).
type Runs interface {
	Create(ctx context.Context, raw []byte, actor registry.Actor, idemKey string) (runs.Run, error)
	Get(ctx context.Context, id, view string) (runs.Run, error)
	List(ctx context.Context, params map[string][]string) (runs.RunPage, error)
	Count(ctx context.Context, params map[string][]string) (int, error)
	Do(ctx context.Context, id string, op runs.Op, actor registry.Actor, admin bool, reason string, outputs []runs.RunInput) (runs.Run, error)
	Archive(ctx context.Context, id string, archived bool, actor registry.Actor) (runs.Run, error)
	Delete(ctx context.Context, id string, actor registry.Actor, reason string, purge, admin bool) error
	ReportMetrics(ctx context.Context, id string, ms []runs.Metric, actor registry.Actor, admin bool) ([]runs.MetricResult, error)
	Metrics(ctx context.Context, id string) ([]runs.Metric, error)
	Artifact(ctx context.Context, runID, name string) (runs.Artifact, io.ReadSeekCloser, error)
}

// Studies is what the adapter needs of the registry: experiments are studies.
type Studies interface {
	Create(ctx context.Context, k registry.Kind, raw []byte, actor registry.Actor, idemKey string) (registry.Record, error)
	Get(ctx context.Context, k registry.Kind, id string, version int, v registry.Viewer) (registry.Record, error)
	List(ctx context.Context, q registry.ListQuery) (registry.Page, error)
}

// Config wires the adapter.
type Config struct {
	Runs    Runs
	Studies Studies
	// Key signs page tokens (the server's page-token secret, read when a list pages).
	Key     func() []byte
	Version string
}

// MaxScan bounds the runs or experiments one list reads to filter, sort and count: a
// list over more answers 400 and asks for an experiment or a narrower name filter.
const MaxScan = 10000

// DefaultExperiment is where a run created without an experiment goes, as in KFP.
const DefaultExperiment = "Default"

type api struct {
	Config
	tokens Tokens
	study  registry.Kind
	// names serialises experiment creation so that names stay unique (one server).
	names sync.Mutex
	// seen holds recent experiment lookups for run creation.
	seen lookups
}

// idPattern matches a provgraph id, whether its '/' came escaped or raw.
const idPattern = `[A-Za-z0-9._~-]+(?:/[A-Za-z0-9._~-]+)*`

// API is the KFP v1beta1 wire API.
func API(c Config) compat.API {
	study, ok := registry.KindByName("study")
	if !ok {
		panic("registry has no study kind")
	}
	a := &api{Config: c, tokens: Tokens{Key: c.Key}, study: study}
	const base = "/apis/v1beta1"
	run := base + "/runs/{run_id:" + idPattern + "}"
	id := base + "/runs/{id:" + idPattern + "}"
	routes := []compat.Route{
		{Method: "GET", Path: base + "/healthz", Public: true, Summary: "KFP healthz: not multi-user.", Handler: a.healthz},
		{Method: "POST", Path: base + "/experiments", Role: auth.Writer, Summary: "Create an experiment (a study); names are unique.", Handler: a.createExperiment},
		{Method: "GET", Path: base + "/experiments", Role: auth.Reader, Summary: "List experiments.", Handler: a.listExperiments},
		{Method: "GET", Path: base + "/experiments/{id:" + idPattern + "}", Role: auth.Reader, Summary: "An experiment.", Handler: a.getExperiment},
		{Method: "POST", Path: base + "/runs", Role: auth.Writer, Summary: "Create a run (PENDING).", Handler: a.createRun},
		{Method: "GET", Path: base + "/runs", Role: auth.Reader, Summary: "List runs.", Handler: a.listRuns},
		{Method: "GET", Path: run + "/nodes/{node_id}/artifacts/{artifact_name}:read", Role: auth.Reader, Transfer: true,
			Summary: "An artifact <node_id>/<artifact_name> of a run, base64.", Handler: a.readArtifact},
		{Method: "POST", Path: run + "/terminate", Role: auth.Writer, Summary: "Terminate (cancel) a run.", Handler: a.op(runs.OpCancel, "run_id")},
		{Method: "POST", Path: run + "/retry", Role: auth.Writer, Summary: "Retry a failed, errored or terminated run.", Handler: a.op(runs.OpRetry, "run_id")},
		{Method: "POST", Path: id + ":archive", Role: auth.Writer, Summary: "Archive a run.", Handler: a.archive(true)},
		{Method: "POST", Path: id + ":unarchive", Role: auth.Writer, Summary: "Unarchive a run.", Handler: a.archive(false)},
		{Method: "POST", Path: run + ":reportMetrics", Role: auth.Writer, Summary: "Report a run's metrics (its executor).", Handler: a.reportMetrics},
		{Method: "GET", Path: run, Role: auth.Reader, Summary: "A run (ApiRunDetail).", Handler: a.getRun},
		{Method: "DELETE", Path: id, Role: auth.Writer, Summary: "Delete an ended run.", Handler: a.deleteRun},
	}
	// What KFP serves and provgraph does not (pipelines, jobs, …) is KFP's 404.
	for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
		routes = append(routes, compat.Route{Method: m, Path: base + "/{rest:.*}", Role: auth.Reader, Summary: "Not served.",
			Handler: func(w http.ResponseWriter, r *http.Request) {
				Fail(w, r, provgraph.Errorf(provgraph.NotFound, "%s %s is not served by provgraph's KFP API", r.Method, r.URL.Path))
			}})
	}
	return compat.API{Name: "kfp", Routes: routes, Fail: Fail}
}

// Fail answers an error as grpc-gateway does.
func Fail(w http.ResponseWriter, r *http.Request, err error) {
	var we *wireError
	if errors.As(err, &we) {
		write(w, we.status, ErrorBody{Error: we.msg, Code: we.code, Message: we.msg, Details: []any{}})
		return
	}
	f := compat.Resolve(w, r, err, "kfp")
	_, code := GRPC(f.Code)
	msg := f.Message
	if f.Status < 500 {
		for _, fe := range f.Fields {
			if fe.Path != "" {
				msg += fmt.Sprintf("; %s: %s", fe.Path, fe.Message)
			} else {
				msg += "; " + fe.Message
			}
		}
	}
	status := f.Status
	write(w, status, ErrorBody{Error: msg, Code: code, Message: msg, Details: []any{}})
}

// wireError is an error with KFP's own status and code (ALREADY_EXISTS has no
// provgraph code of its own).
type wireError struct {
	status, code int
	msg          string
}

func (e *wireError) Error() string { return e.msg }

func write(w http.ResponseWriter, status int, v any) {
	compat.WriteJSON(w, nil, status, v, []byte(`{"error":"internal error","code":13,"message":"internal error","details":[]}`))
}

func admin(r *http.Request) bool { return compat.Caller(r).Role.Allows(auth.Admin) }

func (a *api) healthz(w http.ResponseWriter, r *http.Request) {
	write(w, 200, map[string]any{"multi_user": false, "commit_sha": "", "tag_name": a.Version})
}

// body reads a request body; an empty one is "" (KFP's verbs send none).
func body(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	b, err := io.ReadAll(r.Body)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, provgraph.Errorf(provgraph.TooLarge, "the body is over %d bytes", tooBig.Limit)
	}
	if err != nil {
		return nil, provgraph.Errorf(provgraph.Invalid, "the body could not be read")
	}
	return b, nil
}

// ---- experiments ----

func (a *api) createExperiment(w http.ResponseWriter, r *http.Request) {
	b, err := body(r)
	if err != nil {
		Fail(w, r, err)
		return
	}
	in, doc, err := ReadExperiment(b)
	if err != nil {
		Fail(w, r, err)
		return
	}
	a.names.Lock()
	defer a.names.Unlock()
	if _, found, err := a.experimentNamed(r.Context(), in.Name, compat.Caller(r).Viewer()); err != nil {
		Fail(w, r, err)
		return
	} else if found {
		Fail(w, r, &wireError{409, 6, fmt.Sprintf("an experiment named %q already exists", in.Name)})
		return
	}
	rec, err := a.Studies.Create(r.Context(), a.study, doc, compat.Caller(r).Actor(), "")
	if err != nil {
		Fail(w, r, err)
		return
	}
	write(w, 200, ToExperiment(rec))
}

// experimentNamed finds the experiment of this exact name.
func (a *api) experimentNamed(ctx context.Context, name string, v registry.Viewer) (registry.Record, bool, error) {
	recs, err := a.studies(ctx, name, v)
	if err != nil {
		return registry.Record{}, false, err
	}
	for _, rec := range recs {
		if ToExperiment(rec).Name == name {
			return rec, true, nil
		}
	}
	return registry.Record{}, false, nil
}

// studies reads every study whose name holds hint, up to MaxScan.
func (a *api) studies(ctx context.Context, hint string, v registry.Viewer) ([]registry.Record, error) {
	params := map[string][]string{"page_size": {"1000"}}
	if hint != "" {
		params["name"] = []string{hint}
	}
	var out []registry.Record
	for {
		q, err := registry.ParseListQuery(a.study, params)
		if err != nil {
			return nil, err
		}
		q.Viewer = v
		page, err := a.Studies.List(ctx, q)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Records...)
		if len(out) > MaxScan {
			return nil, invalid("filter", fmt.Sprintf("more than %d experiments match; narrow the list with a name filter", MaxScan))
		}
		if page.NextPageToken == "" {
			return out, nil
		}
		params["page_token"] = []string{page.NextPageToken}
	}
}

func (a *api) getExperiment(w http.ResponseWriter, r *http.Request) {
	rec, err := a.Studies.Get(r.Context(), a.study, mux.Vars(r)["id"], 0, compat.Caller(r).Viewer())
	if err != nil {
		Fail(w, r, err)
		return
	}
	write(w, 200, ToExperiment(rec))
}

func (a *api) listExperiments(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f, err := ParseFilter(q.Get("filter"), ExperimentFields)
	if err != nil {
		Fail(w, r, err)
		return
	}
	s, err := ParseSort(q.Get("sort_by"), ExperimentFields)
	if err != nil {
		Fail(w, r, err)
		return
	}
	size, err := ParsePageSize(q.Get("page_size"))
	if err != nil {
		Fail(w, r, err)
		return
	}
	recs, err := a.studies(r.Context(), f.NameHint(), compat.Caller(r).Viewer())
	if err != nil {
		Fail(w, r, err)
		return
	}
	rows := make([]Row, len(recs))
	for i, rec := range recs {
		rows[i] = ExperimentRow(rec)
	}
	page, err := a.tokens.Page(Query{List: "experiments", Filter: f, Sort: s}, rows, size, q.Get("page_token"))
	if err != nil {
		Fail(w, r, err)
		return
	}
	out := struct {
		Experiments []any  `json:"experiments"`
		TotalSize   int    `json:"total_size"`
		NextToken   string `json:"next_page_token,omitempty"`
	}{Experiments: []any{}, TotalSize: page.Total, NextToken: page.Next}
	for _, row := range page.Rows {
		out.Experiments = append(out.Experiments, row.Object)
	}
	write(w, 200, out)
}

// ---- runs ----

func (a *api) createRun(w http.ResponseWriter, r *http.Request) {
	b, err := body(r)
	if err != nil {
		Fail(w, r, err)
		return
	}
	c, err := ReadRun(b)
	if err != nil {
		Fail(w, r, err)
		return
	}
	caller := compat.Caller(r)
	e, err := a.experiment(r.Context(), c.Experiment, caller)
	if err != nil {
		Fail(w, r, err)
		return
	}
	raw, err := c.Native(e.ID, e.Name)
	if err != nil {
		Fail(w, r, err)
		return
	}
	run, err := a.Runs.Create(r.Context(), raw, caller.Actor(), "")
	if err != nil {
		if isStudyRef(err) { // deleted since it was looked up
			a.seen.forget(e.ID)
			err = registry.ErrNotFound("experiment", e.ID)
		}
		Fail(w, r, err)
		return
	}
	if len(run.Spec) == 0 {
		run.Spec = raw
	}
	write(w, 200, RunDetail{Run: ToRun(run, e.Name, nil)})
}

// experiment is the experiment a run is created in (the default one for ""), as the
// caller may read it. A recent lookup by a caller who may read as much is reused: the
// run's creation checks again that the study exists.
func (a *api) experiment(ctx context.Context, id string, caller auth.Principal) (Experiment, error) {
	if id == "" {
		rec, err := a.defaultExperiment(ctx, caller)
		return ToExperiment(rec), err
	}
	v := caller.Viewer()
	if e, ok := a.seen.get(id, v); ok {
		return e, nil
	}
	rec, err := a.Studies.Get(ctx, a.study, id, 0, v)
	if err != nil {
		return Experiment{}, err
	}
	e := ToExperiment(rec)
	a.seen.put(id, v, e)
	return e, nil
}

// isStudyRef says whether a create failed on its study reference.
func isStudyRef(err error) bool {
	var e *provgraph.Error
	if !errors.As(err, &e) || e.Code != provgraph.Invalid {
		return false
	}
	for _, f := range e.Fields {
		if f.Path == "/study_id" {
			return true
		}
	}
	return false
}

func (a *api) defaultExperiment(ctx context.Context, caller auth.Principal) (registry.Record, error) {
	a.names.Lock()
	defer a.names.Unlock()
	rec, found, err := a.experimentNamed(ctx, DefaultExperiment, caller.Viewer())
	if err != nil || found {
		return rec, err
	}
	_, doc, _ := ReadExperiment([]byte(`{"name":"` + DefaultExperiment + `"}`))
	return a.Studies.Create(ctx, a.study, doc, caller.Actor(), "")
}

func (a *api) getRun(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["run_id"]
	var (
		ms     []runs.Metric
		merr   error
		wg     sync.WaitGroup
		ctx    = r.Context()
		caller = compat.Caller(r)
	)
	// The run and its metrics are two reads; they go out together.
	wg.Add(1)
	go func() {
		defer wg.Done()
		ms, merr = a.Runs.Metrics(ctx, id)
	}()
	run, err := a.Runs.Get(ctx, id, runs.ViewFull)
	wg.Wait()
	if err == nil {
		err = merr
	}
	if err != nil {
		Fail(w, r, err)
		return
	}
	names := a.experimentNames(ctx, caller.Viewer())
	write(w, 200, RunDetail{Run: ToRun(run, names(run), ms)})
}

// experimentNames names runs' experiments: as stored with the run, or read once per
// request for runs created natively.
func (a *api) experimentNames(ctx context.Context, v registry.Viewer) func(runs.Run) string {
	cache := map[string]string{}
	return func(run runs.Run) string {
		if n := ExperimentName(run); n != "" || run.StudyID == "" {
			return n
		}
		if n, ok := cache[run.StudyID]; ok {
			return n
		}
		rec, err := a.Studies.Get(ctx, a.study, run.StudyID, 0, v)
		if err == nil {
			cache[run.StudyID] = ToExperiment(rec).Name
		} else {
			cache[run.StudyID] = ""
		}
		return cache[run.StudyID]
	}
}

func (a *api) listRuns(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f, err := ParseFilter(q.Get("filter"), RunFields)
	if err != nil {
		Fail(w, r, err)
		return
	}
	s, err := ParseSort(q.Get("sort_by"), RunFields)
	if err != nil {
		Fail(w, r, err)
		return
	}
	size, err := ParsePageSize(q.Get("page_size"))
	if err != nil {
		Fail(w, r, err)
		return
	}
	var scope string
	if t, _ := enumName(jsonString(q.Get("resource_reference_key.type")), resourceTypes); t == "EXPERIMENT" {
		scope = q.Get("resource_reference_key.id")
		if scope == "" {
			Fail(w, r, invalid("resource_reference_key.id", "an EXPERIMENT scope needs the experiment's id"))
			return
		}
	}
	if sort, archived, ok := NativeList(f, s); ok {
		a.listNative(w, r, Query{List: "runs", Scope: scope, Filter: f, Sort: s}, sort, archived, size, q.Get("page_token"))
		return
	}
	params := map[string][]string{"archived": {f.Archived()}, "page_size": {"1000"}, "view": {runs.ViewFull}}
	if scope != "" {
		params["study_id"] = []string{scope}
	}
	if hint := f.NameHint(); hint != "" {
		params["name"] = []string{hint}
	}
	names := a.experimentNames(r.Context(), compat.Caller(r).Viewer())
	var rows []Row
	for {
		page, err := a.Runs.List(r.Context(), params)
		if err != nil {
			Fail(w, r, err)
			return
		}
		for _, run := range page.Runs {
			rows = append(rows, RunRow(run, ToRun(run, names(run), nil)))
		}
		if len(rows) > MaxScan {
			Fail(w, r, invalid("filter", fmt.Sprintf("more than %d runs match; list one experiment's runs, or narrow the list with a name filter", MaxScan)))
			return
		}
		if page.NextPageToken == "" {
			break
		}
		params["page_token"] = []string{page.NextPageToken}
	}
	page, err := a.tokens.Page(Query{List: "runs", Scope: scope, Filter: f, Sort: s}, rows, size, q.Get("page_token"))
	if err != nil {
		Fail(w, r, err)
		return
	}
	writeRuns(w, page)
}

func writeRuns(w http.ResponseWriter, page Paged) {
	out := struct {
		Runs      []any  `json:"runs"`
		TotalSize int    `json:"total_size"`
		NextToken string `json:"next_page_token,omitempty"`
	}{Runs: []any{}, TotalSize: page.Total, NextToken: page.Next}
	for _, row := range page.Rows {
		out.Runs = append(out.Runs, row.Object)
	}
	write(w, 200, out)
}

// listNative answers a run list the native list can sort and page (NativeList): one
// page and a count from the database, however many runs there are. KFP's token holds
// the last run's position and becomes a native token for whatever page size is asked.
func (a *api) listNative(w http.ResponseWriter, r *http.Request, q Query, sort, archived string, size int, token string) {
	params := map[string][]string{"archived": {archived}, "sort": {sort}, "page_size": {strconv.Itoa(size)}, "view": {runs.ViewFull}}
	if q.Scope != "" {
		params["study_id"] = []string{q.Scope}
	}
	var (
		total int
		cerr  error
		wg    sync.WaitGroup
	)
	counted := maps.Clone(params) // params gains the page token meanwhile
	wg.Add(1)
	go func() {
		defer wg.Done()
		total, cerr = a.Runs.Count(r.Context(), counted)
	}()
	err := func() error {
		after, err := a.tokens.position(q, token)
		if err != nil || after == nil {
			return err
		}
		native := runs.Tokens{Key: a.Key()}
		nq, err := native.ParseRunQuery(params)
		if err != nil {
			return err
		}
		last := runs.Run{ID: after.ID, CreatedAt: after.Times["created_at"], Name: after.Text["name"]}
		params["page_token"] = []string{native.Next(nq, last)}
		return nil
	}()
	var page runs.RunPage
	if err == nil {
		page, err = a.Runs.List(r.Context(), params)
	}
	wg.Wait()
	if err == nil {
		err = cerr
	}
	if err != nil {
		Fail(w, r, err)
		return
	}
	names := a.experimentNames(r.Context(), compat.Caller(r).Viewer())
	out := Paged{Total: total}
	for _, run := range page.Runs {
		out.Rows = append(out.Rows, RunRow(run, ToRun(run, names(run), nil)))
	}
	if page.NextPageToken != "" && len(out.Rows) > 0 {
		out.Next = a.tokens.Next(q, out.Rows[len(out.Rows)-1])
	}
	writeRuns(w, out)
}

// jsonString quotes s as a JSON string, for enumName; "" stays absent.
func jsonString(s string) json.RawMessage {
	if s == "" {
		return nil
	}
	b, _ := json.Marshal(s)
	return b
}

func (a *api) op(op runs.Op, v string) http.HandlerFunc {
	reason := map[runs.Op]string{runs.OpCancel: "terminated through the Kubeflow Pipelines API", runs.OpRetry: "retried through the Kubeflow Pipelines API"}[op]
	return func(w http.ResponseWriter, r *http.Request) {
		if _, err := body(r); err != nil { // none is sent; whatever is, is not read
			Fail(w, r, err)
			return
		}
		if _, err := a.Runs.Do(r.Context(), mux.Vars(r)[v], op, compat.Caller(r).Actor(), admin(r), reason, nil); err != nil {
			Fail(w, r, err)
			return
		}
		write(w, 200, struct{}{})
	}
}

func (a *api) archive(archived bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if _, err := a.Runs.Archive(r.Context(), mux.Vars(r)["id"], archived, compat.Caller(r).Actor()); err != nil {
			Fail(w, r, err)
			return
		}
		write(w, 200, struct{}{})
	}
}

func (a *api) deleteRun(w http.ResponseWriter, r *http.Request) {
	if err := a.Runs.Delete(r.Context(), mux.Vars(r)["id"], compat.Caller(r).Actor(), "deleted through the Kubeflow Pipelines API", false, admin(r)); err != nil {
		Fail(w, r, err)
		return
	}
	write(w, 200, struct{}{})
}

func (a *api) reportMetrics(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["run_id"]
	b, err := body(r)
	if err != nil {
		Fail(w, r, err)
		return
	}
	var req struct {
		RunID   string     `json:"run_id"`
		Metrics []MetricIn `json:"metrics"`
	}
	if err := json.Unmarshal(b, &req); err != nil {
		Fail(w, r, invalid("", "the body must be {\"run_id\", \"metrics\": [{\"name\", \"node_id\", \"number_value\", \"format\"}]}: "+strings.TrimPrefix(err.Error(), "json: ")))
		return
	}
	if req.RunID != "" && req.RunID != id {
		Fail(w, r, invalid("run_id", "run_id in the body is not the run of the path"))
		return
	}
	if len(req.Metrics) > runs.MaxMetrics {
		Fail(w, r, invalid("metrics", fmt.Sprintf("a report holds at most %d metrics", runs.MaxMetrics)))
		return
	}
	results := make([]MetricResult, len(req.Metrics))
	var valid []runs.Metric
	var at []int
	for i, m := range req.Metrics {
		results[i] = MetricResult{Name: m.Name, NodeID: m.NodeID, Status: MetricOK}
		native, msg := CheckMetric(m)
		if msg != "" {
			results[i].Status, results[i].Message = MetricInvalid, msg
			continue
		}
		valid, at = append(valid, native), append(at, i)
	}
	if len(valid) > 0 {
		got, err := a.Runs.ReportMetrics(r.Context(), id, valid, compat.Caller(r).Actor(), admin(r))
		if err != nil {
			Fail(w, r, err)
			return
		}
		for j, res := range got {
			results[at[j]].Status, results[at[j]].Message = MetricStatus(res.Status), res.Message
			if res.Status == runs.MetricOK {
				results[at[j]].Message = ""
			}
		}
	} else if _, err := a.Runs.Get(r.Context(), id, runs.ViewMinimal); err != nil {
		Fail(w, r, err) // an unknown run is 404 even when no metric is valid
		return
	}
	write(w, 200, map[string]any{"results": results})
}

func (a *api) readArtifact(w http.ResponseWriter, r *http.Request) {
	v := mux.Vars(r)
	_, f, err := a.Runs.Artifact(r.Context(), v["run_id"], v["node_id"]+"/"+v["artifact_name"])
	if err != nil {
		if provgraph.ErrorCode(err) == provgraph.Invalid {
			err = provgraph.Errorf(provgraph.NotFound, "run %s has no artifact %q of node %q", v["run_id"], v["artifact_name"], v["node_id"])
		}
		Fail(w, r, err)
		return
	}
	defer f.Close()
	// Streamed: the artifact is read once, encoded as it goes, never held whole.
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(200)
	if _, err := io.WriteString(w, `{"data":"`); err != nil {
		return
	}
	enc := base64.NewEncoder(Base64, w)
	if _, err := io.Copy(enc, f); err != nil {
		zerolog.Ctx(r.Context()).Info().Err(err).Msg("the artifact's answer was cut short")
		return
	}
	if err := enc.Close(); err != nil {
		return
	}
	_, _ = io.WriteString(w, "\"}\n")
}
