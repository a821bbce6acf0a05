// Package ica serves Illumina ICA v1 task runs (/v1/tasks/runs, camelCase) over
// provgraph's tracked runs. It serves only that subtree: ICA's task and version resources
// would collide with the paths py-tes falls back to.
package ica

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
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

// Runs is what ICA needs of the tracked-run service (runs.Runs).
type Runs interface {
	Create(ctx context.Context, raw []byte, actor registry.Actor, idemKey string) (runs.Run, error)
	Get(ctx context.Context, id, view string) (runs.Run, error)
	List(ctx context.Context, params map[string][]string) (runs.RunPage, error)
	Do(ctx context.Context, id string, op runs.Op, actor registry.Actor, admin bool, reason string, outputs []runs.RunInput) (runs.Run, error)
}

// Prefix is where ICA's task runs are.
const Prefix = "/v1/tasks/runs"

const idPattern = "{id:[A-Za-z0-9._~-]+(?:/[A-Za-z0-9._~-]+)*}"

// API is ICA's TaskRunsApi over s.
func API(s Runs) compat.API {
	a := &api{runs: s}
	return compat.API{
		Name: "ica",
		Fail: Fail,
		Routes: []compat.Route{
			{Method: "POST", Path: Prefix, Role: auth.Writer, Summary: "Create a task run (201 TaskRun).", Handler: a.create},
			{Method: "GET", Path: Prefix, Role: auth.Reader, Summary: "List task runs: sort, names, status, acls, pageSize, pageToken.", Handler: a.list},
			{Method: "GET", Path: Prefix + "/" + idPattern, Role: auth.Reader, Summary: "A task run.", Handler: a.get},
			{Method: "PUT", Path: Prefix + "/" + idPattern + ":abort", Role: auth.Writer, Summary: "Abort a Pending or Running task run.", Handler: a.abort},
			{Method: "POST", Path: Prefix + "/" + idPattern + ":heartbeat", Role: auth.Writer, Summary: "The executor's heartbeat: extends its lease.", Handler: a.heartbeat},
		},
	}
}

type api struct{ runs Runs }

// readBody reads a JSON body in any of the media types ICA takes.
func readBody(r *http.Request) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" && r.ContentLength != 0 {
		t, _, err := mime.ParseMediaType(ct)
		sub, isApp := strings.CutPrefix(t, "application/")
		if err != nil || !(t == "text/json" || (isApp && (sub == "json" || strings.HasSuffix(sub, "+json")))) {
			return nil, &provgraph.Error{Code: provgraph.Invalid, Status: http.StatusUnsupportedMediaType,
				Message: fmt.Sprintf("send JSON (application/json, text/json or application/*+json), not %q", ct)}
		}
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, provgraph.Errorf(provgraph.TooLarge, "the body is over %d bytes", tooLarge.Limit)
		}
		return nil, provgraph.Wrap(provgraph.Invalid, err, "the body could not be read")
	}
	return b, nil
}

func (a *api) create(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(r)
	if err != nil {
		Fail(w, r, err)
		return
	}
	c, err := DecodeCreate(body)
	if err != nil {
		Fail(w, r, err)
		return
	}
	spec, err := c.RunSpec()
	if err != nil {
		Fail(w, r, err)
		return
	}
	run, err := a.runs.Create(r.Context(), spec, compat.Caller(r).Actor(), r.Header.Get("Idempotency-Key"))
	if err != nil {
		Fail(w, r, err)
		return
	}
	run.Spec = spec
	w.Header().Set("Location", Href(run.ID))
	writeJSON(w, r, http.StatusCreated, View(run, false))
}

func (a *api) get(w http.ResponseWriter, r *http.Request) {
	if len(r.URL.Query()) > 0 {
		Fail(w, r, invalid(firstKey(r.URL.Query()), "unknown parameter"))
		return
	}
	run, err := a.runs.Get(r.Context(), mux.Vars(r)["id"], runs.ViewFull)
	if err != nil {
		Fail(w, r, err)
		return
	}
	writeJSON(w, r, http.StatusOK, View(run, false))
}

func firstKey(q url.Values) string {
	for k := range q {
		return k
	}
	return ""
}

