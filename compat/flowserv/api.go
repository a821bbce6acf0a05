// Package flowserv serves flowserv's remote run service (/flowserv/api/v1) over
// provgraph's tracked runs, as flowserv-core's remote client calls it. A flowserv workflow
// is a workflow template; a group is a study whose description keeps, on a line of its
// own, the group's workflow, members, parameters and config; a run is a tracked run of
// that study and template, its arguments kept as sent. flowserv states are the run's
// states as runs/systems.go names them.
//
// flowserv sends its token in an api_key header, which the server takes as the bearer
// token (compat.API.TokenHeader). Its downloads send no token at all: a result file or
// archive answers without one only when the run's group is marked public
// (config.public_downloads, off by default); with a token it is an ordinary read.
package flowserv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

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
	Do(ctx context.Context, id string, op runs.Op, actor registry.Actor, admin bool, reason string, outputs []runs.RunInput) (runs.Run, error)
	Delete(ctx context.Context, id string, actor registry.Actor, reason string, purge, admin bool) error
	Artifacts(ctx context.Context, runID string) ([]runs.Artifact, error)
	Artifact(ctx context.Context, runID, name string) (runs.Artifact, io.ReadSeekCloser, error)
	Results(ctx context.Context, runID string, w io.Writer) error
}

// Records is what the adapter needs of the registry: workflows are workflow templates,
// groups are studies.
type Records interface {
	Create(ctx context.Context, k registry.Kind, raw []byte, actor registry.Actor, idemKey string) (registry.Record, error)
	Update(ctx context.Context, k registry.Kind, id string, raw []byte, actor registry.Actor, reason string) (registry.Record, error)
	Get(ctx context.Context, k registry.Kind, id string, version int, v registry.Viewer) (registry.Record, error)
	List(ctx context.Context, q registry.ListQuery) (registry.Page, error)
}

// Config wires the adapter.
type Config struct {
	Runs    Runs
	Records Records
	// Auth checks the token a download sends, when it sends one (download routes are
	// public for the server: they answer without a token only for public groups).
	Auth auth.Authenticator
}

// Prefix is flowserv's default API path (FLOWSERV_API_PATH).
const Prefix = "/flowserv/api/v1"

// MaxScan bounds the runs, groups or workflows one listing reads: flowserv lists have no
// paging, so a longer one answers 400.
const MaxScan = 10000

const (
	idPattern   = "{id:[A-Za-z0-9._~-]+(?:/[A-Za-z0-9._~-]+)*}"
	filePattern = "{file:[A-Za-z0-9._~-]+(?:/[A-Za-z0-9._~-]+)*}"
)

