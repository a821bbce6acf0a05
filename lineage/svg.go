package lineage

import (
	"encoding/xml"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Layout sizes of SVG pictures, in pixels.
const (
	boxW, boxH   = 180, 44
	colGap       = 90
	rowGap       = 22
	margin       = 20
	legendHeight = 28
)

// SVG draws a result left to right, earlier things on the left (PROV arrows point from
// the later to the earlier), boxes coloured by kind, with a legend. It needs nothing but
// the result: no Graphviz, no network.
func SVG(w io.Writer, r Result) error {
	layer := layers(r)
	cols := map[int][]Node{}
	maxLayer := 0
	for _, n := range r.Nodes {
		l := layer[n.ID]
		cols[l] = append(cols[l], n)
		maxLayer = max(maxLayer, l)
	}
	rows := 0
	pos := map[string][2]int{}
	for l := 0; l <= maxLayer; l++ {
		col := cols[l]
		slices.SortFunc(col, func(a, b Node) int { return strings.Compare(a.Kind+a.Name+a.ID, b.Kind+b.Name+b.ID) })
		for i, n := range col {
			pos[n.ID] = [2]int{margin + l*(boxW+colGap), margin + legendHeight + i*(boxH+rowGap)}
		}
		rows = max(rows, len(col))
	}
	width := margin*2 + (maxLayer+1)*boxW + maxLayer*colGap
	height := margin*2 + legendHeight + max(rows, 1)*(boxH+rowGap)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="Helvetica, Arial, sans-serif" font-size="12">`, width, height, width, height)
	b.WriteString(`<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/></marker></defs>`)
	// Legend: the kinds present.
	var kinds []string
	for _, n := range r.Nodes {
		if !slices.Contains(kinds, n.Kind) {
			kinds = append(kinds, n.Kind)
		}
	}
	slices.Sort(kinds)
	x := margin
	b.WriteString(`<g class="legend">`)
	for _, k := range kinds {
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="12" height="12" rx="2" fill="%s"/><text x="%d" y="%d">%s</text>`, x, margin, Colour(k), x+16, margin+10, esc(k))
		x += 24 + 7*len(k)
	}
	b.WriteString(`</g>`)
	// Edges first, so boxes sit on top. Arrows point the PROV way: from the dependent
	// (right) to what it depends on (left).
	for _, e := range r.Edges {
		from, ok1 := pos[e.From]
		to, ok2 := pos[e.To]
		if !ok1 || !ok2 {
			continue
		}
		x1, y1 := from[0], from[1]+boxH/2
		x2, y2 := to[0]+boxW, to[1]+boxH/2
		if from[0] <= to[0] { // same column or a cycle: connect the nearer sides
			x1, x2 = from[0]+boxW, to[0]
		}
		fmt.Fprintf(&b, `<line class="edge" x1="%d" y1="%d" x2="%d" y2="%d" stroke="#555" marker-end="url(#arrow)"><title>%s</title></line>`, x1, y1, x2, y2, esc(e.Type+" "+e.Role))
	}
	for _, n := range r.Nodes {
		p := pos[n.ID]
		stroke, sw := "#333", 1
		if n.ID == r.Root {
			stroke, sw = "#000", 3
		}
		label := n.Name
		if label == "" {
			label = n.ID
		}
		if len([]rune(label)) > 26 {
			label = string([]rune(label)[:25]) + "…"
		}
		fmt.Fprintf(&b, `<g class="node" data-id="%s" data-kind="%s"><title>%s</title>`, esc(n.ID), esc(n.Kind), esc(n.ID))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" rx="6" fill="%s" stroke="%s" stroke-width="%d"/>`, p[0], p[1], boxW, boxH, Colour(n.Kind), stroke, sw)
		fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#fff" font-weight="bold">%s</text>`, p[0]+8, p[1]+18, esc(label))
		sub := n.Kind
		if n.State != "" {
			sub += " · " + n.State
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#fff">%s</text></g>`, p[0]+8, p[1]+34, esc(sub))
	}
	if r.Truncated {
		fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#a00">truncated: more lineage than the limit</text>`, margin, height-6)
	}
	b.WriteString(`</svg>`)
	_, err := io.WriteString(w, b.String())
	return err
}

// layers places each node in a column: the longest chain of edges below it, so that what
// a thing depends on is always to its left. Cycles (which PROV forbids but data may hold)
// are cut at the first repeat.
func layers(r Result) map[string]int {
	deps := map[string][]string{}
	for _, e := range r.Edges {
		deps[e.From] = append(deps[e.From], e.To)
	}
	layer := map[string]int{}
	visiting := map[string]bool{}
	var place func(id string) int
	place = func(id string) int {
		if l, ok := layer[id]; ok {
			return l
		}
		if visiting[id] {
			return 0
		}
		visiting[id] = true
		l := 0
		for _, d := range deps[id] {
			l = max(l, place(d)+1)
		}
		visiting[id] = false
		layer[id] = l
		return l
	}
	for _, n := range r.Nodes {
		place(n.ID)
	}
	return layer
}

func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
