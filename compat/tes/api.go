// Package tes serves GA4GH TES 1.1 (/ga4gh/tes/v1) over provgraph's tracked runs: a task
// is a run, its TES document is kept with it, and TES states are the run's states as the
// one table in runs/systems.go names them. py-tes (the GA4GH client) is its test.
package tes

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"provgraph"
	"provgraph/auth"
	"provgraph/compat"
	"provgraph/compat/pager"
	"provgraph/registry"
	"provgraph/runs"
)

// Runs is what TES needs of the tracked-run service (runs.Runs).
type Runs interface {
	Create(ctx context.Context, raw []byte, actor registry.Actor, idemKey string) (runs.Run, error)
	Get(ctx context.Context, id, view string) (runs.Run, error)
	List(ctx context.Context, params map[string][]string) (runs.RunPage, error)
	Do(ctx context.Context, id string, op runs.Op, actor registry.Actor, admin bool, reason string, outputs []runs.RunInput) (runs.Run, error)
}

// Info is what service-info says about this server.
type Info struct {
	Version string
	// OrganizationURL is where the organization running provgraph is (its base IRI).
	OrganizationURL string
}

// Prefix is TES's base path.
const Prefix = "/ga4gh/tes/v1"

// idPattern takes a provgraph id whether its '/' arrives raw (py-tes) or as %2F.
const idPattern = "{id:[A-Za-z0-9._~-]+(?:/[A-Za-z0-9._~-]+)*}"

// API is TES 1.1 over s.
func API(s Runs, info Info) compat.API {
	a := &api{runs: s, info: info}
	return compat.API{
		Name: "tes",
		Fail: Fail,
		Routes: []compat.Route{
			{Method: "GET", Path: Prefix + "/service-info", Public: true, Summary: "GA4GH service-info of the TES API.", Handler: a.serviceInfo},
			{Method: "POST", Path: Prefix + "/tasks", Role: auth.Writer, Summary: "Create a task (a tracked run); answers {\"id\"}.", Handler: a.create},
			{Method: "GET", Path: Prefix + "/tasks", Role: auth.Reader, Summary: "List tasks: name_prefix, state, tag_key/tag_value, page_size, page_token, view.", Handler: a.list},
			{Method: "GET", Path: Prefix + "/tasks/" + idPattern, Role: auth.Reader, Summary: "A task in view MINIMAL (default), BASIC or FULL.", Handler: a.get},
			{Method: "POST", Path: Prefix + "/tasks/" + idPattern + ":cancel", Role: auth.Writer, Summary: "Cancel a task: QUEUED → CANCELED, RUNNING → CANCELING until the executor acknowledges.", Handler: a.cancel},
		},
	}
}

type api struct {
	runs Runs
	info Info
}

func (a *api) serviceInfo(w http.ResponseWriter, r *http.Request) {
	org := a.info.OrganizationURL
	if org == "" {
		org = "https://provgraph.local/"
	}
	version := a.info.Version
	if version == "" {
		version = "dev"
	}
	writeJSON(w, r, http.StatusOK, map[string]any{
		"id":           "provgraph.tes",
		"name":         "provgraph TES",
		"type":         map[string]string{"group": "org.ga4gh", "artifact": "tes", "version": "1.1.0"},
		"description":  "GA4GH TES 1.1 over provgraph's tracked runs: every task is recorded as provenance. Executors claim, heartbeat and end tasks through provgraph's native run routes.",
		"organization": map[string]string{"name": "provgraph", "url": org},
		"version":      version,
		"storage":      []string{},
	})
}

func (a *api) create(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		Fail(w, r, bodyError(err))
		return
	}
	t, err := Decode(body)
	if err != nil {
		Fail(w, r, err)
		return
	}
	spec, err := t.RunSpec()
	if err != nil {
		Fail(w, r, err)
		return
	}
	run, err := a.runs.Create(r.Context(), spec, compat.Caller(r).Actor(), r.Header.Get("Idempotency-Key"))
	if err != nil {
		Fail(w, r, err)
		return
	}
	writeJSON(w, r, http.StatusOK, map[string]string{"id": run.ID})
}

