// Package provena serves the current Provena client's routes (provenaclient with
// provena-interfaces): the prov API (registration, update, delete, lineage), the job API
// (each registration recorded as a job that has already ended) and the registry reads the
// client makes around model runs, in Provena's shapes, on provgraph's model-run,
// registry and lineage services. It only translates.
package provena

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"provgraph"
	"provgraph/auth"
	"provgraph/compat"
	"provgraph/lineage"
	"provgraph/registry"
	"provgraph/runs"
)

// ModelRuns is what the adapter needs of the model-run registration service.
type ModelRuns interface {
	Register(ctx context.Context, raw []byte, actor registry.Actor, idemKey string) (registry.Record, error)
	RegisterBatch(ctx context.Context, raws [][]byte, actor registry.Actor, idemKey string, mode runs.Mode) ([]runs.Result, error)
	Update(ctx context.Context, id string, raw []byte, actor registry.Actor, reason string) (registry.Record, error)
}

// Registry is what the adapter needs of the registry.
type Registry interface {
	Get(ctx context.Context, k registry.Kind, id string, version int, v registry.Viewer) (registry.Record, error)
	History(ctx context.Context, k registry.Kind, id string, v registry.Viewer) ([]registry.Record, error)
	List(ctx context.Context, q registry.ListQuery) (registry.Page, error)
	Delete(ctx context.Context, k registry.Kind, id string, actor registry.Actor, reason string) error
}

// Lineage answers lineage walks.
type Lineage interface {
	Walk(ctx context.Context, q lineage.Query) (lineage.Result, error)
}

// Config wires the adapter.
type Config struct {
	ModelRuns ModelRuns
	Registry  Registry
	Lineage   Lineage
	Jobs      runs.ProvenaJobs
	Now       func() time.Time
	// Settings are what the admin config route reports (never a secret).
	Settings []Setting
}

type api struct{ Config }

// API is Provena's prov, job and registry API.
func API(c Config) compat.API {
	if c.Now == nil {
		c.Now = time.Now
	}
	a := &api{c}
	routes := []compat.Route{
		{Method: "GET", Path: "/", Public: true, Summary: "Provena health check.", Handler: a.health},
		{Method: "POST", Path: "/model_run/register", Role: auth.Writer, Summary: "Register a model run; answers the session of its (already ended) job.", Handler: a.register},
		{Method: "POST", Path: "/model_run/register_batch", Role: auth.Writer, Transfer: true, Summary: "Register model runs each on its own; one batch job and one job per record.", Handler: a.registerBatch},
		{Method: "POST", Path: "/model_run/update", Role: auth.Writer, Summary: "Update a model run (a new version, with a reason).", Handler: a.update},
		{Method: "POST", Path: "/model_run/delete", Role: auth.Admin, Summary: "Delete (invalidate) a model run, or in trial mode only say what would go; answers the diff.", Handler: a.deleteRun},
		{Method: "GET", Path: "/explore/upstream", Role: auth.Reader, Summary: "Upstream lineage as a node-link graph.", Handler: a.explore(lineage.Upstream, nil, true, 2)},
		{Method: "GET", Path: "/explore/downstream", Role: auth.Reader, Summary: "Downstream lineage as a node-link graph.", Handler: a.explore(lineage.Downstream, nil, true, 2)},
		{Method: "GET", Path: "/explore/special/contributing_datasets", Role: auth.Reader, Summary: "Datasets upstream.", Handler: a.explore(lineage.Upstream, datasetKinds, false, 4)},
		{Method: "GET", Path: "/explore/special/effected_datasets", Role: auth.Reader, Summary: "Datasets downstream.", Handler: a.explore(lineage.Downstream, datasetKinds, false, 4)},
		{Method: "GET", Path: "/explore/special/contributing_agents", Role: auth.Reader, Summary: "People and organisations upstream.", Handler: a.explore(lineage.Upstream, agentKinds, true, 4)},
		{Method: "GET", Path: "/explore/special/effected_agents", Role: auth.Reader, Summary: "People and organisations downstream.", Handler: a.explore(lineage.Downstream, agentKinds, true, 4)},
		{Method: "GET", Path: "/bulk/generate_template/csv", Role: auth.Reader, Summary: "The CSV header for runs of a workflow template.", Handler: a.generateTemplate},
		{Method: "POST", Path: "/bulk/convert_model_runs/csv", Role: auth.Reader, Transfer: true, Summary: "Read a CSV of model runs into records (registers nothing).", Handler: a.convert},
		{Method: "GET", Path: "/bulk/regenerate_from_batch/csv", Role: auth.Reader, Summary: "A batch the caller submitted, as CSV with its jobs' states.", Handler: a.regenerate},
		{Method: "POST", Path: "/explore/generate/report", Role: auth.Reader, Summary: "A Word study close-out report of a study or model run.", Handler: a.report},
		{Method: "GET", Path: "/admin/config", Role: auth.Admin, Summary: "The settings the Provena routes run on.", Handler: a.config},
		{Method: "POST", Path: "/admin/store_record", Role: auth.Admin, Summary: "Re-lodge a model run from an ItemModelRun.", Handler: a.storeRecord},
		{Method: "POST", Path: "/admin/store_records", Role: auth.Admin, Transfer: true, Summary: "Re-lodge model runs from ItemModelRuns.", Handler: a.storeRecords},
		{Method: "POST", Path: "/admin/store_all_registry_records", Role: auth.Admin, Transfer: true, Summary: "Re-lodge every model run from its own record.", Handler: a.storeAll},
		{Method: "GET", Path: "/registry/items/fetch-dataset", Role: auth.Reader, Summary: "Provena's data store: not kept by provgraph.", Handler: a.fetchDataset},
		{Method: "GET", Path: "/jobs/user/fetch", Role: auth.Reader, Summary: "One of the caller's jobs.", Handler: a.fetchJob},
		{Method: "POST", Path: "/jobs/user/list", Role: auth.Reader, Summary: "The caller's jobs, newest first.", Handler: a.listJobs(false)},
		{Method: "POST", Path: "/jobs/user/list_batch", Role: auth.Reader, Summary: "The caller's jobs of one batch.", Handler: a.listJobs(true)},
		{Method: "POST", Path: "/registry/activity/model_run/list", Role: auth.Reader, Summary: "Model runs, as Provena items.", Handler: a.listModelRuns},
		{Method: "GET", Path: "/registry/general/fetch", Role: auth.Reader, Summary: "Any record, as a Provena item.", Handler: a.generalFetch},
		{Method: "DELETE", Path: "/registry/activity/model_run/delete", Role: auth.Admin, Summary: "Delete a model run's registry item.", Handler: a.registryDelete},
	}
	for _, f := range fetchRoutes {
		routes = append(routes, compat.Route{Method: "GET", Path: "/registry/" + f.path + "/fetch", Role: auth.Reader,
			Summary: "A " + f.kind + " as a Provena item.", Handler: a.fetchItem(f.kind)})
	}
	return compat.API{Name: "provena", Routes: routes, Fail: Fail}
}

