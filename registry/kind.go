// Package registry describes the kinds of record provgraph registers: their names, labels,
// PROV classes, the references between them and the rules a JSON Schema cannot express.
// It knows nothing of Neo4j or HTTP.
package registry

import (
	"fmt"
	"slices"
	"strings"

	"provgraph"
)

// ProvClass is the PROV-O class a kind maps to (DESIGN §3).
type ProvClass string

const (
	Agent    ProvClass = "Agent"
	Entity   ProvClass = "Entity"
	Activity ProvClass = "Activity"
)

// Kind describes one kind of record.
type Kind struct {
	// Name is the schema and API name, e.g. "dataset-template".
	Name string
	// Route is the collection segment under /api/v1, e.g. "dataset-templates".
	Route string
	// Label is the Neo4j kind label, e.g. "DatasetTemplate".
	Label string
	Class ProvClass
	// ExtraLabels are further labels, e.g. Plan for workflow templates.
	ExtraLabels []string
	// ProvType is the PROV-O subclass (prov:Person, prov:Organization, prov:Plan), if any.
	ProvType string
	// NameField is the document field that names the record.
	NameField string
	// Filters are the list filters this kind accepts beyond the name substring.
	Filters []Filter
	// Refs are the document fields that reference other records.
	Refs []RefField
	// Custom kinds are written by their own service (model runs have rules and
	// relationships of their own); the registry only reads, lists and deletes them.
	Custom bool
	// check enforces rules a JSON Schema cannot express.
	check func(doc map[string]any) []provgraph.FieldError
}

// Filter is a list filter on a scalar field copied onto the node.
type Filter struct {
	Param string // query parameter and node property name
	Field string // document field it is read from
	List  bool   // the property holds a list; the filter matches membership
}

// RefField is a document field holding the id of another record.
type RefField struct {
	// Path locates the field: "software_id", "input_templates/*/template_id".
	Path string
	// Kind is the required kind (its Label) of the referenced record.
	Kind string
	// Rel and Role name the relationship from this record to the referenced one.
	Rel  string
	Role string
}

// Ref is one reference found in a document.
type Ref struct {
	Pointer string // JSON pointer, e.g. "/input_templates/1/template_id"
	ID      string
	Kind    string
	Rel     string
	Role    string
}

var kinds = []Kind{
	{
		Name: "person", Route: "people", Label: "Person", Class: Agent, ProvType: "Person",
		NameField: "display_name",
		Filters:   []Filter{{Param: "email", Field: "email"}, {Param: "orcid", Field: "orcid"}, {Param: "last_name", Field: "last_name"}},
	},
	{
		Name: "organisation", Route: "organisations", Label: "Organisation", Class: Agent, ProvType: "Organization",
		NameField: "display_name",
		Filters:   []Filter{{Param: "ror", Field: "ror"}},
	},
	{
		Name: "model", Route: "models", Label: "Model", Class: Entity,
		NameField: "display_name",
		Filters:   []Filter{{Param: "source_url", Field: "source_url"}},
	},
	{
		Name: "dataset", Route: "datasets", Label: "Dataset", Class: Entity,
		NameField: "display_name",
		Filters: []Filter{
			{Param: "publisher_id", Field: "publisher_id"}, {Param: "license", Field: "license"},
			{Param: "keyword", Field: "keywords", List: true}, {Param: "location", Field: "location"},
		},
		Refs: []RefField{{Path: "publisher_id", Kind: "Organisation", Rel: "WAS_ATTRIBUTED_TO", Role: "publisher"}},
	},
	{
		Name: "dataset-template", Route: "dataset-templates", Label: "DatasetTemplate", Class: Entity,
		NameField: "display_name",
		check:     checkDatasetTemplate,
	},
	{
		Name: "workflow-template", Route: "workflow-templates", Label: "WorkflowTemplate", Class: Entity,
		ExtraLabels: []string{"Plan"}, ProvType: "Plan",
		NameField: "display_name",
		Filters:   []Filter{{Param: "software_id", Field: "software_id"}},
		Refs: []RefField{
			{Path: "software_id", Kind: "Model", Rel: "WAS_INFLUENCED_BY", Role: "software"},
			{Path: "input_templates/*/template_id", Kind: "DatasetTemplate", Rel: "WAS_INFLUENCED_BY", Role: "input_template"},
			{Path: "output_templates/*/template_id", Kind: "DatasetTemplate", Rel: "WAS_INFLUENCED_BY", Role: "output_template"},
		},
		check: checkWorkflowTemplate,
	},
	{
		Name: "study", Route: "studies", Label: "Study", Class: Activity,
		NameField: "title",
	},
	{
		Name: "model-run", Route: "model-runs", Label: "ModelRun", Class: Activity, Custom: true,
		NameField: "display_name",
		Filters: []Filter{
			{Param: "workflow_template_id", Field: "workflow_template_id"}, {Param: "modeller_id", Field: "modeller_id"},
			{Param: "study_id", Field: "study_id"}, {Param: "model_version", Field: "model_version"},
		},
	},
}