func bodyError(err error) error {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return provgraph.Errorf(provgraph.TooLarge, "the body is over %d bytes", tooLarge.Limit)
	}
	return provgraph.Wrap(provgraph.Invalid, err, "the body could not be read")
}

func (a *api) get(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	for k := range q {
		if k != "view" {
			Fail(w, r, invalid(k, "unknown parameter (view is the one there is)"))
			return
		}
	}
	view, err := ParseView(q.Get("view"))
	if err != nil {
		Fail(w, r, err)
		return
	}
	run, err := a.runs.Get(r.Context(), mux.Vars(r)["id"], nativeView(view))
	if err != nil {
		Fail(w, r, err)
		return
	}
	writeJSON(w, r, http.StatusOK, View(run, view))
}

// nativeView is the native view a TES view is built from: BASIC needs the document.
func nativeView(view string) string {
	if view == Minimal {
		return runs.ViewMinimal
	}
	return runs.ViewFull
}

func (a *api) cancel(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["id"]
	p := compat.Caller(r)
	_, err := a.runs.Do(r.Context(), id, runs.OpCancel, p.Actor(), p.Role.Allows(auth.Admin), "canceled through TES", nil)
	if provgraph.ErrorCode(err) == provgraph.Conflict {
		// A task already being canceled stays so: canceling it again is no error.
		if run, gerr := a.runs.Get(r.Context(), id, runs.ViewMinimal); gerr == nil && run.State == runs.Canceling {
			err = nil
		} else {
			err = &provgraph.Error{Code: provgraph.Conflict, Status: http.StatusBadRequest, Message: conflictMessage(err)}
		}
	}
	if err != nil {
		Fail(w, r, err)
		return
	}
	writeJSON(w, r, http.StatusOK, struct{}{})
}

func conflictMessage(err error) string {
	var e *provgraph.Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "the task cannot be canceled in its state"
}

// ListQuery is a TES list request read from its parameters.
type ListQuery struct {
	NamePrefix string
	State      string
	States     []runs.State
	Tags       [][2]string // key, value; "" is any value
	PageSize   int
	PageToken  string
	View       string
}

// Page sizes (TES 1.1: 256 by default, under 2048).
const (
	DefaultPageSize = 256
	MaxPageSize     = 2047
)

// ParseList reads a list request: the TES 1.1 parameters, each once but the tags, which
// are zipped in order.
func ParseList(q url.Values) (ListQuery, error) {
	l := ListQuery{PageSize: DefaultPageSize}
	var err error
	for k, vs := range q {
		switch k {
		case "tag_key", "tag_value":
		case "name_prefix", "state", "page_size", "page_token", "view":
			if len(vs) != 1 {
				return l, invalid(k, "give it once")
			}
		default:
			return l, invalid(k, "unknown parameter")
		}
	}
	l.NamePrefix, l.PageToken = q.Get("name_prefix"), q.Get("page_token")
	if len(l.NamePrefix) > maxName {
		return l, invalid("name_prefix", fmt.Sprintf("at most %d bytes", maxName))
	}
	if s := q.Get("state"); s != "" {
		var ok bool
		if l.States, ok = States(s); !ok {
			return l, invalid("state", "not a TES state (QUEUED, RUNNING, CANCELING, COMPLETE, EXECUTOR_ERROR, SYSTEM_ERROR, CANCELED, …)")
		}
		l.State = s
	}
	if s := q.Get("page_size"); s != "" {
		n, err := strconv.Atoi(s)
		switch {
		case err != nil || n < 0 || n > MaxPageSize:
			return l, invalid("page_size", fmt.Sprintf("must be a whole number under %d", MaxPageSize+1))
		case n > 0:
			l.PageSize = n
		}
	}
	if l.View, err = ParseView(q.Get("view")); err != nil {
		return l, err
	}
	keys, values := q["tag_key"], q["tag_value"]
	if len(values) > len(keys) {
		return l, invalid("tag_value", "every tag_value needs its tag_key")
	}
	if len(keys) > maxTags {
		return l, invalid("tag_key", fmt.Sprintf("at most %d tags", maxTags))
	}
	for i, k := range keys {
		if k == "" {
			return l, invalid("tag_key", "must not be empty")
		}
		v := ""
		if i < len(values) {
			v = values[i]
		}
		l.Tags = append(l.Tags, [2]string{k, v})
	}
	return l, nil
}

