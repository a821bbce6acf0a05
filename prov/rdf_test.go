package prov_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/knakk/rdf"
	"github.com/piprate/json-gold/ld"

	"provgraph/prov"
)

// Triples are compared as canonical N-Triples-like strings. Our encoders write no
// blank nodes (qualified nodes have IRIs), so the sets compare exactly; a blank
// node would be reported rather than silently renamed.

const (
	xsdString   = "http://www.w3.org/2001/XMLSchema#string"
	contextURL  = "https://w3id.org/provgraph/context.jsonld"
	rdfTypeIRI  = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
	provNS      = "http://www.w3.org/ns/prov#"
	xsdDateTime = "http://www.w3.org/2001/XMLSchema#dateTime"
)

func literalKey(value, datatype, lang string) string {
	if lang != "" {
		return strconv.Quote(value) + "@" + lang
	}
	if datatype == "" {
		datatype = xsdString
	}
	return strconv.Quote(value) + "^^<" + datatype + ">"
}

func knakkTerm(t rdf.Term) (string, error) {
	switch v := t.(type) {
	case rdf.IRI:
		return "<" + v.String() + ">", nil
	case rdf.Literal:
		return literalKey(v.String(), v.DataType.String(), v.Lang()), nil
	}
	return "", fmt.Errorf("unexpected term %T %v (blank node?)", t, t)
}

// turtleTriples parses Turtle with knakk/rdf's decoder.
func turtleTriples(data []byte) (map[string]bool, error) {
	ts, err := rdf.NewTripleDecoder(bytes.NewReader(data), rdf.Turtle).DecodeAll()
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, tr := range ts {
		var parts [3]string
		for i, term := range []rdf.Term{tr.Subj, tr.Pred, tr.Obj} {
			if parts[i], err = knakkTerm(term); err != nil {
				return nil, err
			}
		}
		out[parts[0]+" "+parts[1]+" "+parts[2]] = true
	}
	return out, nil
}

// offlineLoader serves the provgraph context at contextURL and refuses every
// other URL, so no test ever reaches the network.
type offlineLoader struct{ base string }

func (l offlineLoader) LoadDocument(u string) (*ld.RemoteDocument, error) {
	if u != contextURL {
		return nil, fmt.Errorf("offline test loader: refusing to fetch %s", u)
	}
	doc, err := ld.DocumentFromReader(bytes.NewReader(prov.Context(l.base)))
	if err != nil {
		return nil, err
	}
	return &ld.RemoteDocument{DocumentURL: u, Document: doc}, nil
}

func goldTerm(n ld.Node) (string, error) {
	switch v := n.(type) {
	case ld.IRI:
		return "<" + v.Value + ">", nil
	case ld.Literal:
		return literalKey(v.Value, v.Datatype, v.Language), nil
	}
	return "", fmt.Errorf("unexpected node %T %v (blank node?)", n, n)
}

// jsonldTriples converts JSON-LD to RDF with json-gold in safe mode (it fails
// instead of dropping what it cannot map).
func jsonldTriples(data []byte, base string) (map[string]bool, error) {
	var doc any
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	opts := ld.NewJsonLdOptions("")
	opts.DocumentLoader = offlineLoader{base}
	opts.SafeMode = true
	res, err := ld.NewJsonLdProcessor().ToRDF(doc, opts)
	if err != nil {
		return nil, err
	}
	ds := res.(*ld.RDFDataset)
	out := map[string]bool{}
	for name, quads := range ds.Graphs {
		if name != "@default" && len(quads) > 0 {
			return nil, fmt.Errorf("unexpected named graph %s", name)
		}
		for _, q := range quads {
			var parts [3]string
			for i, n := range []ld.Node{q.Subject, q.Predicate, q.Object} {
				if parts[i], err = goldTerm(n); err != nil {
					return nil, err
				}
			}
			out[parts[0]+" "+parts[1]+" "+parts[2]] = true
		}
	}
	return out, nil
}

func MustTurtleTriples(t testing.TB, data []byte) map[string]bool {
	t.Helper()
	ts, err := turtleTriples(data)
	if err != nil {
		t.Fatalf("knakk/rdf cannot parse our Turtle: %v\n%s", err, data)
	}
	return ts
}

func MustJSONLDTriples(t testing.TB, data []byte, base string) map[string]bool {
	t.Helper()
	ts, err := jsonldTriples(data, base)
	if err != nil {
		t.Fatalf("json-gold cannot convert our JSON-LD: %v\n%s", err, data)
	}
	return ts
}