func (a *api) abort(w http.ResponseWriter, r *http.Request) {
	p := compat.Caller(r)
	run, err := a.runs.Do(r.Context(), mux.Vars(r)["id"], runs.OpCancel, p.Actor(), p.Role.Allows(auth.Admin), "aborted through ICA", nil)
	if provgraph.ErrorCode(err) == provgraph.Conflict {
		err = &provgraph.Error{Code: provgraph.Conflict, Status: http.StatusBadRequest,
			Message: "only a Pending or Running task run can be aborted: " + message(err)}
	}
	if err != nil {
		Fail(w, r, err)
		return
	}
	writeJSON(w, r, http.StatusOK, View(run, true))
}

func message(err error) string {
	var e *provgraph.Error
	if errors.As(err, &e) {
		return e.Message
	}
	return err.Error()
}

// heartbeatRequest is ICA's HeartbeatTaskRunRequest: read to refuse what it is not;
// provgraph keeps the lease, not the pod's details.
type heartbeatRequest struct {
	LastHeartbeat      json.RawMessage `json:"lastHeartbeat"`
	PodName            json.RawMessage `json:"podName"`
	PodUID             json.RawMessage `json:"podUID"`
	PodHardwareDetails json.RawMessage `json:"podHardwareDetails"`
	JobRetryCount      json.RawMessage `json:"jobRetryCount"`
	Nonce              json.RawMessage `json:"nonce"`
	ContainerStatus    json.RawMessage `json:"containerStatus"`
}

