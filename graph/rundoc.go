package graph

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j/dbtype"

	"provgraph/prov"
)

// runDocument is the depth-0 PROV document of a run about to be written, built from what
// the write will create (writeRunsCypher) and the nodes it will link, through the same
// conversion as documents() (toDocument). A test holds the two equal, so the PROV-JSON
// stored with a run agrees with the graph without reading it back inside the write.
func runDocument(p map[string]any, nodes map[string]dbtype.Node, user dbtype.Node, prev *dbtype.Node) (*prov.Document, error) {
	id := p["id"].(string)
	r := newRunNode(p)
	all := map[string]dbtype.Node{r.ElementId: r, user.ElementId: user}
	var rels []any
	link := func(from, to dbtype.Node, typ string, props map[string]any) {
		all[from.ElementId], all[to.ElementId] = from, to
		rels = append(rels, dbtype.Relationship{ElementId: fmt.Sprint("new-rel:", len(rels)), StartElementId: from.ElementId, EndElementId: to.ElementId, Type: typ, Props: props})
	}
	node := func(id string) (dbtype.Node, error) {
		n, ok := nodes[id]
		if !ok {
			return n, fmt.Errorf("graph: run document: %s was not read", id)
		}
		return n, nil
	}
	named := map[string]dbtype.Node{}
	for _, k := range []string{"wf", "model", "modeller", "org", "study"} {
		if ref, _ := p[k].(string); ref != "" {
			n, err := node(ref)
			if err != nil {
				return nil, err
			}
			named[k] = n
		}
	}
	start, end, now := p["start"], p["end"], p["now"]
	link(r, user, "WAS_ATTRIBUTED_TO", map[string]any{"role": p["role"], "time": now})
	link(r, named["modeller"], "WAS_ASSOCIATED_WITH", map[string]any{"role": "modeller", "plan": p["wf"], "time": start})
	link(r, named["wf"], "WAS_INFLUENCED_BY", map[string]any{"role": "plan", "time": start})
	link(r, named["model"], "USED", map[string]any{"role": "model", "time": start})
	if prev != nil {
		prev := *prev
		prev.Labels = slices.Concat(slices.DeleteFunc(slices.Clone(prev.Labels), func(l string) bool { return l == "Record" }), []string{"Revision"})
		link(r, prev, "WAS_REVISION_OF", map[string]any{"time": now})
	}
	for _, i := range p["inputs"].([]map[string]any) {
		d, err := node(i["id"].(string))
		if err != nil {
			return nil, err
		}
		link(r, d, "USED", map[string]any{"role": i["role"], "time": start})
	}
	for _, o := range p["outputs"].([]map[string]any) {
		d, err := node(o["id"].(string))
		if err != nil {
			return nil, err
		}
		link(d, r, "WAS_GENERATED_BY", map[string]any{"role": o["role"], "time": end})
		link(d, named["modeller"], "WAS_ATTRIBUTED_TO", map[string]any{"role": "modeller", "activity": id, "time": end})
	}
	if org, ok := named["org"]; ok {
		link(named["modeller"], org, "ACTED_ON_BEHALF_OF", map[string]any{"activity": id, "time": start})
	}
	if study, ok := named["study"]; ok {
		link(r, study, "WAS_INFORMED_BY", map[string]any{"role": "study"})
	}
	ns := make([]any, 0, len(all))
	for _, n := range all {
		ns = append(ns, n)
	}
	return toDocument(ns, rels), nil
}

// newRunNode is the node writeRunsCypher creates for a run, as a read would return it.
func newRunNode(p map[string]any) dbtype.Node {
	props := map[string]any{}
	for k, v := range p["props"].(map[string]any) {
		props[k] = v
	}
	if v, ok := props["version"].(int); ok {
		props["version"] = int64(v)
	}
	return dbtype.Node{ElementId: "new:" + p["id"].(string), Labels: []string{"Record", "ModelRun", "Activity"}, Props: props}
}

// provJSON encodes one document as PROV-JSON.
func provJSON(doc *prov.Document, base string) (string, error) {
	var b bytes.Buffer
	enc := prov.NewPROVJSON(&b, base)
	if err := enc.Encode(doc); err != nil {
		enc.Close()
		return "", err
	}
	if err := enc.Close(); err != nil {
		return "", err
	}
	return b.String(), nil
}
