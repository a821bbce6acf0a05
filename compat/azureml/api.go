// Package azureml serves the Azure ML execution API of the SDK v1 (azureml-core) over
// provgraph's tracked runs, under Azure's own paths: the service-discovery document (so
// the SDK is pointed at provgraph by configuration alone), startrun, snapshotrun,
// localrun and cancel, and the run-history calls the SDK makes around them. The SDK
// chooses run ids; provgraph keeps each as the tag azureml.run_id of the run it creates
// and resolves it through the native list. A local run's answer is a zip whose
// azureml-setup/Invocation.sh runs the user's script and reports the run's life back to
// provgraph's native executor routes.
package azureml

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/mux"
	"github.com/rs/zerolog"

	"provgraph"
	"provgraph/auth"
	"provgraph/compat"
	"provgraph/compat/pager"
	"provgraph/registry"
	"provgraph/runs"
)

// Runs is what the adapter needs of the tracked-run service (runs.Runs).
type Runs interface {
	CreateWith(ctx context.Context, raw []byte, actor registry.Actor, idemKey string, contents []runs.Content) (runs.Run, error)
	List(ctx context.Context, params map[string][]string) (runs.RunPage, error)
	Get(ctx context.Context, id, view string) (runs.Run, error)
	Do(ctx context.Context, id string, op runs.Op, actor registry.Actor, admin bool, reason string, outputs []runs.RunInput) (runs.Run, error)
	Artifacts(ctx context.Context, runID string) ([]runs.Artifact, error)
	MergeTags(ctx context.Context, id string, tags map[string]*string, actor registry.Actor) (runs.Run, error)
}

// Blobs keeps content by its SHA-256 (runs.Blobs): a startrun's project zip.
type Blobs interface {
	Put(r io.Reader, limit int64) (sum string, size int64, err error)
	Open(sum string) (io.ReadSeekCloser, error)
}

// Snapshots keeps, durably, which manifest (a blob in Blobs) each snapshot id names, so a
// run submitted from a snapshot made before a restart still uses it (graph.AzureSnapshots).
type Snapshots interface {
	PutSnapshot(ctx context.Context, id, sum string, size int64) error
	Snapshot(ctx context.Context, id string) (sum string, size int64, ok bool, err error)
}

// Studies is what the adapter needs of the registry: experiments are studies.
type Studies interface {
	Create(ctx context.Context, k registry.Kind, raw []byte, actor registry.Actor, idemKey string) (registry.Record, error)
	List(ctx context.Context, q registry.ListQuery) (registry.Page, error)
}

// Config wires the adapter.
type Config struct {
	Runs    Runs
	Blobs   Blobs
	Studies Studies
	// Snapshots is required: the in-memory index is only its cache.
	Snapshots Snapshots
	// MaxProject bounds a startrun's project zip; 256 MiB when 0.
	MaxProject int64
}

// DiscoveryPath is where provgraph serves Azure ML's service-discovery document: give
// the SDK <provgraph>/azureml/discovery as the workspace's discovery URL.
const DiscoveryPath = "/azureml/discovery"

// ws is the workspace scope in Azure's paths.
const ws = "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.MachineLearningServices/workspaces/{ws}"

const (
	exp      = "/experiments/{exp:[A-Za-z0-9][A-Za-z0-9_-]{0,254}}"
	runIDVar = "{runId:[A-Za-z0-9][A-Za-z0-9_-]{0,255}}"
	// Execution is the execution service's experiment scope.
	Execution = "/execution/v1.0" + ws + exp
	// History is the run-history service's experiment scope.
	History = "/history/v1.0" + ws + exp
	// HistoryByID is the same scope by the experiment's id: its study's, whose '/' the SDK
	// sends as %2F.
	HistoryByID = "/history/v1.0" + ws + "/experimentids/{expid:[A-Za-z0-9._~-]+(?:/[A-Za-z0-9._~-]+)*}"
)

