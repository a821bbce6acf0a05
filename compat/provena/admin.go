package provena

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"provgraph"
	"provgraph/compat"
	"provgraph/registry"
)

// relodgeReason is the reason of the version a re-lodge writes.
const relodgeReason = "re-lodged through Provena's admin store_record"

// maxRelodge bounds the model runs one store_all_registry_records re-lodges.
const maxRelodge = 10000

// relodge writes a model run's provenance again from the record an ItemModelRun carries:
// a new version of the run under its id, with the links the record names (the registry
// and the graph are one store in provgraph, so this is the whole of Provena's lodge).
func (a *api) relodge(r *http.Request, raw json.RawMessage, at []any) error {
	var item struct {
		ID      string          `json:"id"`
		Subtype string          `json:"item_subtype"`
		Record  json.RawMessage `json:"record"`
	}
	if err := json.Unmarshal(raw, &item); err != nil || item.ID == "" || item.Record == nil {
		return &schemaError{[]map[string]any{{"loc": at, "msg": "an ItemModelRun with id and record is required", "type": "value_error"}}}
	}
	if item.Subtype != "" && item.Subtype != "MODEL_RUN" {
		return detail(provgraph.Invalid, 400, "item %s is a %s, not a MODEL_RUN", item.ID, item.Subtype)
	}
	flat, err := flatRecord(item.Record, append(at, "record"))
	if err != nil {
		return err
	}
	if !registry.ValidID(item.ID) {
		return detail(provgraph.Invalid, 400, "Failed to validate the model run id %q: provgraph re-lodges only runs it registered", item.ID)
	}
	_, err = a.ModelRuns.Update(r.Context(), item.ID, flat, compat.Caller(r).Actor(), relodgeReason)
	if provgraph.ErrorCode(err) == provgraph.NotFound {
		err = detail(provgraph.Invalid, 400, "Failed to validate the model run id %q: %s", item.ID, err.Error())
	}
	return err
}

func (a *api) storeRecord(w http.ResponseWriter, r *http.Request) {
	body, err := readJSON(r, nil)
	if err == nil {
		err = a.relodge(r, body, []any{"body"})
	}
	if err != nil {
		Fail(w, r, err)
		return
	}
	writeJSON(w, r, http.StatusOK, map[string]any{"status": statusOK("re-lodged 1 model run")})
}

func (a *api) storeRecords(w http.ResponseWriter, r *http.Request) {
	var items []json.RawMessage
	if _, err := readJSON(r, &items); err != nil {
		Fail(w, r, err)
		return
	}
	if len(items) > maxRelodge {
		Fail(w, r, detail(provgraph.Invalid, 400, "at most %d records at once", maxRelodge))
		return
	}
	for i, it := range items {
		if err := a.relodge(r, it, []any{"body", i}); err != nil {
			Fail(w, r, annotate(err, fmt.Sprintf("record %d (the %d before it were re-lodged)", i, i)))
			return
		}
	}
	writeJSON(w, r, http.StatusOK, map[string]any{"status": statusOK(fmt.Sprintf("re-lodged %d model runs", len(items)))})
}

// storeAll re-lodges every current model run the caller can read from its own record.
func (a *api) storeAll(w http.ResponseWriter, r *http.Request) {
	k := kind("model-run")
	p := compat.Caller(r)
	var ids []string
	params := map[string][]string{"page_size": {fmt.Sprint(registry.MaxPageSize)}}
	for {
		q, err := registry.ParseListQuery(k, params)
		if err != nil {
			Fail(w, r, err)
			return
		}
		q.Viewer = p.Viewer()
		page, err := a.Registry.List(r.Context(), q)
		if err != nil {
			Fail(w, r, err)
			return
		}
		for _, rec := range page.Records {
			ids = append(ids, rec.ID)
		}
		if len(ids) > maxRelodge {
			Fail(w, r, detail(provgraph.Invalid, 400, "there are more than %d model runs: re-lodge them in parts with /admin/store_records", maxRelodge))
			return
		}
		if page.NextPageToken == "" {
			break
		}
		params["page_token"] = []string{page.NextPageToken}
	}
	n := 0
	for _, id := range ids {
		rec, err := a.Registry.Get(r.Context(), k, id, 0, p.Viewer())
		if provgraph.ErrorCode(err) == provgraph.NotFound {
			continue // deleted meanwhile
		}
		if err != nil {
			Fail(w, r, err)
			return
		}
		run, err := ModelRunRecord(rec.Record)
		if err != nil {
			Fail(w, r, annotate(detail(provgraph.Invalid, 400, "%s", err.Error()), "model run "+id))
			return
		}
		item, _ := json.Marshal(map[string]any{"id": id, "record": run})
		if err := a.relodge(r, item, []any{"registry", id}); err != nil {
			Fail(w, r, annotate(err, fmt.Sprintf("model run %s (%d re-lodged before it)", id, n)))
			return
		}
		n++
	}
	writeJSON(w, r, http.StatusOK, map[string]any{"status": statusOK(fmt.Sprintf("re-lodged %d model runs", n))})
}

// annotate prefixes an error's message with where it happened.
func annotate(err error, where string) error {
	var e *provgraph.Error
	if !errors.As(err, &e) {
		return err
	}
	c := *e
	c.Message = where + ": " + c.Message
	return &c
}

// config answers Provena's admin config route with the settings the Provena routes run
// on: provgraph's, as environment variables (the required ones only, unless asked).
func (a *api) config(w http.ResponseWriter, r *http.Request) {
	requiredOnly := r.URL.Query().Get("required_only") != "false"
	var b strings.Builder
	b.WriteString("# provgraph serves Provena's prov, job and registry APIs itself; these are the\n# settings they run on (see docs/operations.md).\n")
	for _, s := range a.Settings {
		if requiredOnly && !s.Required {
			continue
		}
		fmt.Fprintf(&b, "%s=%s\n", s.Name, s.Value)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	w.Write([]byte(b.String()))
}

// Setting is one configuration setting the admin config route reports.
type Setting struct {
	Name, Value string
	Required    bool
}
