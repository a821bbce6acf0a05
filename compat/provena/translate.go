package provena

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"provgraph/lineage"
	"provgraph/prov"
	"provgraph/registry"
)

// Subtype is a Provena item's category and subtype.
type Subtype struct{ Category, Subtype string }

// subtypes maps provgraph's node kinds onto Provena's item categories and subtypes. A
// tracked run is Provena's WORKFLOW_RUN and its artifact a DATASET; every other kind (the
// User who wrote a record, run events) has no Provena item and is left out.
var subtypes = map[string]Subtype{
	"ModelRun":         {"ACTIVITY", "MODEL_RUN"},
	"Study":            {"ACTIVITY", "STUDY"},
	"Run":              {"ACTIVITY", "WORKFLOW_RUN"},
	"Person":           {"AGENT", "PERSON"},
	"Organisation":     {"AGENT", "ORGANISATION"},
	"Dataset":          {"ENTITY", "DATASET"},
	"Artifact":         {"ENTITY", "DATASET"},
	"Model":            {"ENTITY", "MODEL"},
	"WorkflowTemplate": {"ENTITY", "MODEL_RUN_WORKFLOW_TEMPLATE"},
	"DatasetTemplate":  {"ENTITY", "DATASET_TEMPLATE"},
}

// SubtypeOf is the Provena item category and subtype of a provgraph kind label; ok is
// false for kinds Provena has no item for.
func SubtypeOf(kind string) (Subtype, bool) {
	s, ok := subtypes[kind]
	return s, ok
}

// Node is a node of a networkx node-link graph as Provena writes it.
type Node struct {
	ID       string `json:"id"`
	Category string `json:"item_category"`
	Subtype  string `json:"item_subtype"`
}

// Link is an edge of a node-link graph: the PROV-O name of the relation.
type Link struct {
	Type   string `json:"type"`
	Source string `json:"source"`
	Target string `json:"target"`
}

// Graph is networkx's node_link_data(G, edges="links") of a directed graph.
type Graph struct {
	Directed   bool           `json:"directed"`
	Multigraph bool           `json:"multigraph"`
	Graph      map[string]any `json:"graph"`
	Nodes      []Node         `json:"nodes"`
	Links      []Link         `json:"links"`
}

// GraphOf translates a lineage result into Provena's graph: nodes of kinds Provena has no
// item for are left out with their edges, edges are named the PROV-O way
// (WAS_GENERATED_BY → wasGeneratedBy), and a pair joined twice by the same relation (two
// roles) is one link.
func GraphOf(res lineage.Result) Graph {
	g := Graph{Directed: true, Graph: map[string]any{}, Nodes: []Node{}, Links: []Link{}}
	kept := map[string]bool{}
	for _, n := range res.Nodes {
		s, ok := SubtypeOf(n.Kind)
		if !ok || kept[n.ID] {
			continue
		}
		kept[n.ID] = true
		g.Nodes = append(g.Nodes, Node{ID: n.ID, Category: s.Category, Subtype: s.Subtype})
	}
	seen := map[Link]bool{}
	for _, e := range res.Edges {
		if !kept[e.From] || !kept[e.To] {
			continue
		}
		name := e.Type
		if t, ok := prov.ParseRelType(e.Type); ok {
			name = string(t)
		}
		l := Link{Type: name, Source: e.From, Target: e.To}
		if seen[l] {
			continue
		}
		seen[l] = true
		g.Links = append(g.Links, l)
	}
	return g
}

// ModelRunRecord turns a stored model-run record (our flat shape, which stores what was
// sent, with times as epoch seconds or RFC 3339) into Provena's ModelRunRecord: every
// input and output says dataset_type DATA_STORE, and times are epoch seconds.
func ModelRunRecord(stored json.RawMessage) (json.RawMessage, error) {
	var doc map[string]any
	d := json.NewDecoder(strings.NewReader(string(stored)))
	d.UseNumber()
	if err := d.Decode(&doc); err != nil || doc == nil {
		return nil, &unreadable{"a model run"}
	}
	for _, side := range []string{"inputs", "outputs"} {
		list, _ := doc[side].([]any)
		for _, item := range list {
			if ds, ok := item.(map[string]any); ok {
				ds["dataset_type"] = "DATA_STORE"
			}
		}
		if list == nil {
			doc[side] = []any{}
		}
	}
	for _, k := range []string{"start_time", "end_time"} {
		switch v := doc[k].(type) {
		case string:
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return nil, fmt.Errorf("provena: %s %q is not a time", k, v)
			}
			doc[k] = t.Unix()
		case json.Number:
			if n, err := v.Int64(); err == nil {
				doc[k] = n
			} else if f, err := v.Float64(); err == nil {
				doc[k] = int64(f)
			}
		}
	}
	return json.Marshal(doc)
}

// itemKinds are the registry kinds served as Provena items, by subtype.
var itemKinds = map[string]string{
	"MODEL_RUN": "model-run", "STUDY": "study", "PERSON": "person", "ORGANISATION": "organisation",
	"DATASET": "dataset", "MODEL": "model", "MODEL_RUN_WORKFLOW_TEMPLATE": "workflow-template",
	"DATASET_TEMPLATE": "dataset-template",
}