// diffSets describes how two triple sets differ, or returns "".
func diffSets(aName string, a map[string]bool, bName string, b map[string]bool) string {
	var onlyA, onlyB []string
	for k := range a {
		if !b[k] {
			onlyA = append(onlyA, k)
		}
	}
	for k := range b {
		if !a[k] {
			onlyB = append(onlyB, k)
		}
	}
	if len(onlyA) == 0 && len(onlyB) == 0 {
		return ""
	}
	sort.Strings(onlyA)
	sort.Strings(onlyB)
	var s strings.Builder
	fmt.Fprintf(&s, "%s has %d triples, %s has %d\n", aName, len(a), bName, len(b))
	for i, k := range onlyA {
		if i == 10 {
			break
		}
		fmt.Fprintf(&s, "  only in %s: %s\n", aName, k)
	}
	for i, k := range onlyB {
		if i == 10 {
			break
		}
		fmt.Fprintf(&s, "  only in %s: %s\n", bName, k)
	}
	return s.String()
}

// chunks splits a document into several Encode calls, relations before some of
// the nodes they mention, as a streamed export may.
func chunks(doc *prov.Document) []*prov.Document {
	n, r := len(doc.Nodes), len(doc.Relations)
	return []*prov.Document{
		{Relations: doc.Relations[:r/2]},
		{Nodes: doc.Nodes[:n/3]},
		{Nodes: doc.Nodes[n/3 : 2*n/3], Relations: doc.Relations[r/2:]},
		{},
		{Nodes: doc.Nodes[2*n/3:]},
	}
}

func TestTurtleAndJSONLDDescribeTheSameGraph(t *testing.T) {
	for _, base := range []string{prov.ExampleBase, "https://example.org/prov#", "urn:x-provgraph:"} {
		t.Run(base, func(t *testing.T) {
			ttl := MustTurtleTriples(t, MustEncode(t, prov.FormatTurtle, base, prov.ExampleDocument()))
			jld := MustJSONLDTriples(t, MustEncode(t, prov.FormatJSONLD, base, prov.ExampleDocument()), base)
			if d := diffSets("Turtle", ttl, "JSON-LD", jld); d != "" {
				t.Fatal(d)
			}
			ttlChunked := MustTurtleTriples(t, MustEncode(t, prov.FormatTurtle, base, chunks(prov.ExampleDocument())...))
			jldChunked := MustJSONLDTriples(t, MustEncode(t, prov.FormatJSONLD, base, chunks(prov.ExampleDocument())...), base)
			if d := diffSets("Turtle", ttl, "chunked Turtle", ttlChunked); d != "" {
				t.Error(d)
			}
			if d := diffSets("Turtle", ttl, "chunked JSON-LD", jldChunked); d != "" {
				t.Error(d)
			}
		})
	}
}