// API is the Azure ML execution and run-history facade over c.
func API(c Config) compat.API {
	if c.MaxProject <= 0 {
		c.MaxProject = 256 << 20
	}
	if c.Snapshots == nil {
		panic("azureml: Config.Snapshots is required")
	}
	study, ok := registry.KindByName("study")
	if !ok {
		panic("registry has no study kind")
	}
	a := &api{Config: c, study: study, seen: map[string]studyEntry{}}
	var runRoutes []compat.Route
	for _, scope := range []string{History, HistoryByID} {
		run := scope + "/runs/" + runIDVar
		runRoutes = append(runRoutes,
			compat.Route{Method: "PATCH", Path: run, Role: auth.Writer, Summary: "Merge properties into a run (a plain object, as the SDK sends it after a submit).", Handler: a.patch},
			compat.Route{Method: "GET", Path: run, Role: auth.Reader, Summary: "A run as a RunDto.", Handler: a.get},
			compat.Route{Method: "GET", Path: run + "/details", Role: auth.Reader, Summary: "A run as a RunDetailsDto.", Handler: a.details},
			compat.Route{Method: "POST", Path: run + "/events", Role: auth.Writer, Summary: "Run events: Microsoft.MachineLearning.Run.Canceled cancels the run.", Handler: a.events},
			compat.Route{Method: "GET", Path: run + "/metricsingest/wait", Role: auth.Reader, Summary: "Wait for metrics to be ingested: provgraph stores them as they come, so there is nothing to wait for.", Handler: a.wait},
		)
	}
	return compat.API{
		Name: "azureml",
		Fail: Fail,
		Routes: append([]compat.Route{
			{Method: "GET", Path: DiscoveryPath, Public: true, Summary: "Azure ML service discovery: every service is this server.", Handler: a.discovery},
			{Method: "GET", Path: "/rp/workspaces" + ws + "/computes/{target}", Role: auth.Reader, Summary: "Compute targets: provgraph has none to describe (404, which the SDK tolerates).", Handler: a.compute},
			{Method: "POST", Path: Execution + "/snapshotrun", Role: auth.Writer, Summary: "Submit a run from a snapshot (PascalCase RunDefinition); ?runId= is the client's id.", Handler: a.snapshotRun},
			{Method: "POST", Path: Execution + "/startrun", Role: auth.Writer, Transfer: true, Summary: "Submit a run with a project zip (multipart runDefinitionFile + projectZipFile).", Handler: a.startRun},
			{Method: "POST", Path: Execution + "/localrun", Role: auth.Writer, Summary: "Start a local run (multipart files: definition.json, aml_config.zip); answers the invocation zip the SDK runs.", Handler: a.localRun},
			{Method: "POST", Path: Execution + "/runId/" + runIDVar + "/cancel", Role: auth.Writer, Summary: "Cancel a run (the cancelUri of every RunDto).", Handler: a.cancel},
			{Method: "POST", Path: History, Role: auth.Writer, Summary: "Create an experiment: the study of its name, made on first use.", Handler: a.experiment},
			{Method: "GET", Path: History, Role: auth.Writer, Summary: "An experiment (made on first use, as Azure's SDK expects of Experiment(ws, name)).", Handler: a.experiment},
			{Method: "POST", Path: History + "/runs:query", Role: auth.Reader, Summary: "The runs of an experiment, newest first: filter (ParentRunId eq null), top, continuationToken.", Handler: a.query},
			{Method: "GET", Path: "/artifact/v2.0" + ws + "/artifacts/prefix/contentinfo/{origin}/{container}/{path:.+}", Role: auth.Reader, Summary: "A run's artifacts under a prefix (user_logs, system_logs).", Handler: a.contentInfo},
			{Method: "GET", Path: "/content/v1.0" + ws + "/snapshots/latest/metadata", Role: auth.Reader, Summary: "The latest snapshot: none, so the SDK sends its whole tree.", Handler: a.latestSnapshot},
			{Method: "POST", Path: "/content/v2.0" + ws + "/snapshots/getblob", Role: auth.Writer, Summary: "Upload URLs for a snapshot's files: none (the SDK uploads to Azure blob storage only).", Handler: a.getBlob},
			{Method: "POST", Path: "/content/v2.0" + ws + "/snapshots/{snapshot}", Role: auth.Writer, Summary: "Create a snapshot: its manifest (directory tree with every file's hash) is kept content-addressed.", Handler: a.createSnapshot},
			{Method: "GET", Path: Execution + "/runId/" + runIDVar + "/project.zip", Role: auth.Reader, Transfer: true, Summary: "The project zip a startrun carried, for the executor that claims the run.", Handler: a.project},
		}, runRoutes...),
	}
}

type api struct {
	Config
	study registry.Kind
	snaps snapshots
	ids   aliases
	mu    sync.Mutex // one study per experiment name
	seen  map[string]studyEntry
}