// native is the native list the query reads, and the predicate the facade adds for what
// the native list cannot filter: tags that are not native tags, tags of any value, and
// names of runs whose native name is not the TES one.
func (l ListQuery) native() (url.Values, func(runs.Run) bool) {
	p := url.Values{"sort": {"created_at desc"}, "archived": {"any"}, "view": {runs.ViewFull}}
	if l.View == Minimal {
		p.Set("view", runs.ViewMinimal)
	}
	for _, s := range l.States {
		p.Add("state", string(s))
	}
	facade := false
	if l.NamePrefix != "" {
		p.Set("name_prefix", l.NamePrefix)
		facade = true // an unnamed task's run is named after its image
	}
	for _, kv := range l.Tags {
		if kv[1] != "" && nativeTag(kv[0], kv[1]) {
			p.Add("tag", kv[0]+":"+kv[1])
		} else {
			facade = true
		}
	}
	if !facade {
		return p, nil
	}
	p.Set("view", runs.ViewFull)
	return p, l.Keep
}

// Keep says whether a run (native full view) passes the query's TES filters.
func (l ListQuery) Keep(r runs.Run) bool {
	t := submitted(r)
	if !strings.HasPrefix(t.Name, l.NamePrefix) {
		return false
	}
	var tags map[string]string
	if t.Tags != nil {
		tags = *t.Tags
	}
	for _, kv := range l.Tags {
		v, ok := tags[kv[0]]
		if !ok || (kv[1] != "" && v != kv[1]) {
			return false
		}
	}
	return true
}

func (l ListQuery) key() string {
	parts := []string{l.NamePrefix, l.State, strconv.Itoa(l.PageSize)}
	for _, kv := range l.Tags {
		parts = append(parts, kv[0], kv[1])
	}
	return pager.Fingerprint(parts...)
}

func (a *api) list(w http.ResponseWriter, r *http.Request) {
	l, err := ParseList(r.URL.Query())
	if err != nil {
		Fail(w, r, err)
		return
	}
	params, keep := l.native()
	got, next, err := pager.Collect(r.Context(), a.runs.List,
		pager.Query{Native: params, Keep: keep, Key: l.key(), Size: l.PageSize, Param: "page_token"}, l.PageToken)
	if err != nil {
		Fail(w, r, err)
		return
	}
	out := struct {
		Tasks         []Task `json:"tasks"`
		NextPageToken string `json:"next_page_token,omitempty"`
	}{Tasks: make([]Task, len(got)), NextPageToken: next}
	for i, run := range got {
		out.Tasks[i] = View(run, l.View)
	}
	writeJSON(w, r, http.StatusOK, out)
}

// grpc codes, as grpc-gateway writes them.
var grpcCodes = map[provgraph.Code]int{
	provgraph.Invalid: 3, provgraph.NotFound: 5, provgraph.Conflict: 9, provgraph.Forbidden: 7,
	provgraph.TooLarge: 8, provgraph.TooMany: 8, provgraph.Unavailable: 14, provgraph.Unauthorized: 16, provgraph.Internal: 13,
}

// Fail answers an error as grpc-gateway does (TES servers are grpc-gateway services):
// {"error", "code", "message", "details"}, the offending fields as a google.rpc.BadRequest.
// Invalid input is 400, as grpc-gateway's INVALID_ARGUMENT, not the native 422.
func Fail(w http.ResponseWriter, r *http.Request, err error) {
	f := compat.Resolve(w, r, err, "tes")
	e, status, msg := f.Error, f.Status, f.Message
	details := []any{}
	if len(e.Fields) > 0 {
		violations := make([]map[string]string, len(e.Fields))
		for i, f := range e.Fields {
			violations[i] = map[string]string{"field": f.Path, "description": f.Message}
		}
		details = append(details, map[string]any{"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": violations})
	}
	code, ok := grpcCodes[e.Code]
	if !ok {
		code = 2
	}
	writeJSON(w, r, status, map[string]any{"error": msg, "code": code, "message": msg, "details": details})
}

func writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	compat.WriteJSON(w, r, status, v, []byte(`{"error":"internal error","code":13,"message":"internal error","details":[]}`))
}