var (
	datasetKinds = []string{"Artifact", "Dataset"}
	agentKinds   = []string{"Organisation", "Person"}
)

var fetchRoutes = []struct{ path, kind string }{
	{"entity/model_run_workflow", "workflow-template"}, {"entity/dataset_template", "dataset-template"},
	{"entity/model", "model"}, {"agent/person", "person"}, {"agent/organisation", "organisation"},
	{"activity/study", "study"}, {"activity/model_run", "model-run"},
}

func (a *api) health(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, r, http.StatusOK, map[string]string{"message": "Health check successful."})
}

// statusOK is Provena's Status of a success.
func statusOK(details string) map[string]any {
	return map[string]any{"success": true, "details": details}
}

// detail is a FastAPI error: {"detail": message}.
func detail(code provgraph.Code, status int, format string, args ...any) error {
	return &provgraph.Error{Code: code, Status: status, Message: fmt.Sprintf(format, args...)}
}

// schemaError is FastAPI's 422 for a body that is not the model it should be.
type schemaError struct{ detail []map[string]any }

func (e *schemaError) Error() string { return "the body does not match its model" }

// Fail answers an error as Provena's FastAPI services do: {"detail": "<message>"}, with
// 400 for failed validation (never our native 422), and FastAPI's 422 {"detail": [{loc,
// msg, type}]} only for a body that is not the request model at all.
func Fail(w http.ResponseWriter, r *http.Request, err error) {
	var se *schemaError
	if errors.As(err, &se) {
		writeJSON(w, r, http.StatusUnprocessableEntity, map[string]any{"detail": se.detail})
		return
	}
	f := compat.Resolve(w, r, err, "provena")
	msg := f.Message
	if f.Code == provgraph.Invalid && len(f.Fields) > 0 && f.Status < 500 {
		msg = "Failed to validate the record, error: " + fieldText(f.Fields)
	}
	writeJSON(w, r, f.Status, map[string]any{"detail": msg})
}

func fieldText(fs []provgraph.FieldError) string {
	out := ""
	for i, f := range fs {
		if i > 0 {
			out += "; "
		}
		if f.Path != "" {
			out += f.Path + ": "
		}
		out += f.Message
	}
	return out
}

func writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	compat.WriteJSON(w, r, status, v, []byte(`{"detail":"internal error"}`))
}

// readJSON reads the body into v, a 422 when it is not JSON of v's shape.
func readJSON(r *http.Request, v any) ([]byte, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, provgraph.Errorf(provgraph.TooLarge, "the body is over %d bytes", tooLarge.Limit)
		}
		return nil, provgraph.Wrap(provgraph.Invalid, err, "the body could not be read")
	}
	if v != nil {
		if err := json.Unmarshal(body, v); err != nil {
			return nil, &schemaError{[]map[string]any{{"loc": []any{"body"}, "msg": err.Error(), "type": "value_error.jsondecode"}}}
		}
	}
	return body, nil
}

// sessionID is a random UUID (version 4), as Provena's job sessions are.
func sessionID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func kind(name string) registry.Kind {
	k, ok := registry.KindByName(name)
	if !ok {
		panic("provena: registry has no kind " + name)
	}
	return k
}

// oneParam reads a required query parameter; its absence is FastAPI's 422.
func oneParam(r *http.Request, name string) (string, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return "", &schemaError{[]map[string]any{{"loc": []any{"query", name}, "msg": "field required", "type": "value_error.missing"}}}
	}
	if len(v) > 512 {
		return "", detail(provgraph.Invalid, 400, "%s is too long", name)
	}
	return v, nil
}