type studyEntry struct {
	rec registry.Record
	at  time.Time
}

func base(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (a *api) discovery(w http.ResponseWriter, r *http.Request) {
	b := base(r)
	writeJSON(w, r, http.StatusOK, map[string]string{
		"api": b, "history": b, "experimentation": b, "hyperdrive": b, "modelmanagement": b, "studio": b, "catalog": b,
	})
}

func (a *api) compute(w http.ResponseWriter, r *http.Request) {
	Fail(w, r, provgraph.Errorf(provgraph.NotFound, "compute %q: provgraph runs on whatever executor claims the run", mux.Vars(r)["target"]))
}

// workspace names the workspace of a request.
func workspace(r *http.Request) string {
	v := mux.Vars(r)
	return v["sub"] + "/" + v["rg"] + "/" + v["ws"]
}

func bodyError(err error) error {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return provgraph.Errorf(provgraph.TooLarge, "the body is over %d bytes", tooLarge.Limit)
	}
	return provgraph.Wrap(provgraph.Invalid, err, "the body could not be read")
}

func (a *api) submitNames(r *http.Request) (string, string, error) {
	q := r.URL.Query()
	runID, experiment := q.Get("runId"), mux.Vars(r)["exp"]
	if len(q["runId"]) != 1 {
		return "", "", invalid("runId", "give the run id once, as ?runId=")
	}
	return runID, experiment, CheckNames(runID, experiment)
}

func (a *api) snapshotRun(w http.ResponseWriter, r *http.Request) {
	runID, experiment, err := a.submitNames(r)
	if err != nil {
		Fail(w, r, err)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		Fail(w, r, bodyError(err))
		return
	}
	def, err := ParseDefinition(body)
	if err != nil {
		Fail(w, r, err)
		return
	}
	run, err := a.submit(r, Submit{RunID: runID, Experiment: experiment, Workspace: workspace(r), Kind: "job", Def: def})
	if err != nil {
		Fail(w, r, err)
		return
	}
	writeJSON(w, r, http.StatusOK, map[string]string{"runId": foreign(run).RunID})
}

// maxDefinition bounds a definition part of a multipart submit.
const maxDefinition = 1 << 20

func readPart(p *multipart.Part, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(p, limit+1))
	if err != nil {
		return nil, bodyError(err)
	}
	if int64(len(b)) > limit {
		return nil, provgraph.Errorf(provgraph.TooLarge, "part %q is over %d bytes", p.FormName(), limit)
	}
	return b, nil
}

func multipartReader(r *http.Request) (*multipart.Reader, error) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return nil, invalid("Content-Type", "must be multipart/form-data")
	}
	return multipart.NewReader(r.Body, params["boundary"]), nil
}

func (a *api) startRun(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, a.MaxProject+maxDefinition+64<<10)
	runID, experiment, err := a.submitNames(r)
	if err != nil {
		Fail(w, r, err)
		return
	}
	mr, err := multipartReader(r)
	if err != nil {
		Fail(w, r, err)
		return
	}
	var def []byte
	var project *Blob
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			Fail(w, r, bodyError(err))
			return
		}
		switch p.FormName() {
		case "runDefinitionFile":
			if def, err = readPart(p, maxDefinition); err != nil {
				Fail(w, r, err)
				return
			}
		case "projectZipFile":
			sum, size, err := a.Blobs.Put(p, a.MaxProject)
			if err != nil {
				Fail(w, r, err)
				return
			}
			project = &Blob{SHA256: sum, Size: size, Name: "project.zip"}
		default:
			Fail(w, r, invalid(p.FormName(), "unknown part (runDefinitionFile, projectZipFile)"))
			return
		}
	}
	if def == nil {
		Fail(w, r, invalid("runDefinitionFile", "is required"))
		return
	}
	d, err := ParseDefinition(def)
	if err != nil {
		Fail(w, r, err)
		return
	}
	run, err := a.submit(r, Submit{RunID: runID, Experiment: experiment, Workspace: workspace(r), Kind: "job", Def: d, Project: project})
	if err != nil {
		Fail(w, r, err)
		return
	}
	writeJSON(w, r, http.StatusOK, map[string]string{"runId": foreign(run).RunID})
}