// API is flowserv's remote run service over c.
func API(c Config) compat.API {
	study, ok := registry.KindByName("study")
	wf, ok2 := registry.KindByName("workflow-template")
	if !ok || !ok2 {
		panic("registry has no study or workflow-template kind")
	}
	a := &api{Config: c, study: study, workflow: wf}
	return compat.API{
		Name:        "flowserv",
		Fail:        Fail,
		TokenHeader: "api_key",
		// Longer paths first: an id may hold '/', so runs/{id} also matches
		// runs/<id>/downloads/archive.
		Routes: []compat.Route{
			{Method: "GET", Path: Prefix + "/runs/" + idPattern + "/downloads/archive", Public: true, Transfer: true, Summary: "All result files of a SUCCESS run as a tar.gz; without a token only for a public group.", Handler: a.archive},
			{Method: "GET", Path: Prefix + "/runs/" + idPattern + "/downloads/files/" + filePattern, Public: true, Transfer: true, Summary: "One result file; without a token only for a public group.", Handler: a.file},
			{Method: "GET", Path: Prefix + "/groups/" + idPattern + "/runs", Role: auth.Reader, Summary: "The runs of a group, oldest first, filtered by ?state= (None: every state).", Handler: a.listRuns},
			{Method: "POST", Path: Prefix + "/groups/" + idPattern + "/runs", Role: auth.Writer, Summary: "Start a run of the group with arguments.", Handler: a.startRun},
			{Method: "GET", Path: Prefix + "/runs/" + idPattern, Role: auth.Reader, Summary: "A run handle.", Handler: a.getRun},
			{Method: "PUT", Path: Prefix + "/runs/" + idPattern, Role: auth.Writer, Summary: "Cancel a run, with an optional reason.", Handler: a.cancelRun},
			{Method: "DELETE", Path: Prefix + "/runs/" + idPattern, Role: auth.Writer, Summary: "Delete an ended run.", Handler: a.deleteRun},
			{Method: "GET", Path: Prefix + "/workflows/" + idPattern + "/groups", Role: auth.Reader, Summary: "The groups of a workflow.", Handler: a.listGroups},
			{Method: "POST", Path: Prefix + "/workflows/" + idPattern + "/groups", Role: auth.Writer, Summary: "Create a group (a study) of a workflow.", Handler: a.createGroup},
			{Method: "GET", Path: Prefix + "/workflows/" + idPattern, Role: auth.Reader, Summary: "A workflow (a workflow template).", Handler: a.getWorkflow},
			{Method: "GET", Path: Prefix + "/workflows", Role: auth.Reader, Summary: "Every workflow (workflow template).", Handler: a.listWorkflows},
			{Method: "GET", Path: Prefix + "/groups", Role: auth.Reader, Summary: "Every group.", Handler: a.listGroups},
			{Method: "GET", Path: Prefix + "/groups/" + idPattern, Role: auth.Reader, Summary: "A group handle.", Handler: a.getGroup},
			{Method: "POST", Path: Prefix + "/groups/" + idPattern, Role: auth.Writer, Summary: "Rename a group or change its members.", Handler: a.updateGroup},
		},
	}
}

type api struct {
	Config
	study, workflow registry.Kind
	seen            groups
}

// GroupTTL is how long starting, reading and canceling runs reuse a group's lookup: a
// group changed natively reaches them within it (one changed here, at once). Access is
// not widened: an entry serves only a caller who may read what its first reader could.
// Downloads without a token always read the group afresh.
const GroupTTL = 30 * time.Second

const maxGroups = 4096

type seenGroup struct {
	name string
	g    Group
	at   time.Time
}

// groups remembers groups by id and by what the caller who read them may read.
type groups struct {
	mu sync.Mutex
	m  map[string]seenGroup
}

func viewerKey(id string, v registry.Viewer) string {
	if v.All {
		return id + "\x00*"
	}
	return id + "\x00" + strings.Join(v.Groups, "\x00")
}

func (c *groups) get(id string, v registry.Viewer, now time.Time) (seenGroup, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[viewerKey(id, v)]
	return e, ok && now.Sub(e.at) <= GroupTTL
}

func (c *groups) put(id string, v registry.Viewer, e seenGroup) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]seenGroup{}
	}
	if len(c.m) >= maxGroups {
		for k, x := range c.m {
			if e.at.Sub(x.at) > GroupTTL/2 || len(c.m) >= maxGroups/2 {
				delete(c.m, k)
			}
		}
	}
	c.m[viewerKey(id, v)] = e
}

func (c *groups) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.m {
		if strings.HasPrefix(k, id+"\x00") {
			delete(c.m, k)
		}
	}
}

// recentGroup is group through the lookups of the last GroupTTL.
func (a *api) recentGroup(ctx context.Context, id string, v registry.Viewer) (string, Group, error) {
	now := time.Now()
	if e, ok := a.seen.get(id, v, now); ok {
		return e.name, e.g, nil
	}
	name, g, err := a.group(ctx, id, v)
	if err == nil {
		a.seen.put(id, v, seenGroup{name: name, g: g, at: now})
	}
	return name, g, err
}

// group reads a group: a study that is one.
func (a *api) group(ctx context.Context, id string, v registry.Viewer) (string, Group, error) {
	rec, err := a.Records.Get(ctx, a.study, id, 0, v)
	if err != nil {
		return "", Group{}, err
	}
	name, g, ok := FromStudy(rec)
	if !ok {
		return "", Group{}, provgraph.Errorf(provgraph.NotFound, "%s is a study but no flowserv group", id)
	}
	return name, g, nil
}

