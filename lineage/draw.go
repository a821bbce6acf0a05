package lineage

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"unicode"
)

// Colours of kinds in pictures; anything else is grey.
var colours = map[string]string{
	"Dataset": "#4e79a7", "ModelRun": "#f28e2b", "Run": "#e15759", "Model": "#76b7b2",
	"WorkflowTemplate": "#59a14f", "DatasetTemplate": "#8cd17d", "Person": "#b07aa1",
	"Organisation": "#ff9da7", "Study": "#edc948", "Artifact": "#9c755f", "User": "#bab0ac",
}

// Colour is the fill colour of a kind.
func Colour(kind string) string {
	if c, ok := colours[kind]; ok {
		return c
	}
	return "#d3d3d3"
}

// DOT writes a result as a Graphviz digraph, left to right, nodes coloured by kind with a
// legend of the kinds present. Edges point the PROV way (dependent → what it depends on).
func DOT(w io.Writer, r Result) error {
	var b strings.Builder
	b.WriteString("digraph lineage {\n  rankdir=LR;\n  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\"];\n")
	kinds := map[string]bool{}
	for _, n := range r.Nodes {
		kinds[n.Kind] = true
		label := n.Name
		if label == "" {
			label = n.ID
		}
		label = fmt.Sprintf("%s\\n%s", label, n.Kind)
		if n.State != "" {
			label += " · " + n.State
		}
		pen := ""
		if n.ID == r.Root {
			pen = ", penwidth=3"
		}
		fmt.Fprintf(&b, "  %s [label=%s, fillcolor=%s, tooltip=%s%s];\n", dotID(n.ID), dotString(label), dotString(Colour(n.Kind)), dotString(n.ID), pen)
	}
	for _, e := range r.Edges {
		label := e.Type
		if e.Role != "" && !strings.Contains(e.Role, "/") {
			label += "\\n" + e.Role
		}
		fmt.Fprintf(&b, "  %s -> %s [label=%s, fontsize=9];\n", dotID(e.From), dotID(e.To), dotString(label))
	}
	if len(kinds) > 0 {
		names := make([]string, 0, len(kinds))
		for k := range kinds {
			names = append(names, k)
		}
		slices.Sort(names)
		b.WriteString("  subgraph cluster_legend {\n    label=\"legend\";\n    style=dashed;\n")
		for _, k := range names {
			fmt.Fprintf(&b, "    %s [label=%s, fillcolor=%s];\n", dotID("legend:"+k), dotString(k), dotString(Colour(k)))
		}
		b.WriteString("  }\n")
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func dotID(s string) string { return dotString(s) }

// dotString quotes a DOT string: backslashes that are not our \n, quotes and newlines
// escaped, so that no id or name can break out of its attribute.
func dotString(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, `\\n`, `\n`) // our own line breaks survive
	s = strings.ReplaceAll(s, `"`, `\"`)
	s = strings.ReplaceAll(s, "\n", `\n`)
	s = strings.ReplaceAll(s, "\r", "")
	return `"` + s + `"`
}

// Tree renders a result as an indented tree from its root, following edges in the
// result's direction; a node reached again is marked (seen) and not expanded twice.
func Tree(r Result) string {
	byID := map[string]Node{}
	for _, n := range r.Nodes {
		byID[n.ID] = n
	}
	next := map[string][]Edge{}
	for _, e := range r.Edges {
		if r.Direction != string(Downstream) {
			next[e.From] = append(next[e.From], e)
		}
		if r.Direction != string(Upstream) {
			next[e.To] = append(next[e.To], Edge{From: e.To, To: e.From, Type: e.Type + " (of)", Role: e.Role})
		}
	}
	for k := range next {
		slices.SortFunc(next[k], func(a, b Edge) int { return strings.Compare(a.To+a.Type, b.To+b.Type) })
	}
	var b strings.Builder
	seen := map[string]bool{}
	var walk func(id, prefix, via string)
	walk = func(id, prefix, via string) {
		n := byID[id]
		name := strings.Map(func(r rune) rune {
			if unicode.IsControl(r) {
				return ' ' // a name cannot break the tree's lines
			}
			return r
		}, n.Name)
		if name == "" {
			name = id
		}
		line := fmt.Sprintf("%s%s [%s] %s", prefix, name, n.Kind, id)
		if n.State != "" {
			line += " " + n.State
		}
		if via != "" {
			line = fmt.Sprintf("%s%s ← %s", prefix, via, strings.TrimPrefix(line, prefix))
		}
		if seen[id] {
			b.WriteString(line + " (seen)\n")
			return
		}
		seen[id] = true
		b.WriteString(line + "\n")
		for _, e := range next[id] {
			walk(e.To, prefix+"  ", e.Type)
		}
	}
	walk(r.Root, "", "")
	// With kinds asked for, what links a node to the root may not be shown; it is still
	// part of the answer.
	header := false
	for _, n := range r.Nodes {
		if !seen[n.ID] {
			if !header {
				b.WriteString("also reached, through kinds not shown:\n")
				header = true
			}
			walk(n.ID, "  ", "")
		}
	}
	if r.Truncated {
		b.WriteString("… truncated: more lineage than the limit\n")
	}
	return b.String()
}

// Colours is the fill colour of every kind that has one (a copy: pages carry it).
func Colours() map[string]string { return maps.Clone(colours) }