// DomainInfo is a record's Provena domain info (what Provena's item holds beside its
// record info): our record's fields, which follow Provena's, with display_name for kinds
// that name it otherwise and Provena's required fields that ours leave optional.
func DomainInfo(kind string, rec registry.Record) (map[string]any, error) {
	var doc map[string]any
	d := json.NewDecoder(strings.NewReader(string(rec.Record)))
	d.UseNumber()
	if err := d.Decode(&doc); err != nil || doc == nil {
		return nil, &unreadable{rec.ID}
	}
	if _, ok := doc["display_name"]; !ok {
		name := rec.Name
		if t, ok := doc["title"].(string); ok && kind == "study" {
			name = t
		}
		if name == "" {
			name = rec.ID
		}
		doc["display_name"] = name
	}
	switch kind {
	case "dataset-template":
		for _, key := range []string{"defined_resources", "deferred_resources"} {
			list, _ := doc[key].([]any)
			for _, item := range list {
				if r, ok := item.(map[string]any); ok {
					if _, ok := r["description"]; !ok {
						r["description"] = ""
					}
				}
			}
			if list == nil {
				doc[key] = []any{}
			}
		}
	case "model-run":
		run, err := ModelRunRecord(rec.Record)
		if err != nil {
			return nil, err
		}
		prov := string(rec.ProvJSON)
		if prov == "" {
			prov = "{}"
		}
		doc = map[string]any{"display_name": doc["display_name"], "record_status": "LODGED", "record": run, "prov_serialisation": prov}
	}
	return doc, nil
}

// unreadable is a stored record whose body is not a JSON object.
type unreadable struct{ id string }

func (e *unreadable) Error() string {
	return "provena: the stored body of " + e.id + " is not a JSON object"
}

// Item is a Provena registry item: RecordInfo, the domain info, and the history (newest
// first, as our history is read), one entry per version.
func Item(kind string, cur registry.Record, history []registry.Record) (map[string]any, error) {
	k, ok := registry.KindByName(kind)
	if !ok {
		return nil, fmt.Errorf("provena: no kind %q", kind)
	}
	st := subtypes[k.Label]
	item, err := DomainInfo(kind, cur)
	if err != nil {
		return nil, err
	}
	item["id"] = cur.ID
	item["owner_username"] = cur.CreatedBy
	item["created_timestamp"] = cur.CreatedAt.Unix()
	item["updated_timestamp"] = cur.UpdatedAt.Unix()
	item["item_category"] = st.Category
	item["item_subtype"] = st.Subtype
	item["record_type"] = "COMPLETE_ITEM"
	hist := make([]map[string]any, 0, len(history))
	for _, h := range history {
		info, err := DomainInfo(kind, h)
		if err != nil {
			return nil, err
		}
		reason := h.Reason
		if reason == "" {
			reason = "Initial record creation"
		}
		hist = append(hist, map[string]any{"id": h.Version, "timestamp": h.UpdatedAt.Unix(), "reason": reason, "username": h.UpdatedBy, "item": info})
	}
	if len(hist) == 0 {
		info, _ := DomainInfo(kind, cur)
		hist = append(hist, map[string]any{"id": cur.Version, "timestamp": cur.UpdatedAt.Unix(), "reason": "Initial record creation", "username": cur.UpdatedBy, "item": info})
	}
	item["history"] = hist
	return item, nil
}

// Depth reads a lineage depth: def when absent, 1 to MaxDepth otherwise.
func Depth(v string, def int) (int, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > MaxDepth {
		return 0, fmt.Errorf("depth must be a whole number from 1 to %d", MaxDepth)
	}
	return n, nil
}

// MaxDepth bounds lineage depth, as Provena does.
const MaxDepth = 10

// schemaFields are ModelRunRecord's required fields and the JSON types pydantic accepts
// for them (pydantic 1 also coerces numeric strings to ints, which our schema does not:
// it reads times as epoch seconds or RFC 3339).
var schemaFields = []struct{ name, kind string }{
	{"workflow_template_id", "string"}, {"inputs", "array"}, {"outputs", "array"}, {"display_name", "string"},
	{"description", "string"}, {"associations", "object"}, {"start_time", "number"}, {"end_time", "number"},
}

// SchemaErrors are the failures FastAPI would answer 422 for: a body that is not a
// ModelRunRecord at all (a required field missing or of the wrong JSON type). Everything
// else a record can get wrong is a validation failure, 400.
func SchemaErrors(raw []byte, at []any) []map[string]any {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(raw, &doc); err != nil || doc == nil {
		return []map[string]any{{"loc": at, "msg": "value is not a valid dict", "type": "type_error.dict"}}
	}
	var out []map[string]any
	for _, f := range schemaFields {
		v, ok := doc[f.name]
		loc := slices.Concat(at, []any{f.name})
		if !ok || string(v) == "null" {
			out = append(out, map[string]any{"loc": loc, "msg": "field required", "type": "value_error.missing"})
			continue
		}
		if !jsonKind(v, f.kind) {
			out = append(out, map[string]any{"loc": loc, "msg": "value is not a valid " + f.kind, "type": "type_error." + f.kind})
		}
	}
	return out
}

func jsonKind(v json.RawMessage, kind string) bool {
	s := strings.TrimSpace(string(v))
	if s == "" {
		return false
	}
	switch kind {
	case "string":
		return s[0] == '"'
	case "array":
		return s[0] == '['
	case "object":
		return s[0] == '{'
	case "number":
		return s[0] == '-' || s[0] >= '0' && s[0] <= '9' || s[0] == '"'
	}
	return false
}