func groupHandle(id, name string, g Group) map[string]any {
	members := make([]map[string]string, len(g.Members))
	for i, m := range g.Members {
		members[i] = map[string]string{"id": m, "username": m}
	}
	config := g.Config
	if config == nil {
		config = map[string]any{}
	}
	params := g.Parameters
	if params == nil {
		params = []Parameter{}
	}
	return map[string]any{"id": id, "name": name, "workflow": g.Workflow, "members": members,
		"parameters": params, "files": []any{}, "config": config}
}

func (a *api) getWorkflow(w http.ResponseWriter, r *http.Request) {
	rec, err := a.Records.Get(r.Context(), a.workflow, mux.Vars(r)["id"], 0, compat.Caller(r).Viewer())
	if err != nil {
		Fail(w, r, err)
		return
	}
	writeJSON(w, r, http.StatusOK, Workflow(rec))
}

// records reads every record of a kind the caller sees, up to MaxScan.
func (a *api) records(ctx context.Context, k registry.Kind, v registry.Viewer) ([]registry.Record, error) {
	params := map[string][]string{"page_size": {"1000"}}
	var out []registry.Record
	for {
		q, err := registry.ParseListQuery(k, params)
		if err != nil {
			return nil, err
		}
		q.Viewer = v
		page, err := a.Records.List(ctx, q)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Records...)
		if len(out) > MaxScan {
			return nil, invalid("", fmt.Sprintf("more than %d %s records: flowserv lists have no paging", MaxScan, k.Name))
		}
		if page.NextPageToken == "" {
			return out, nil
		}
		params["page_token"] = []string{page.NextPageToken}
	}
}

func (a *api) listWorkflows(w http.ResponseWriter, r *http.Request) {
	recs, err := a.records(r.Context(), a.workflow, compat.Caller(r).Viewer())
	if err != nil {
		Fail(w, r, err)
		return
	}
	out := make([]map[string]any, len(recs))
	for i, rec := range recs {
		out[i] = Workflow(rec)
	}
	writeJSON(w, r, http.StatusOK, map[string]any{"workflows": out})
}

func (a *api) createGroup(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		Fail(w, r, bodyError(err))
		return
	}
	c, err := DecodeGroupCreate(body)
	if err != nil {
		Fail(w, r, err)
		return
	}
	p := compat.Caller(r)
	wf, err := a.Records.Get(r.Context(), a.workflow, mux.Vars(r)["id"], 0, p.Viewer())
	if err != nil {
		Fail(w, r, err)
		return
	}
	g := NewGroup(wf.ID, WorkflowParameters(wf), c, p.Subject)
	doc, err := StudyDoc(c.Name, g)
	if err != nil {
		Fail(w, r, err)
		return
	}
	rec, err := a.Records.Create(r.Context(), a.study, doc, p.Actor(), r.Header.Get("Idempotency-Key"))
	if err != nil {
		Fail(w, r, err)
		return
	}
	writeJSON(w, r, http.StatusCreated, groupHandle(rec.ID, c.Name, g))
}

func (a *api) getGroup(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["id"]
	name, g, err := a.group(r.Context(), id, compat.Caller(r).Viewer())
	if err != nil {
		Fail(w, r, err)
		return
	}
	writeJSON(w, r, http.StatusOK, groupHandle(id, name, g))
}

func (a *api) updateGroup(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		Fail(w, r, bodyError(err))
		return
	}
	var u struct {
		Name    *string  `json:"name"`
		Members []string `json:"members"`
	}
	if err := strictJSON(body, &u); err != nil {
		Fail(w, r, err)
		return
	}
	if u.Name != nil && (strings.TrimSpace(*u.Name) == "" || len(*u.Name) > maxName) {
		Fail(w, r, invalid("name", fmt.Sprintf("a group needs a name of 1 to %d bytes", maxName)))
		return
	}
	if err := checkMembers(u.Members); err != nil {
		Fail(w, r, err)
		return
	}
	id, p := mux.Vars(r)["id"], compat.Caller(r)
	name, g, err := a.group(r.Context(), id, p.Viewer())
	if err != nil {
		Fail(w, r, err)
		return
	}
	if u.Name != nil {
		name = *u.Name
	}
	if u.Members != nil {
		g.Members = []string{}
		if g.Owner != "" {
			g.Members = append(g.Members, g.Owner)
		}
		for _, m := range u.Members {
			if !slices.Contains(g.Members, m) {
				g.Members = append(g.Members, m)
			}
		}
	}
	doc, err := StudyDoc(name, g)
	if err != nil {
		Fail(w, r, err)
		return
	}
	if _, err := a.Records.Update(r.Context(), a.study, id, doc, p.Actor(), "updated through flowserv"); err != nil {
		Fail(w, r, err)
		return
	}
	a.seen.forget(id)
	writeJSON(w, r, http.StatusOK, groupHandle(id, name, g))
}