func (a *api) localRun(w http.ResponseWriter, r *http.Request) {
	runID, experiment, err := a.submitNames(r)
	if err != nil {
		Fail(w, r, err)
		return
	}
	mr, err := multipartReader(r)
	if err != nil {
		Fail(w, r, err)
		return
	}
	var def []byte
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			Fail(w, r, bodyError(err))
			return
		}
		if p.FormName() != "files" {
			Fail(w, r, invalid(p.FormName(), "unknown part (files: definition.json, aml_config.zip)"))
			return
		}
		switch p.FileName() {
		case "definition.json":
			if def, err = readPart(p, maxDefinition); err != nil {
				Fail(w, r, err)
				return
			}
		default: // aml_config.zip: the SDK's configuration folder, which the local copy has
			if _, err := io.Copy(io.Discard, p); err != nil {
				Fail(w, r, bodyError(err))
				return
			}
		}
	}
	if def == nil {
		Fail(w, r, invalid("files", "definition.json is required"))
		return
	}
	d, err := ParseDefinition(def)
	if err != nil {
		Fail(w, r, err)
		return
	}
	if d.Script == "" {
		Fail(w, r, invalid("Configuration.Script", "a local run needs a script"))
		return
	}
	run, err := a.submit(r, Submit{RunID: runID, Experiment: experiment, Workspace: workspace(r), Kind: "local", Def: d})
	if err != nil {
		Fail(w, r, err)
		return
	}
	token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	zip, err := Invocation(Agent{URL: base(r), Run: run.ID, RunID: runID, Token: strings.TrimSpace(token), Def: d})
	if err != nil {
		Fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/zip")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(zip)
}

// submit creates the run of a submit, in its experiment's study. The client's run id is
// the idempotency key: a resubmit of the same run is the same run, found by its alias
// once created, and by the key while two submits race.
func (a *api) submit(r *http.Request, s Submit) (runs.Run, error) {
	if run, err := a.find(r.Context(), s.Experiment, s.RunID); err == nil {
		return run, nil // a resubmit (the SDK retries) is the run it made
	} else if provgraph.ErrorCode(err) != provgraph.NotFound {
		return runs.Run{}, err
	}
	caller := compat.Caller(r)
	study, err := a.experimentStudy(r.Context(), s.Experiment, caller)
	if err != nil {
		return runs.Run{}, err
	}
	s.StudyID = study.ID
	if s.Def.SnapshotID != "" {
		b, ok, err := a.snapshot(r.Context(), s.Def.SnapshotID)
		if err != nil {
			return runs.Run{}, err
		}
		if ok {
			s.Snapshot = &b
		}
	}
	spec, err := s.RunSpec()
	if err != nil {
		return runs.Run{}, err
	}
	run, err := a.Runs.CreateWith(r.Context(), spec, caller.Actor(), "azureml:"+s.RunID, s.Contents())
	if err == nil {
		a.ids.put(s.RunID, run)
	}
	return run, err
}

// studyTTL is how long an experiment's study is remembered.
const studyTTL = 30 * time.Second

