package prov_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"provgraph/prov"
)

func TestValidate(t *testing.T) {
	now := time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC)
	node := func(mod func(*prov.Node)) *prov.Document {
		n := prov.Node{ID: "a/1", Class: prov.Entity, Kind: "Dataset"}
		mod(&n)
		return &prov.Document{Nodes: []prov.Node{n}}
	}
	rel := func(r prov.Relation) *prov.Document { return &prov.Document{Relations: []prov.Relation{r}} }
	tests := []struct {
		name string
		doc  *prov.Document
		want string // "" = valid; else a substring of the error
	}{
		{"example", prov.ExampleDocument(), ""},
		{"empty", &prov.Document{}, ""},
		{"no id", node(func(n *prov.Node) { n.ID = "" }), "empty id"},
		{"bad class", node(func(n *prov.Node) { n.Class = "Thing" }), "class"},
		{"bad kind", node(func(n *prov.Node) { n.Kind = "Data set" }), "kind"},
		{"unknown prefix", node(func(n *prov.Node) { n.Types = []string{"foaf:Person"} }), "prefix"},
		{"not a CURIE", node(func(n *prov.Node) { n.Types = []string{"Person"} }), "CURIE"},
		{"pg type", node(func(n *prov.Node) { n.Types = []string{"pg:Thing"} }), ""},
		{"negative version", node(func(n *prov.Node) { n.Version = -1 }), "version"},
		{"entity start", node(func(n *prov.Node) { n.StartedAt = &now }), "start"},
		{"activity generated", node(func(n *prov.Node) { n.Class = prov.Activity; n.GeneratedAt = &now }), "generation"},
		{"empty attr key", node(func(n *prov.Node) { n.Attrs = map[string]string{"": "x"} }), "attribute"},
		{"unknown relation", rel(prov.Relation{Type: "wasQuotedFrom", From: "a/1", To: "a/2"}), "unknown relation"},
		{"missing end", rel(prov.Relation{Type: prov.Used, From: "a/1"}), "both ends"},
		{"role on attribution", rel(prov.Relation{Type: prov.WasAttributedTo, From: "a/1", To: "a/2", Role: "x"}), "role"},
		{"time on derivation", rel(prov.Relation{Type: prov.WasDerivedFrom, From: "a/1", To: "a/2", Time: &now}), "time"},
		{"plan on usage", rel(prov.Relation{Type: prov.Used, From: "a/1", To: "a/2", Plan: "p/1"}), "plan"},
		{"role and time on start", rel(prov.Relation{Type: prov.WasStartedBy, From: "a/1", To: "a/2", Role: "x", Time: &now}), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.doc.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Validate = %v, want an error about %q", err, tt.want)
			}
			if tt.want == "" {
				return
			}
			// Every encoder refuses the chunk and writes nothing for it.
			for _, f := range prov.Formats() {
				var b bytes.Buffer
				enc, _ := prov.NewEncoder(f, &b, prov.ExampleBase)
				if err := enc.Encode(tt.doc); err == nil {
					t.Errorf("%s encoded an invalid document", f)
				}
				if b.Len() != 0 {
					t.Errorf("%s wrote %q for an invalid chunk", f, b.String())
				}
				enc.Close()
			}
		})
	}
}

func TestBase(t *testing.T) {
	for _, base := range []string{"", "relative/", "https://ex.org/a b/", "https://ex.org/<id>/", "id:x/", "prov:x/", prov.NS, prov.NS + "records/"} {
		for _, f := range prov.Formats() {
			enc, _ := prov.NewEncoder(f, &bytes.Buffer{}, base)
			err := enc.Encode(prov.ExampleDocument())
			if err == nil {
				err = enc.Close()
			}
			if err == nil {
				t.Errorf("%s accepted base %q", f, base)
			}
		}
	}
}

func TestEscapeID(t *testing.T) {
	tests := []struct{ id, want string }{
		{"local/01JD3Z6W4M2X3Q5V7B9N1C8K0E", "local/01JD3Z6W4M2X3Q5V7B9N1C8K0E"},
		{"10378.1/abc", "10378.1/abc"},
		{"a b", "a%20b"},
		{"100%", "100%25"},
		{"x#y?z", "x%23y%3Fz"},
		{`<>"{}|^` + "`\\", "%3C%3E%22%7B%7D%7C%5E%60%5C"},
		{"ü", "%C3%BC"},
		{"a:b@c!$&'()*+,;=-._~", "a:b@c!$&'()*+,;=-._~"},
		{"\x00\n\x7f", "%00%0A%7F"},
	}
	for _, tt := range tests {
		if got := prov.EscapeID(tt.id); got != tt.want {
			t.Errorf("EscapeID(%q) = %q, want %q", tt.id, got, tt.want)
		}
	}
	for _, bad := range []string{"%", "%2", "%zz", "%41", "%2f", "a b", "x#y"} {
		if got, err := prov.UnescapeID(bad); err == nil {
			t.Errorf("UnescapeID(%q) = %q, want an error", bad, got)
		}
	}
	if _, ok := prov.IDFromIRI(prov.ExampleBase, "https://elsewhere.org/x"); ok {
		t.Error("IDFromIRI accepted an IRI under another base")
	}
}