func (a *api) listGroups(w http.ResponseWriter, r *http.Request) {
	workflow := mux.Vars(r)["id"] // "" for every group
	recs, err := a.records(r.Context(), a.study, compat.Caller(r).Viewer())
	if err != nil {
		Fail(w, r, err)
		return
	}
	out := []map[string]any{}
	for _, rec := range recs {
		name, g, ok := FromStudy(rec)
		if ok && (workflow == "" || g.Workflow == workflow) {
			out = append(out, map[string]any{"id": rec.ID, "name": name, "workflow": g.Workflow})
		}
	}
	writeJSON(w, r, http.StatusOK, map[string]any{"groups": out})
}

func (a *api) startRun(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		Fail(w, r, bodyError(err))
		return
	}
	id, p := mux.Vars(r)["id"], compat.Caller(r)
	name, g, err := a.recentGroup(r.Context(), id, p.Viewer())
	if err != nil {
		Fail(w, r, err)
		return
	}
	args, err := DecodeArguments(body, g.Parameters)
	if err != nil {
		Fail(w, r, err)
		return
	}
	spec, err := RunSpec(id, name, g, args)
	if err != nil {
		Fail(w, r, err)
		return
	}
	run, err := a.Runs.Create(r.Context(), spec, p.Actor(), r.Header.Get("Idempotency-Key"))
	if err != nil {
		Fail(w, r, err)
		return
	}
	writeJSON(w, r, http.StatusCreated, Handle(run, g, nil))
}

// handle is a run's RunHandle, read with its group and, for a SUCCESS run, its files.
func (a *api) handle(ctx context.Context, run runs.Run, v registry.Viewer) (map[string]any, error) {
	var g Group
	if run.StudyID != "" {
		var err error
		if _, g, err = a.recentGroup(ctx, run.StudyID, v); err != nil && provgraph.ErrorCode(err) != provgraph.NotFound {
			return nil, err
		}
	}
	var files []runs.Artifact
	if State(run.State) == "SUCCESS" {
		var err error
		if files, err = a.Runs.Artifacts(ctx, run.ID); err != nil {
			return nil, err
		}
	}
	return Handle(run, g, files), nil
}

func (a *api) getRun(w http.ResponseWriter, r *http.Request) {
	run, err := a.Runs.Get(r.Context(), mux.Vars(r)["id"], runs.ViewFull)
	if err != nil {
		Fail(w, r, err)
		return
	}
	h, err := a.handle(r.Context(), run, compat.Caller(r).Viewer())
	if err != nil {
		Fail(w, r, err)
		return
	}
	writeJSON(w, r, http.StatusOK, h)
}

func (a *api) cancelRun(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		Fail(w, r, bodyError(err))
		return
	}
	var req struct {
		Reason *string `json:"reason"`
	}
	if err := strictJSON(body, &req); err != nil {
		Fail(w, r, err)
		return
	}
	reason := ""
	if req.Reason != nil {
		reason = *req.Reason
	}
	if len(reason) > maxReason {
		Fail(w, r, invalid("reason", fmt.Sprintf("at most %d bytes", maxReason)))
		return
	}
	id, p := mux.Vars(r)["id"], compat.Caller(r)
	run, err := a.Runs.Do(r.Context(), id, runs.OpCancel, p.Actor(), p.Role.Allows(auth.Admin), reason, nil)
	if provgraph.ErrorCode(err) == provgraph.Conflict {
		// A run being canceled is still active for flowserv: canceling it again answers
		// its handle. Canceling an ended run is flowserv's 400.
		var gerr error
		if run, gerr = a.Runs.Get(r.Context(), id, runs.ViewFull); gerr == nil && run.State == runs.Canceling {
			err = nil
		} else {
			err = &provgraph.Error{Code: provgraph.Conflict, Status: http.StatusBadRequest, Message: message(err, "the run is not active")}
		}
	}
	if err != nil {
		Fail(w, r, err)
		return
	}
	h, err := a.handle(r.Context(), run, p.Viewer())
	if err != nil {
		Fail(w, r, err)
		return
	}
	writeJSON(w, r, http.StatusOK, h)
}