// TestGraphContent checks the graph against statements written out by hand from
// the fixture, so a fault both encoders share cannot hide.
func TestGraphContent(t *testing.T) {
	base := prov.ExampleBase
	iri := func(id string) string { return "<" + base + id + ">" }
	p := func(local string) string { return "<" + provNS + local + ">" }
	ttl := MustTurtleTriples(t, MustEncode(t, prov.FormatTurtle, base, prov.ExampleDocument()))

	run1 := iri("local/01JD3Z6W4M2X3Q5V7B9N1C8K0T")
	d1 := iri("local/01JD3Z6W4M2X3Q5V7B9N1C8K0M")
	d3 := iri("10378.1/streamflow%202024%23final")
	artifact := iri("local/01JD3Z6W4M2X3Q5V7B9N1C8K0R/outputs/flow%3Cdaily%3E%C3%BC.csv")
	tplIn := iri("local/01JD3Z6W4M2X3Q5V7B9N1C8K0G")
	want := []string{
		run1 + " <" + rdfTypeIRI + "> " + p("Activity"),
		run1 + " <" + rdfTypeIRI + "> <" + prov.NS + "ModelRun>",
		run1 + " " + p("startedAtTime") + " " + literalKey("2024-11-19T22:15:02.123456789Z", xsdDateTime, ""),
		run1 + " " + p("endedAtTime") + " " + literalKey("2024-11-19T23:40:11.5Z", xsdDateTime, ""),
		run1 + " " + p("used") + " " + d1,
		run1 + " <" + prov.NS + "state> " + literalKey("SUCCEEDED", "", ""),
		d3 + " " + p("hadMember") + " " + artifact,
		d3 + " <" + rdfTypeIRI + "> " + p("Collection"),
		iri("local/01JD3Z6W4M2X3Q5V7B9N1C8K0C") + " <http://www.w3.org/2000/01/rdf-schema#label> " + literalKey("Ana \"the analyst\" López\nHydrology, 水文", "", ""),
		iri("local/01JD3Z6W4M2X3Q5V7B9N1C8K0N") + " <" + prov.NS + "note> " + literalKey("bell\x07 and back\\slash", "", ""),
		iri("local/01JD3Z6W4M2X3Q5V7B9N1C8K0M") + " <" + prov.NS + "dc:format> " + literalKey("text/csv", "", ""),
		iri("local/01JD3Z6W4M2X3Q5V7B9N1C8K0F") + " <" + prov.NS + "version> " + literalKey("2", "http://www.w3.org/2001/XMLSchema#integer", ""),
		iri("local/01JD3Z6W4M2X3Q5V7B9N1C8K0F") + " " + p("wasRevisionOf") + " " + iri("local/01JD3Z6W4M2X3Q5V7B9N1C8K0E"),
	}
	for _, w := range want {
		if !ttl[w] {
			t.Errorf("missing %s", w)
		}
	}

	// The qualified usage of d1 by run1: typed, with entity, role and time.
	r := prov.Relation{Type: prov.Used, From: prov.ExRun1, To: prov.ExD1, Role: prov.ExTplIn, Time: prov.ExampleDocument().Nodes[14].StartedAt}
	q := "<" + prov.QualifiedIRI(base, &r) + ">"
	if !strings.HasPrefix(q, run1[:len(run1)-1]+"#usage-") {
		t.Errorf("qualified usage IRI %s is not under %s", q, run1)
	}
	for _, w := range []string{
		run1 + " " + p("qualifiedUsage") + " " + q,
		q + " <" + rdfTypeIRI + "> " + p("Usage"),
		q + " " + p("entity") + " " + d1,
		q + " " + p("hadRole") + " " + tplIn,
		q + " " + p("atTime") + " " + literalKey("2024-11-19T22:15:02.123456789Z", xsdDateTime, ""),
	} {
		if !ttl[w] {
			t.Errorf("missing %s", w)
		}
	}

	// Counts per predicate: one binary triple per relation, one qualified node per
	// qualifiable relation.
	count := map[string]int{}
	for tr := range ttl {
		count[strings.Fields(tr)[1]]++
	}
	for pred, n := range map[string]int{
		p("used"): 4, p("qualifiedUsage"): 4, p("wasGeneratedBy"): 3, p("qualifiedGeneration"): 3,
		p("wasAssociatedWith"): 5, p("qualifiedAssociation"): 5, p("hadPlan"): 2,
		p("wasAttributedTo"): 3, p("actedOnBehalfOf"): 1, p("wasDerivedFrom"): 2, p("wasRevisionOf"): 1,
		p("qualifiedRevision"): 1, p("wasInformedBy"): 3, p("wasInfluencedBy"): 1, p("qualifiedInfluence"): 1,
		p("hadMember"): 1, p("wasInvalidatedBy"): 1, p("invalidatedAtTime"): 1, p("generatedAtTime"): 2,
		p("wasStartedBy"): 1, p("qualifiedStart"): 1, p("wasEndedBy"): 1, p("qualifiedEnd"): 1,
		p("startedAtTime"): 4, p("endedAtTime"): 4, "<http://www.w3.org/2000/01/rdf-schema#label>": 17,
	} {
		if count[pred] != n {
			t.Errorf("%s: %d triples, want %d", pred, count[pred], n)
		}
	}
}

// TestContextDocument: a JSON-LD document that refers to the context by URL,
// resolved by the offline loader to Context(base), gives the same graph as the
// embedded context. This checks the servable context document.
func TestContextDocument(t *testing.T) {
	base := prov.ExampleBase
	data := MustEncode(t, prov.FormatJSONLD, base, prov.ExampleDocument())
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	var ctx map[string]any
	if err := json.Unmarshal(prov.Context(base), &ctx); err != nil {
		t.Fatalf("Context is not JSON: %v", err)
	}
	embedded, _ := json.Marshal(doc["@context"])
	served, _ := json.Marshal(ctx["@context"])
	if !bytes.Equal(embedded, served) {
		t.Errorf("embedded context differs from Context():\n%s\n%s", embedded, served)
	}
	doc["@context"] = contextURL
	byURL, _ := json.Marshal(doc)
	if d := diffSets("embedded", MustJSONLDTriples(t, data, base), "by URL", MustJSONLDTriples(t, byURL, base)); d != "" {
		t.Error(d)
	}
	// And the loader really is offline.
	doc["@context"] = "https://example.org/elsewhere.jsonld"
	elsewhere, _ := json.Marshal(doc)
	if _, err := jsonldTriples(elsewhere, base); err == nil {
		t.Error("the offline loader fetched a context it does not hold")
	}
}
