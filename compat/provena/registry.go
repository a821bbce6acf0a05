package provena

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/rs/zerolog"

	"provgraph"
	"provgraph/compat"
	"provgraph/lineage"
	"provgraph/registry"
)

// item reads a current record and its history as a Provena item.
func (a *api) item(r *http.Request, kindName, id string) (map[string]any, error) {
	k := kind(kindName)
	v := compat.Caller(r).Viewer()
	if !registry.ValidID(id) {
		return nil, registry.ErrNotFound(kindName, id)
	}
	rec, err := a.Registry.Get(r.Context(), k, id, 0, v)
	if err == nil && rec.DeletedAt != nil {
		err = registry.ErrNotFound(kindName, id)
	}
	if err != nil {
		return nil, err
	}
	hist, err := a.Registry.History(r.Context(), k, id, v)
	if err != nil {
		return nil, err
	}
	// History is read without PROV-JSON; each version's own is read with it.
	if kindName == "model-run" {
		for i := range hist {
			if hist[i].Version == rec.Version {
				hist[i].ProvJSON = rec.ProvJSON
				continue
			}
			if old, err := a.Registry.Get(r.Context(), k, id, hist[i].Version, v); err == nil {
				hist[i].ProvJSON = old.ProvJSON
			}
		}
	}
	return Item(kindName, rec, hist)
}

// notFound answers a registry miss as Provena does: 200 with status.success false.
func notFound(w http.ResponseWriter, r *http.Request, err error) {
	if provgraph.ErrorCode(err) != provgraph.NotFound {
		Fail(w, r, err)
		return
	}
	writeJSON(w, r, http.StatusOK, map[string]any{"status": map[string]any{"success": false, "details": "Could not find the item: " + err.Error()}})
}

func (a *api) fetchItem(kindName string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := oneParam(r, "id")
		if err != nil {
			Fail(w, r, err)
			return
		}
		it, err := a.item(r, kindName, id)
		if err != nil {
			notFound(w, r, err)
			return
		}
		writeJSON(w, r, http.StatusOK, map[string]any{"status": statusOK("fetched " + id), "item": it, "locked": false, "item_is_seed": false})
	}
}

// generalFetch answers any record, finding its kind first.
func (a *api) generalFetch(w http.ResponseWriter, r *http.Request) {
	id, err := oneParam(r, "id")
	if err != nil {
		Fail(w, r, err)
		return
	}
	if !registry.ValidID(id) {
		notFound(w, r, registry.ErrNotFound("record", id))
		return
	}
	res, err := a.Lineage.Walk(r.Context(), lineage.Query{ID: id, Direction: lineage.Upstream, Depth: 1, Limit: 1, Viewer: compat.Caller(r).Viewer()})
	if err != nil {
		notFound(w, r, err)
		return
	}
	var kindName string
	if len(res.Nodes) > 0 {
		for _, k := range registry.Kinds() {
			if k.Label == res.Nodes[0].Kind {
				kindName = k.Name
			}
		}
	}
	if kindName == "" {
		notFound(w, r, registry.ErrNotFound("registry item", id))
		return
	}
	it, err := a.item(r, kindName, id)
	if err != nil {
		notFound(w, r, err)
		return
	}
	writeJSON(w, r, http.StatusOK, map[string]any{"status": statusOK("fetched " + id), "item": it})
}

// sortFields are Provena's sort types provgraph's lists sort by (no sort type is
// creation time).
var sortFields = map[string]string{"": "created_at", "CREATED_TIME": "created_at", "UPDATED_TIME": "updated_at", "DISPLAY_NAME": "name"}

// maxListPage bounds a page of the model-run list: each item is read with its history.
const maxListPage = 50