func TestTurtleString(t *testing.T) {
	tests := []struct{ in, want string }{
		{`plain`, `"plain"`},
		{`say "hi"`, `"say \"hi\""`},
		{`back\slash`, `"back\\slash"`},
		{"l1\nl2\r\t\b\f", `"l1\nl2\r\t\b\f"`},
		{"bell\x07 nul\x00 del\x7f", `"bell\u0007 nul\u0000 del\u007F"`},
		{"水文 🚀", `"水文 🚀"`},
		{"bad\xffutf8", "\"bad\uFFFDutf8\""},
	}
	for _, tt := range tests {
		if got := prov.TurtleString(tt.in); got != tt.want {
			t.Errorf("TurtleString(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestRelTypes(t *testing.T) {
	if got := len(prov.RelTypes()); got != 13 {
		t.Errorf("%d relation types, want 13", got)
	}
	for _, rt := range prov.RelTypes() {
		for _, name := range []string{string(rt), rt.Neo4j()} {
			if got, ok := prov.ParseRelType(name); !ok || got != rt {
				t.Errorf("ParseRelType(%q) = %q, %v", name, got, ok)
			}
		}
	}
	if got := prov.WasGeneratedBy.Neo4j(); got != "WAS_GENERATED_BY" {
		t.Errorf("Neo4j() = %q", got)
	}
	if got := prov.ActedOnBehalfOf.Neo4j(); got != "ACTED_ON_BEHALF_OF" {
		t.Errorf("Neo4j() = %q", got)
	}
	if _, ok := prov.ParseRelType("WAS_QUOTED_FROM"); ok {
		t.Error("ParseRelType accepted an unknown type")
	}
}

func TestQualifiedIRI(t *testing.T) {
	at := time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC)
	other := at.Add(time.Nanosecond)
	r := prov.Relation{Type: prov.Used, From: "run/1", To: "d/1", Role: "in", Time: &at}
	base := prov.ExampleBase
	q := prov.QualifiedIRI(base, &r)
	if !strings.HasPrefix(q, base+"run/1#usage-") || len(q) != len(base+"run/1#usage-")+16 {
		t.Errorf("QualifiedIRI = %q", q)
	}
	same := r
	zone := at.In(time.FixedZone("X", 3600))
	same.Time = &zone // the same instant in another zone
	if got := prov.QualifiedIRI(base, &same); got != q {
		t.Errorf("the same relation got %q and %q", q, got)
	}
	for _, mod := range []func(*prov.Relation){
		func(r *prov.Relation) { r.To = "d/2" },
		func(r *prov.Relation) { r.Role = "out" },
		func(r *prov.Relation) { r.Time = &other },
		func(r *prov.Relation) { r.Time = nil },
	} {
		d := r
		mod(&d)
		if prov.QualifiedIRI(base, &d) == q {
			t.Errorf("%+v shares the qualified IRI of %+v", d, r)
		}
	}
	if got := prov.QualifiedIRI(base, &prov.Relation{Type: prov.HadMember, From: "c/1", To: "e/1"}); got != "" {
		t.Errorf("hadMember has qualified IRI %q", got)
	}
	if got := prov.QualifiedIRI("https://ex.org/ns#", &r); !strings.HasPrefix(got, "https://ex.org/ns#run/1/usage-") {
		t.Errorf("with a fragment in the base: %q", got)
	}
}

func TestEncoderLifecycle(t *testing.T) {
	for _, f := range prov.Formats() {
		t.Run(f, func(t *testing.T) {
			// An empty stream is a valid, empty document.
			empty := MustEncode(t, f, prov.ExampleBase)
			switch f {
			case prov.FormatTurtle:
				if ts := MustTurtleTriples(t, empty); len(ts) != 0 {
					t.Errorf("empty Turtle has %d triples", len(ts))
				}
			case prov.FormatJSONLD:
				if ts := MustJSONLDTriples(t, empty, prov.ExampleBase); len(ts) != 0 {
					t.Errorf("empty JSON-LD has %d triples", len(ts))
				}
			case prov.FormatPROVJSON:
				var m map[string]any
				if err := json.Unmarshal(empty, &m); err != nil || len(m) != 1 || m["prefix"] == nil {
					t.Errorf("empty PROV-JSON %s: %v", empty, err)
				}
			}

			var b bytes.Buffer
			enc, _ := prov.NewEncoder(f, &b, prov.ExampleBase)
			if err := enc.Close(); err != nil {
				t.Fatal(err)
			}
			if err := enc.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
			if err := enc.Encode(prov.ExampleDocument()); err == nil {
				t.Error("Encode after Close succeeded")
			}

			// A failing writer's error comes back and sticks.
			enc, _ = prov.NewEncoder(f, failingWriter{}, prov.ExampleBase)
			err := enc.Encode(prov.ExampleDocument())
			if err == nil {
				err = enc.Close()
			}
			if !errors.Is(err, errWrite) {
				t.Errorf("got %v, want the writer's error", err)
			}
		})
	}
}

var errWrite = errors.New("disk full")

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errWrite }

// TestPROVJSONStreaming: chunks give the same records as one call, and spooling
// to disk gives the same bytes as spooling in memory, leaving no files behind.
func TestPROVJSONStreaming(t *testing.T) {
	whole := provjsonRecords(t, MustEncode(t, prov.FormatPROVJSON, prov.ExampleBase, prov.ExampleDocument()))
	chunked := provjsonRecords(t, MustEncode(t, prov.FormatPROVJSON, prov.ExampleBase, chunks(prov.ExampleDocument())...))
	// Node times become standalone generations only when no relation in the same
	// chunk says the same, so compare everything but those.
	for _, k := range []string{"entity", "activity", "agent", "used", "wasAssociatedWith", "wasDerivedFrom", "hadMember", "wasInformedBy"} {
		if !slices.Equal(whole[k], chunked[k]) {
			t.Errorf("%s: whole %v\nchunked %v", k, whole[k], chunked[k])
		}
	}

	inMemory := encodePROVJSON(t, "", 1<<30)
	dir := t.TempDir()
	var b bytes.Buffer
	enc := prov.NewPROVJSONSpool(&b, prov.ExampleBase, dir, 1)
	for i, c := range chunks(prov.ExampleDocument()) {
		if err := enc.Encode(c); err != nil {
			t.Fatal(err)
		}
		if files, _ := os.ReadDir(dir); i == len(chunks(prov.ExampleDocument()))-1 && len(files) == 0 {
			t.Error("a 1-byte memory limit spooled nothing to disk")
		}
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Bytes(), inMemory) {
		t.Errorf("spooled to disk:\n%s\nin memory:\n%s", b.Bytes(), inMemory)
	}
	if files, _ := os.ReadDir(dir); len(files) != 0 {
		t.Errorf("Close left %d spool files", len(files))
	}
}

func encodePROVJSON(t *testing.T, dir string, limit int) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := prov.NewPROVJSONSpool(&b, prov.ExampleBase, dir, limit)
	for _, c := range chunks(prov.ExampleDocument()) {
		if err := enc.Encode(c); err != nil {
			t.Fatal(err)
		}
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// provjsonRecords maps each section to its records as JSON text, relation ids
// dropped, sorted.
func provjsonRecords(t *testing.T, data []byte) map[string][]string {
	t.Helper()
	var doc map[string]map[string]json.RawMessage
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("PROV-JSON is not JSON: %v", err)
	}
	out := map[string][]string{}
	for section, recs := range doc {
		for id, rec := range recs {
			if strings.HasPrefix(id, "_:") {
				id = ""
			}
			out[section] = append(out[section], id+" "+string(rec))
		}
		slices.Sort(out[section])
	}
	return out
}

// TestPROVJSONRepeatedNode: a record twice in one chunk becomes the submission's
// array of instances under one key, not a repeated JSON key.
func TestPROVJSONRepeatedNode(t *testing.T) {
	doc := &prov.Document{Nodes: []prov.Node{
		{ID: "d/1", Class: prov.Entity, Label: "one"},
		{ID: "d/1", Class: prov.Entity, Label: "two"},
	}}
	var parsed struct {
		Entity map[string]json.RawMessage `json:"entity"`
	}
	out := MustEncode(t, prov.FormatPROVJSON, prov.ExampleBase, doc)
	if err := json.Unmarshal(out, &parsed); err != nil {
		t.Fatal(err)
	}
	var instances []map[string]any
	if err := json.Unmarshal(parsed.Entity["id:d/1"], &instances); err != nil || len(instances) != 2 {
		t.Errorf("want an array of two instances, got %s (%v)", parsed.Entity["id:d/1"], err)
	}
	if n := strings.Count(string(out), `"id:d/1"`); n != 1 {
		t.Errorf("key written %d times", n)
	}
}

// TestLargeVersion: a version beyond float64's exact integers survives JSON-LD.
func TestLargeVersion(t *testing.T) {
	doc := &prov.Document{Nodes: []prov.Node{{ID: "m/1", Class: prov.Entity, Version: 1<<53 + 1}}}
	ttl := MustTurtleTriples(t, MustEncode(t, prov.FormatTurtle, prov.ExampleBase, doc))
	jld := MustJSONLDTriples(t, MustEncode(t, prov.FormatJSONLD, prov.ExampleBase, doc), prov.ExampleBase)
	if d := diffSets("Turtle", ttl, "JSON-LD", jld); d != "" {
		t.Error(d)
	}
}
