package lineage

import (
	"encoding/xml"
	"net/url"
	"strings"
	"testing"

	"provgraph"
)

func TestParseQuery(t *testing.T) {
	p, _ := url.ParseQuery("direction=downstream&depth=7&kinds=Dataset,ModelRun,Dataset&include_agents=true&limit=20")
	q, err := ParseQuery("x/01", p, 50)
	if err != nil || q.Direction != Downstream || q.Depth != 7 || strings.Join(q.Kinds, ",") != "Dataset,ModelRun" || !q.IncludeAgents || q.Limit != 20 {
		t.Fatalf("%+v %v", q, err)
	}
	if q, _ := ParseQuery("x", url.Values{"include_invalidated": {"true"}}, 50); !q.IncludeInvalidated {
		t.Fatalf("include_invalidated=true: %+v", q)
	}
	if q, _ := ParseQuery("x", nil, 50); q.Direction != Upstream || q.Depth != DefaultDepth || q.Limit != DefaultLimit || q.IncludeInvalidated {
		t.Fatalf("defaults %+v", q)
	}
	for raw, status := range map[string]int{"depth=0": 422, "depth=51": 422, "depth=x": 400, "direction=sideways": 400, "kinds=Data-set": 400,
		"limit=0": 400, "include_agents=maybe": 400, "include_invalidated=yes please": 400, "colour=red": 400} {
		p, _ := url.ParseQuery(raw)
		_, err := ParseQuery("x", p, 50)
		e, ok := err.(*provgraph.Error)
		got := 0
		if ok {
			got = e.Status
			if got == 0 && e.Code == provgraph.Invalid {
				got = 422
			}
		}
		if got != status {
			t.Errorf("%s: %v, want %d", raw, err, status)
		}
	}
}

func sample() Result {
	return Result{Root: "d/3", Direction: "upstream", Depth: 3,
		Nodes: []Node{{ID: "d/3", Kind: "Dataset", Name: `out "final"`}, {ID: "r/2", Kind: "ModelRun", Name: "run\nlabel"}, {ID: "d/1", Kind: "Dataset", Name: "in"}},
		Edges: []Edge{{From: "d/3", To: "r/2", Type: "WAS_GENERATED_BY"}, {From: "r/2", To: "d/1", Type: "USED", Role: "forcing"}}}
}

func TestDOT(t *testing.T) {
	var b strings.Builder
	if err := DOT(&b, sample()); err != nil {
		t.Fatal(err)
	}
	dot := b.String()
	for _, want := range []string{"rankdir=LR", `"d/3" -> "r/2"`, `label="USED\nforcing"`, `out \"final\"`, `run\nlabel`, "cluster_legend", Colour("ModelRun"), "penwidth=3"} {
		if !strings.Contains(dot, want) {
			t.Errorf("DOT lacks %q:\n%s", want, dot)
		}
	}
	if strings.Count(dot, "{") != strings.Count(dot, "}") || strings.Contains(dot, "\nlabel") {
		t.Errorf("DOT is not well formed:\n%s", dot)
	}
}

func TestTree(t *testing.T) {
	tree := Tree(sample())
	want := "out \"final\" [Dataset] d/3\n  WAS_GENERATED_BY ← run label [ModelRun] r/2\n    USED ← in [Dataset] d/1\n"
	if tree != want {
		t.Fatalf("tree:\n%q\nwant\n%q", tree, want)
	}
}

func TestSVG(t *testing.T) {
	var b strings.Builder
	r := sample()
	r.Nodes = append(r.Nodes, Node{ID: "x/<script>", Kind: "Person", Name: "<b>&"})
	if err := SVG(&b, r); err != nil {
		t.Fatal(err)
	}
	svg := b.String()
	dec := xml.NewDecoder(strings.NewReader(svg))
	rects, texts := 0, []string{}
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		switch x := tok.(type) {
		case xml.StartElement:
			if x.Name.Local == "rect" {
				rects++
			}
		case xml.CharData:
			texts = append(texts, string(x))
		}
	}
	if _, err := xml.NewDecoder(strings.NewReader(svg)).Token(); err != nil || !strings.HasSuffix(svg, "</svg>") {
		t.Fatalf("not well formed: %v", err)
	}
	all := strings.Join(texts, "|")
	// 4 node boxes + 3 legend swatches; names escaped; the input is left of what used it.
	if rects != 7 || !strings.Contains(all, "<b>&") || !strings.Contains(all, "ModelRun") || strings.Contains(svg, "<script>") {
		t.Fatalf("rects %d, texts %q\n%s", rects, all, svg)
	}
	l := layers(sample())
	if !(l["d/1"] < l["r/2"] && l["r/2"] < l["d/3"]) {
		t.Fatalf("layers %v", l)
	}
}

// With kinds asked for, the run between two datasets is left out, and with it the edges
// that joined them; the tree still shows every node of the answer.
func TestTreeShowsNodesKindsDisconnected(t *testing.T) {
	r := sample()
	r.Nodes = []Node{r.Nodes[0], r.Nodes[2]}
	r.Edges = nil
	tree := Tree(r)
	if !strings.Contains(tree, "d/3") || !strings.Contains(tree, "also reached, through kinds not shown:\n  in [Dataset] d/1") {
		t.Fatalf("tree:\n%s", tree)
	}
	if strings.Contains(Tree(sample()), "also reached") {
		t.Fatalf("a connected answer has nothing else:\n%s", Tree(sample()))
	}
}