func (a *api) deleteRun(w http.ResponseWriter, r *http.Request) {
	p := compat.Caller(r)
	err := a.Runs.Delete(r.Context(), mux.Vars(r)["id"], p.Actor(), "deleted through flowserv", false, p.Role.Allows(auth.Admin))
	if provgraph.ErrorCode(err) == provgraph.Conflict {
		err = &provgraph.Error{Code: provgraph.Conflict, Status: http.StatusBadRequest, Message: message(err, "an active run cannot be deleted")}
	}
	if err != nil {
		Fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *api) listRuns(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	for k, vs := range q {
		if k != "state" || len(vs) != 1 {
			Fail(w, r, invalid(k, "state, once, is the one parameter"))
			return
		}
	}
	states, err := States(q.Get("state"))
	if err != nil {
		Fail(w, r, err)
		return
	}
	id := mux.Vars(r)["id"]
	if _, _, err := a.recentGroup(r.Context(), id, compat.Caller(r).Viewer()); err != nil {
		Fail(w, r, err)
		return
	}
	params := map[string][]string{"study_id": {id}, "archived": {"any"}, "sort": {"created_at"},
		"view": {runs.ViewMinimal}, "page_size": {strconv.Itoa(runs.MaxRunPageSize)}}
	for _, s := range states {
		params["state"] = append(params["state"], string(s))
	}
	out := []map[string]any{}
	for {
		page, err := a.Runs.List(r.Context(), params)
		if err != nil {
			Fail(w, r, err)
			return
		}
		for _, run := range page.Runs {
			out = append(out, Descriptor(run))
		}
		if len(out) > MaxScan {
			Fail(w, r, invalid("state", fmt.Sprintf("the group has more than %d runs in this state: flowserv lists have no paging", MaxScan)))
			return
		}
		if page.NextPageToken == "" {
			break
		}
		params["page_token"] = []string{page.NextPageToken}
	}
	writeJSON(w, r, http.StatusOK, map[string]any{"runs": out})
}

// downloadAllowed says whether a download of a run's results may answer: with a token,
// when it is a reader's; without, when the run's group is marked public.
func (a *api) downloadAllowed(r *http.Request, runID string) error {
	token := strings.TrimSpace(r.Header.Get("api_key"))
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, t, _ := strings.Cut(h, " ")
		if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(t) == "" {
			return provgraph.Errorf(provgraph.Unauthorized, "send a bearer token or an api_key")
		}
		token = strings.TrimSpace(t)
	}
	if token != "" {
		if a.Auth == nil {
			return provgraph.Errorf(provgraph.Unauthorized, "the token is not valid")
		}
		p, err := a.Auth.Authenticate(r.Context(), token)
		if err != nil {
			if provgraph.ErrorCode(err) == provgraph.Internal {
				return err
			}
			return provgraph.Errorf(provgraph.Unauthorized, "the token is not valid")
		}
		if !p.Role.Allows(auth.Reader) {
			return provgraph.Errorf(provgraph.Forbidden, "this needs the reader role")
		}
		return nil
	}
	closed := provgraph.Errorf(provgraph.Unauthorized, "send a token (api_key): this run's group does not publish its results")
	run, err := a.Runs.Get(r.Context(), runID, runs.ViewBasic)
	if err != nil {
		if provgraph.ErrorCode(err) == provgraph.NotFound {
			return closed // no token learns nothing about which runs exist
		}
		return err
	}
	if run.StudyID == "" {
		return closed
	}
	_, g, err := a.group(r.Context(), run.StudyID, registry.Viewer{})
	if err != nil {
		if provgraph.ErrorCode(err) == provgraph.NotFound {
			return closed
		}
		return err
	}
	if !g.PublicDownloads() {
		return closed
	}
	return nil
}