// experimentStudy is the study an experiment is, created on first use.
func (a *api) experimentStudy(ctx context.Context, name string, caller auth.Principal) (registry.Record, error) {
	v := caller.Viewer()
	key := name + "\x00" + strings.Join(v.Groups, "\x00")
	if v.All {
		key = name + "\x00*"
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if e, ok := a.seen[key]; ok && time.Since(e.at) < studyTTL {
		return e.rec, nil
	}
	params := map[string][]string{"page_size": {"1000"}, "name": {name}}
	for pages := 0; pages < 10; pages++ {
		q, err := registry.ParseListQuery(a.study, params)
		if err != nil {
			return registry.Record{}, err
		}
		q.Viewer = v
		page, err := a.Studies.List(ctx, q)
		if err != nil {
			return registry.Record{}, err
		}
		for _, rec := range page.Records {
			var doc struct {
				Title string `json:"title"`
			}
			if json.Unmarshal(rec.Record, &doc) == nil && doc.Title == name {
				a.remember(key, rec)
				return rec, nil
			}
		}
		if page.NextPageToken == "" {
			break
		}
		params["page_token"] = []string{page.NextPageToken}
	}
	doc, _ := json.Marshal(map[string]string{"title": name, "description": "Azure ML experiment " + name})
	rec, err := a.Studies.Create(ctx, a.study, doc, caller.Actor(), "")
	if err != nil {
		return registry.Record{}, err
	}
	a.remember(key, rec)
	return rec, nil
}

func (a *api) remember(key string, rec registry.Record) {
	if len(a.seen) > 4096 {
		clear(a.seen)
	}
	a.seen[key] = studyEntry{rec: rec, at: time.Now()}
}

// experiment answers an experiment (get or create: both are get-or-create in provgraph,
// where an experiment is the study of its name).
func (a *api) experiment(w http.ResponseWriter, r *http.Request) {
	name := mux.Vars(r)["exp"]
	rec, err := a.experimentStudy(r.Context(), name, compat.Caller(r))
	if err != nil {
		Fail(w, r, err)
		return
	}
	writeJSON(w, r, http.StatusOK, ToExperiment(rec, name))
}

// lookup is the native list that finds a client's run id: its run is named after it, so
// the name's index narrows the scan, and the tag says which run it is.
func lookup(runID, view string) map[string][]string {
	return map[string][]string{"name_prefix": {runID}, "sort": {"name asc"}, "tag": {TagRunID + ":" + runID},
		"archived": {"any"}, "view": {view}, "page_size": {"10"}}
}

// find resolves the client's run id in an experiment, named or by its id (its study's),
// in the native full view: by the provgraph id it is known to alias, else by the native list.
func (a *api) find(ctx context.Context, experiment, runID string) (runs.Run, error) {
	if id, ok := a.ids.get(runID, experiment); ok {
		run, err := a.Runs.Get(ctx, id, runs.ViewFull)
		if provgraph.ErrorCode(err) != provgraph.NotFound {
			return run, err
		}
		a.ids.drop(runID) // purged or deleted: ask the list, which says so
	}
	page, err := a.Runs.List(ctx, lookup(runID, runs.ViewFull))
	if err != nil {
		return runs.Run{}, err
	}
	for _, run := range page.Runs {
		if (run.Tags[TagExperiment] == experiment || run.StudyID == experiment) && foreign(run).RunID == runID {
			a.ids.put(runID, run)
			return run, nil
		}
	}
	return runs.Run{}, provgraph.Errorf(provgraph.NotFound, "run %s not found in experiment %s", runID, experiment)
}

// aliases remembers which provgraph run a client's run id is, with its experiment and
// study: the alias never changes once the run exists, so a hit saves the native list
// (a run purged since is found missing by the read that follows). Bounded.
type aliases struct {
	mu sync.Mutex
	m  map[string]alias
}

type alias struct{ id, experiment, study string }

const maxAliases = 65536

func (c *aliases) put(runID string, run runs.Run) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxAliases {
		c.m = map[string]alias{}
	}
	c.m[runID] = alias{id: run.ID, experiment: run.Tags[TagExperiment], study: run.StudyID}
}

// get is the run runID aliases if it is of experiment (named or by its study's id).
func (c *aliases) get(runID, experiment string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	al, ok := c.m[runID]
	if !ok || (al.experiment != experiment && al.study != experiment) {
		return "", false
	}
	return al.id, true
}

func (c *aliases) drop(runID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, runID)
}

func (a *api) resolve(w http.ResponseWriter, r *http.Request) (runs.Run, bool) {
	v := mux.Vars(r)
	e := v["exp"]
	if e == "" {
		e = v["expid"]
	}
	run, err := a.find(r.Context(), e, v["runId"])
	if err != nil {
		Fail(w, r, err)
		return runs.Run{}, false
	}
	return run, true
}

// cancelBase is the execution URL the cancelUri of a run of experiment is under.
func cancelBase(r *http.Request, experiment string) string {
	v := mux.Vars(r)
	return base(r) + "/execution/v1.0/subscriptions/" + url.PathEscape(v["sub"]) + "/resourceGroups/" + url.PathEscape(v["rg"]) +
		"/providers/Microsoft.MachineLearningServices/workspaces/" + url.PathEscape(v["ws"]) + "/experiments/" + experiment
}

func (a *api) get(w http.ResponseWriter, r *http.Request) {
	run, ok := a.resolve(w, r)
	if !ok {
		return
	}
	writeJSON(w, r, http.StatusOK, a.dto(r, run))
}

func (a *api) details(w http.ResponseWriter, r *http.Request) {
	run, ok := a.resolve(w, r)
	if !ok {
		return
	}
	writeJSON(w, r, http.StatusOK, ToDetails(run))
}