func (a *api) heartbeat(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(r)
	if err != nil {
		Fail(w, r, err)
		return
	}
	if len(strings.TrimSpace(string(body))) > 0 {
		var hb heartbeatRequest
		dec := json.NewDecoder(strings.NewReader(string(body)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&hb); err != nil {
			Fail(w, r, invalid("", "the body must be a HeartbeatTaskRunRequest: "+strings.TrimPrefix(err.Error(), "json: ")))
			return
		}
	}
	p := compat.Caller(r)
	if _, err := a.runs.Do(r.Context(), mux.Vars(r)["id"], runs.OpHeartbeat, p.Actor(), p.Role.Allows(auth.Admin), "", nil); err != nil {
		if provgraph.ErrorCode(err) == provgraph.Conflict {
			err = &provgraph.Error{Code: provgraph.Conflict, Status: http.StatusBadRequest, Message: message(err)}
		}
		Fail(w, r, err)
		return
	}
	// TaskRunHeartbeat {jwt}: provgraph issues no run-scoped token.
	writeJSON(w, r, http.StatusOK, struct{}{})
}

// ListQuery is a ListTaskRuns request.
type ListQuery struct {
	Sort      string // native sort
	Names     []string
	Status    []runs.State
	ACLs      []string
	PageSize  int
	PageToken string
	key       string
}

// Page sizes (ICA: 1 to 1000, 10 by default).
const (
	DefaultPageSize = 10
	MaxPageSize     = 1000
)

var sortFields = map[string]string{"name": "name", "status": "state", "timeCreated": "created_at"}

func csv(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// ParseList reads ListTaskRuns' parameters.
func ParseList(q url.Values) (ListQuery, error) {
	l := ListQuery{Sort: "created_at asc", PageSize: DefaultPageSize}
	for k, vs := range q {
		switch k {
		case "sort", "names", "status", "versions", "acls", "pageSize", "pageToken":
			if len(vs) != 1 {
				return l, invalid(k, "give it once")
			}
		default:
			return l, invalid(k, "unknown parameter")
		}
	}
	if s := strings.TrimSpace(q.Get("sort")); s != "" {
		field, dir, _ := strings.Cut(s, " ")
		native, ok := sortFields[field]
		if field == "timeModified" {
			return l, invalid("sort", "provgraph cannot sort task runs by timeModified; sort by name, status or timeCreated")
		}
		if !ok {
			return l, invalid("sort", "sort by name, status or timeCreated")
		}
		switch d := strings.ToLower(strings.TrimSpace(dir)); d {
		case "", "asc", "desc":
			l.Sort = native + " " + map[string]string{"": "asc", "asc": "asc", "desc": "desc"}[d]
		default:
			return l, invalid("sort", `the direction is "asc" or "desc"`)
		}
	}
	l.Names = csv(q.Get("names"))
	if len(l.Names) > 100 {
		return l, invalid("names", "at most 100 names")
	}
	for _, st := range csv(q.Get("status")) {
		ss, ok := States(st)
		if !ok {
			return l, invalid("status", fmt.Sprintf("%q is not a task run status (Pending, Running, Aborting, Completed, Failed, Aborted, …)", st))
		}
		l.Status = append(l.Status, ss...)
	}
	if len(csv(q.Get("versions"))) > 0 {
		return l, invalid("versions", "provgraph keeps no task versions")
	}
	l.ACLs = csv(q.Get("acls"))
	if s := q.Get("pageSize"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxPageSize {
			return l, invalid("pageSize", fmt.Sprintf("must be a whole number from 1 to %d", MaxPageSize))
		}
		l.PageSize = n
	}
	l.PageToken = q.Get("pageToken")
	parts := []string{l.Sort, strconv.Itoa(l.PageSize), "n"}
	parts = append(parts, l.Names...)
	parts = append(parts, "s", fmt.Sprint(l.Status), "a")
	l.key = pager.Fingerprint(append(parts, l.ACLs...)...)
	return l, nil
}

// native is the native list and the predicate the facade adds (exact names, acls).
func (l ListQuery) native() (url.Values, func(runs.Run) bool) {
	p := url.Values{"sort": {l.Sort}, "archived": {"any"}, "view": {runs.ViewFull}}
	for _, s := range l.Status {
		p.Add("state", string(s))
	}
	if len(l.Names) == 1 {
		p.Set("name_prefix", l.Names[0])
	}
	if len(l.Names) == 0 && len(l.ACLs) == 0 {
		return p, nil
	}
	return p, l.Keep
}

// Keep says whether a run passes the exact-name and acl filters.
func (l ListQuery) Keep(r runs.Run) bool {
	if len(l.Names) > 0 && !contains(l.Names, r.Name) {
		return false
	}
	if len(l.ACLs) > 0 {
		acl := created(r).ACL
		for _, a := range l.ACLs {
			if contains(acl, a) {
				return true
			}
		}
		return false
	}
	return true
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func (a *api) list(w http.ResponseWriter, r *http.Request) {
	l, err := ParseList(r.URL.Query())
	if err != nil {
		Fail(w, r, err)
		return
	}
	params, keep := l.native()
	got, next, err := pager.Collect(r.Context(), a.runs.List,
		pager.Query{Native: params, Keep: keep, Key: l.key, Size: l.PageSize, Param: "pageToken"}, l.PageToken)
	if err != nil {
		Fail(w, r, err)
		return
	}
	out := struct {
		Items          []TaskRun `json:"items"`
		ItemCount      int       `json:"itemCount"`
		FirstPageToken string    `json:"firstPageToken"`
		NextPageToken  string    `json:"nextPageToken,omitempty"`
	}{Items: make([]TaskRun, len(got)), ItemCount: len(got), FirstPageToken: pager.Encode(l.key, "", 0), NextPageToken: next}
	for i, run := range got {
		out.Items[i] = View(run, true)
	}
	writeJSON(w, r, http.StatusOK, out)
}

var codes = map[int]string{
	400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 408: "RequestTimeout", 409: "Conflict",
	413: "PayloadTooLarge", 415: "UnsupportedMediaType", 429: "TooManyRequests", 500: "InternalServerError", 503: "ServiceUnavailable",
}

// Fail answers an error as ICA does: ErrorResponse {code, message, details[]}, each
// offending field a detail {code, message, target}. Invalid input is 400.
func Fail(w http.ResponseWriter, r *http.Request, err error) {
	f := compat.Resolve(w, r, err, "ica")
	e, status, msg := f.Error, f.Status, f.Message
	details := []map[string]string{}
	for _, f := range e.Fields {
		details = append(details, map[string]string{"code": "InvalidField", "message": f.Message, "target": f.Path})
	}
	code := codes[status]
	if code == "" {
		code = http.StatusText(status)
	}
	writeJSON(w, r, status, map[string]any{"code": code, "message": msg, "details": details})
}

func writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	compat.WriteJSON(w, r, status, v, []byte(`{"code":"InternalServerError","message":"internal error","details":[]}`))
}