func (a *api) archive(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["id"]
	if err := a.downloadAllowed(r, id); err != nil {
		Fail(w, r, err)
		return
	}
	lw := &lazyWriter{w: w, header: func(h http.Header) {
		h.Set("Content-Type", "application/gzip")
		h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": "run.tar.gz"}))
	}}
	err := a.Runs.Results(r.Context(), id, lw)
	switch {
	case err == nil && !lw.started:
		lw.start()
	case err != nil && !lw.started:
		if provgraph.ErrorCode(err) == provgraph.Conflict {
			err = &provgraph.Error{Code: provgraph.NotFound, Status: http.StatusNotFound, Message: message(err, "the run has not succeeded")}
		}
		Fail(w, r, err)
	case err != nil:
		zerolog.Ctx(r.Context()).Error().Err(err).Str("api", "flowserv").Msg("archive cut short")
	}
}

func (a *api) file(w http.ResponseWriter, r *http.Request) {
	id, fileID := mux.Vars(r)["id"], mux.Vars(r)["file"]
	if err := a.downloadAllowed(r, id); err != nil {
		Fail(w, r, err)
		return
	}
	arts, err := a.Runs.Artifacts(r.Context(), id)
	if err != nil {
		Fail(w, r, err)
		return
	}
	name := ""
	for _, art := range arts {
		if art.ID == fileID {
			name = art.Name
		}
	}
	if name == "" {
		Fail(w, r, provgraph.Errorf(provgraph.NotFound, "run %s has no result file %s", id, fileID))
		return
	}
	art, f, err := a.Runs.Artifact(r.Context(), id, name)
	if err != nil {
		Fail(w, r, err)
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", art.MediaType)
	w.Header().Set("Content-Length", strconv.FormatInt(art.Size, 10))
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": lastSegment(art.Name)}))
	w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(w, f); err != nil {
		zerolog.Ctx(r.Context()).Warn().Err(err).Str("api", "flowserv").Msg("file download cut short")
	}
}

func lastSegment(name string) string {
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		return name[i+1:]
	}
	return name
}

// lazyWriter sends the success header with the first byte, so that a failure before it
// can still answer an error.
type lazyWriter struct {
	w       http.ResponseWriter
	header  func(http.Header)
	started bool
}

func (l *lazyWriter) start() {
	l.header(l.w.Header())
	l.w.WriteHeader(http.StatusOK)
	l.started = true
}

func (l *lazyWriter) Write(p []byte) (int, error) {
	if !l.started {
		l.start()
	}
	return l.w.Write(p)
}

func bodyError(err error) error {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return provgraph.Errorf(provgraph.TooLarge, "the body is over %d bytes", tooLarge.Limit)
	}
	return provgraph.Wrap(provgraph.Invalid, err, "the body could not be read")
}

func message(err error, fallback string) string {
	var e *provgraph.Error
	if errors.As(err, &e) && e.Message != "" {
		return e.Message
	}
	return fallback
}

// Fail answers an error as flowserv's API server does: {"message": …}, with the offending
// fields beside it. Invalid input and state conflicts are 400 (flowserv has no 409 nor
// 422).
func Fail(w http.ResponseWriter, r *http.Request, err error) {
	if provgraph.ErrorCode(err) == provgraph.Conflict {
		err = &provgraph.Error{Code: provgraph.Invalid, Message: message(err, "conflict"), Fields: fieldsOf(err)}
	}
	f := compat.Resolve(w, r, err, "flowserv")
	body := map[string]any{"message": f.Message}
	if len(f.Fields) > 0 && f.Status < 500 {
		body["fields"] = f.Fields
	}
	writeJSON(w, r, f.Status, body)
}

func fieldsOf(err error) []provgraph.FieldError {
	var e *provgraph.Error
	if errors.As(err, &e) {
		return e.Fields
	}
	return nil
}

func writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	compat.WriteJSON(w, r, status, v, []byte(`{"message":"internal error"}`))
}