func (a *api) patch(w http.ResponseWriter, r *http.Request) {
	run, ok := a.resolve(w, r)
	if !ok {
		return
	}
	var in struct {
		RunID      string             `json:"runId"`
		Properties map[string]*string `json:"properties"`
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		Fail(w, r, bodyError(err))
		return
	}
	if len(strings.TrimSpace(string(body))) > 0 {
		if err := json.Unmarshal(body, &in); err != nil {
			Fail(w, r, invalid("", "the body must be a CreateRunDto object: "+strings.TrimPrefix(err.Error(), "json: ")))
			return
		}
	}
	if in.RunID != "" && in.RunID != mux.Vars(r)["runId"] {
		Fail(w, r, invalid("runId", "is not the run of the path"))
		return
	}
	if len(in.Properties) > maxProperties {
		Fail(w, r, invalid("properties", fmt.Sprintf("at most %d properties", maxProperties)))
		return
	}
	for k, v := range in.Properties {
		if len(k) > maxPropKey || (v != nil && len(*v) > maxPropValue) {
			Fail(w, r, invalid("properties."+k, fmt.Sprintf("keys of at most %d bytes, values of at most %d", maxPropKey, maxPropValue)))
			return
		}
	}
	tags, err := PropertyTags(ToRunDto(run, "").Properties, in.Properties)
	if err != nil {
		Fail(w, r, err)
		return
	}
	if len(tags) > 0 {
		if run, err = a.Runs.MergeTags(r.Context(), run.ID, tags, compat.Caller(r).Actor()); err != nil {
			Fail(w, r, err)
			return
		}
	}
	writeJSON(w, r, http.StatusOK, a.dto(r, run))
}

func (a *api) cancel(w http.ResponseWriter, r *http.Request) {
	v := mux.Vars(r)
	if id, ok := a.ids.get(v["runId"], v["exp"]); ok {
		// A known alias: cancel it straight away, reading the run only when the cancel
		// conflicts (to tell a run already canceling from one that ended otherwise).
		p := compat.Caller(r)
		_, err := a.Runs.Do(r.Context(), id, runs.OpCancel, p.Actor(), p.Role.Allows(auth.Admin), "canceled through Azure ML", nil)
		if err == nil {
			writeJSON(w, r, http.StatusOK, map[string]string{"runId": v["runId"]})
			return
		}
		if c := provgraph.ErrorCode(err); c != provgraph.Conflict && c != provgraph.NotFound {
			Fail(w, r, err)
			return
		}
	}
	run, ok := a.resolve(w, r)
	if !ok {
		return
	}
	if err := a.doCancel(r, run); err != nil {
		Fail(w, r, err)
		return
	}
	writeJSON(w, r, http.StatusOK, map[string]string{"runId": mux.Vars(r)["runId"]})
}

// doCancel cancels a run: a queued one ends Canceled, a running one is CancelRequested
// until its executor acknowledges. Canceling a run already canceling or ended
// Canceled is no error.
func (a *api) doCancel(r *http.Request, run runs.Run) error {
	p := compat.Caller(r)
	_, err := a.Runs.Do(r.Context(), run.ID, runs.OpCancel, p.Actor(), p.Role.Allows(auth.Admin), "canceled through Azure ML", nil)
	if provgraph.ErrorCode(err) == provgraph.Conflict && (run.State == runs.Canceling || run.State == runs.Canceled) {
		return nil
	}
	return err
}

func (a *api) events(w http.ResponseWriter, r *http.Request) {
	run, ok := a.resolve(w, r)
	if !ok {
		return
	}
	var ev struct {
		Name string `json:"name"`
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		Fail(w, r, bodyError(err))
		return
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		Fail(w, r, invalid("", "the body must be a BaseEventDto {name, data}"))
		return
	}
	if ev.Name != CanceledEvent {
		Fail(w, r, invalid("name", "the one event provgraph acts on is "+CanceledEvent))
		return
	}
	if err := a.doCancel(r, run); err != nil {
		Fail(w, r, err)
		return
	}
	d := a.dto(r, run)
	writeJSON(w, r, http.StatusOK, d)
}

func (a *api) wait(w http.ResponseWriter, r *http.Request) {
	if _, ok := a.resolve(w, r); !ok {
		return
	}
	writeJSON(w, r, http.StatusOK, map[string]any{})
}