// Kinds lists every registry kind, in a stable order.
func Kinds() []Kind { return slices.Clone(kinds) }

// KindByRoute finds a kind by its collection segment.
func KindByRoute(route string) (Kind, bool) {
	for _, k := range kinds {
		if k.Route == route {
			return k, true
		}
	}
	return Kind{}, false
}

// KindByLabel finds a kind by its Neo4j kind label.
func KindByLabel(label string) (Kind, bool) {
	for _, k := range kinds {
		if k.Label == label {
			return k, true
		}
	}
	return Kind{}, false
}

// KindByName finds a kind by its schema name.
func KindByName(name string) (Kind, bool) {
	for _, k := range kinds {
		if k.Name == name {
			return k, true
		}
	}
	return Kind{}, false
}

// Labels are all Neo4j labels of a current record of this kind.
func (k Kind) Labels() []string {
	return append([]string{"Record", k.Label, string(k.Class)}, k.ExtraLabels...)
}

// FilterByParam finds a filter by its query parameter.
func (k Kind) FilterByParam(p string) (Filter, bool) {
	for _, f := range k.Filters {
		if f.Param == p {
			return f, true
		}
	}
	return Filter{}, false
}

// Check applies the rules of this kind that a JSON Schema cannot express. The document
// has already passed its schema.
func (k Kind) Check(doc map[string]any) []provgraph.FieldError {
	if k.check == nil {
		return nil
	}
	return k.check(doc)
}

// DisplayName is the record's name as shown in lists.
func (k Kind) DisplayName(doc map[string]any) string {
	s, _ := doc[k.NameField].(string)
	return s
}

// Properties are the scalar fields copied onto the node so lists can filter on them.
func (k Kind) Properties(doc map[string]any) map[string]any {
	props := map[string]any{}
	for _, f := range k.Filters {
		v, ok := doc[f.Field]
		if !ok {
			continue
		}
		if f.List {
			list := []string{}
			for _, item := range asSlice(v) {
				if s, ok := item.(string); ok {
					list = append(list, s)
				}
			}
			props[f.Param] = list
			continue
		}
		if s, ok := v.(string); ok {
			props[f.Param] = s
		}
	}
	return props
}

// References lists every reference in the document, with its JSON pointer.
func (k Kind) References(doc map[string]any) []Ref {
	var refs []Ref
	for _, rf := range k.Refs {
		walk(doc, strings.Split(rf.Path, "/"), "", func(ptr string, v any) {
			if id, ok := v.(string); ok && id != "" {
				refs = append(refs, Ref{Pointer: ptr, ID: id, Kind: rf.Kind, Rel: rf.Rel, Role: rf.Role})
			}
		})
	}
	return refs
}

func walk(v any, path []string, ptr string, visit func(ptr string, v any)) {
	if len(path) == 0 {
		visit(ptr, v)
		return
	}
	if path[0] == "*" {
		for i, item := range asSlice(v) {
			walk(item, path[1:], fmt.Sprintf("%s/%d", ptr, i), visit)
		}
		return
	}
	m, ok := v.(map[string]any)
	if !ok {
		return
	}
	child, ok := m[path[0]]
	if !ok {
		return
	}
	walk(child, path[1:], ptr+"/"+path[0], visit)
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}