func (a *api) listModelRuns(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Key      map[string]any `json:"pagination_key"`
		PageSize *int           `json:"page_size"`
		SortBy   *struct {
			Type      string `json:"sort_type"`
			Ascending bool   `json:"ascending"`
		} `json:"sort_by"`
	}
	if _, err := readJSON(r, &req); err != nil {
		Fail(w, r, err)
		return
	}
	size := 20
	if req.PageSize != nil {
		size = *req.PageSize
	}
	if size < 1 || size > maxListPage {
		Fail(w, r, detail(provgraph.Invalid, 400, "page_size must be 1 to %d", maxListPage))
		return
	}
	// Provena lists newest first unless asked otherwise.
	field, desc := "created_at", true
	if req.SortBy != nil {
		var ok bool
		if field, ok = sortFields[req.SortBy.Type]; !ok {
			Fail(w, r, detail(provgraph.Invalid, 400, "sort_type %q is not one provgraph sorts model runs by (CREATED_TIME, UPDATED_TIME, DISPLAY_NAME)", req.SortBy.Type))
			return
		}
		desc = !req.SortBy.Ascending
	}
	sort := field + " asc"
	if desc {
		sort = field + " desc"
	}
	params := map[string][]string{"page_size": {fmt.Sprint(size)}, "sort": {sort}}
	if tok, ok := req.Key["page_token"].(string); ok && tok != "" {
		params["page_token"] = []string{tok}
	}
	k := kind("model-run")
	q, err := registry.ParseListQuery(k, params)
	if err != nil {
		Fail(w, r, err)
		return
	}
	q.Viewer = compat.Caller(r).Viewer()
	page, err := a.Registry.List(r.Context(), q)
	if err != nil {
		Fail(w, r, err)
		return
	}
	items := make([]map[string]any, 0, len(page.Records))
	for _, rec := range page.Records {
		it, err := a.item(r, "model-run", rec.ID)
		if provgraph.ErrorCode(err) == provgraph.NotFound {
			continue // deleted between the list and the read
		}
		var bad *unreadable
		if errors.As(err, &bad) {
			// A record with no readable body (written around the API) cannot be a
			// Provena item: it is left out of the page, not allowed to fail it.
			zerolog.Ctx(r.Context()).Warn().Err(err).Str("api", "provena").Msg("model run left out of the list")
			continue
		}
		if err != nil {
			Fail(w, r, err)
			return
		}
		items = append(items, it)
	}
	var next any
	if page.NextPageToken != "" {
		next = map[string]any{"page_token": page.NextPageToken}
	}
	writeJSON(w, r, http.StatusOK, map[string]any{"status": statusOK(fmt.Sprintf("%d model runs", len(items))), "items": items, "pagination_key": next})
}

// registryDelete removes a model run's registry item; after /model_run/delete it is
// already gone, which is success too.
func (a *api) registryDelete(w http.ResponseWriter, r *http.Request) {
	id, err := oneParam(r, "id")
	if err != nil {
		Fail(w, r, err)
		return
	}
	k := kind("model-run")
	p := compat.Caller(r)
	if !registry.ValidID(id) {
		notFound(w, r, registry.ErrNotFound("model-run", id))
		return
	}
	_, err = a.Registry.Get(r.Context(), k, id, 0, p.Viewer())
	if provgraph.ErrorCode(err) == provgraph.NotFound {
		// Not current: deleted already (its first version is still read) or never here.
		if _, verr := a.Registry.Get(r.Context(), k, id, 1, p.Viewer()); verr == nil {
			writeJSON(w, r, http.StatusOK, map[string]any{"status": statusOK(id + " was already deleted")})
			return
		}
	}
	if err != nil {
		notFound(w, r, err)
		return
	}
	{
		if err := a.Registry.Delete(r.Context(), k, id, p.Actor(), "deleted through Provena's registry"); err != nil {
			Fail(w, r, err)
			return
		}
	}
	writeJSON(w, r, http.StatusOK, map[string]any{"status": statusOK("deleted " + id)})
}

// fetchDataset answers the data store's dataset fetch honestly: provgraph keeps no data
// store, and Provena's ItemDataset (collection format, S3 location, approvals, release
// status) cannot be filled from a provgraph dataset without inventing values. The answer
// is Provena's own failure shape, naming where the dataset's record is.
func (a *api) fetchDataset(w http.ResponseWriter, r *http.Request) {
	id, err := oneParam(r, "handle_id")
	if err != nil {
		Fail(w, r, err)
		return
	}
	msg := fmt.Sprintf("provgraph keeps no Provena data store, so it has no ItemDataset for %s (no S3 location, approvals or release status); "+
		"its dataset record is GET /api/v1/datasets/%s", id, id)
	writeJSON(w, r, http.StatusOK, map[string]any{"status": map[string]any{"success": false, "details": msg}})
}