func (a *api) query(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		Fail(w, r, bodyError(err))
		return
	}
	q, err := ParseQuery(body)
	if err != nil {
		Fail(w, r, err)
		return
	}
	experiment := mux.Vars(r)["exp"]
	native := url.Values{"tag": {TagExperiment + ":" + experiment}, "archived": {"any"}, "view": {runs.ViewFull}, "sort": {"created_at desc"}}
	var keep func(runs.Run) bool
	if q.TopLevel {
		keep = func(run runs.Run) bool { return run.Tags[TagParent] == "" }
	}
	key := pager.Fingerprint(experiment, fmt.Sprint(q.TopLevel), fmt.Sprint(q.Top))
	got, next, err := pager.Collect(r.Context(), a.Runs.List, pager.Query{Native: native, Keep: keep, Key: key, Size: q.Top, Param: "continuationToken"}, q.Token)
	if err != nil {
		Fail(w, r, err)
		return
	}
	out := struct {
		Value             []RunDto `json:"value"`
		ContinuationToken *string  `json:"continuationToken"`
		NextLink          *string  `json:"nextLink"`
	}{Value: make([]RunDto, len(got))}
	for i, run := range got {
		out.Value[i] = a.dto(r, run)
	}
	if next != "" {
		out.ContinuationToken = &next
	}
	writeJSON(w, r, http.StatusOK, out)
}

// contentInfo lists a run's artifacts under a prefix: the SDK reads user_logs and
// system_logs of a run's data container (dcid.<runId>).
func (a *api) contentInfo(w http.ResponseWriter, r *http.Request) {
	v := mux.Vars(r)
	empty := map[string]any{"value": []any{}, "continuationToken": nil}
	runID, ok := strings.CutPrefix(v["container"], "dcid.")
	if !ok || !RunIDPattern.MatchString(runID) {
		writeJSON(w, r, http.StatusOK, empty)
		return
	}
	page, err := a.Runs.List(r.Context(), lookup(runID, runs.ViewMinimal))
	if err != nil {
		Fail(w, r, err)
		return
	}
	var value []map[string]any
	prefix := strings.Trim(v["path"], "/") + "/"
	for _, run := range page.Runs {
		arts, err := a.Runs.Artifacts(r.Context(), run.ID)
		if err != nil {
			Fail(w, r, err)
			return
		}
		for _, art := range arts {
			if strings.HasPrefix(art.Name, prefix) {
				value = append(value, map[string]any{"origin": v["origin"], "container": v["container"], "path": art.Name,
					"contentUri": base(r) + "/api/v1/runs/" + run.ID + "/artifacts/" + art.Name})
			}
		}
	}
	if value == nil {
		writeJSON(w, r, http.StatusOK, empty)
		return
	}
	writeJSON(w, r, http.StatusOK, map[string]any{"value": value, "continuationToken": nil})
}

// Fail answers an error as Azure's services do: an ErrorResponse with Azure's error code,
// the status, headers and safe message chosen by compat.Resolve as for every adapter.
func Fail(w http.ResponseWriter, r *http.Request, err error) {
	f := compat.Resolve(w, r, err, "azureml")
	_, body := ToError(f.Error)
	body.Error.Message = f.Message
	body.Time = time.Now().UTC().Format(time.RFC3339)
	body.Correlation = map[string]string{}
	writeJSON(w, r, f.Status, body)
}

func writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		zerolog.Ctx(r.Context()).Error().Err(err).Str("api", "azureml").Msg("encode answer")
		status, b = 500, []byte(`{"error":{"code":"ServiceError","message":"internal error","details":[]}}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// project streams the project zip of a run submitted with startrun.
func (a *api) project(w http.ResponseWriter, r *http.Request) {
	run, ok := a.resolve(w, r)
	if !ok {
		return
	}
	p := foreign(run).Project
	if p == nil {
		Fail(w, r, provgraph.Errorf(provgraph.NotFound, "run %s was not submitted with a project zip", mux.Vars(r)["runId"]))
		return
	}
	f, err := a.Blobs.Open(p.SHA256)
	if err != nil {
		Fail(w, r, provgraph.Wrap(provgraph.Internal, err, "the project zip is missing"))
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("ETag", `"`+p.SHA256+`"`)
	http.ServeContent(w, r, "project.zip", run.CreatedAt, f)
}

// dto is a run as its RunDto, with its properties.
func (a *api) dto(r *http.Request, run runs.Run) RunDto {
	return ToRunDto(run, cancelBase(r, run.Tags[TagExperiment]))
}
