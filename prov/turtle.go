package prov

import (
	"errors"
	"io"
	"strings"
)

// MediaTurtle and the other media types the encoders write.
const (
	MediaTurtle   = "text/turtle"
	MediaJSONLD   = "application/ld+json"
	MediaPROVJSON = "application/json"
)

var errClosed = errors.New("prov: encoder is closed")

// NewTurtle returns an encoder writing Turtle. Record IRIs are written in full
// (<…>), never as prefixed names, because ids contain '/'. Each Encode call
// writes one sorted block of statements; the prefix header comes first, also
// for an empty document.
func NewTurtle(w io.Writer, base string) Encoder {
	return &turtleEncoder{w: stickyWriter{w: w}, base: base}
}

type turtleEncoder struct {
	w       stickyWriter
	base    string
	started bool
	closed  bool
}

func (e *turtleEncoder) header(b *strings.Builder) {
	if e.started {
		return
	}
	e.started = true
	for _, p := range prefixes {
		b.WriteString("@prefix " + p.name + ": ")
		turtleIRI(b, p.ns)
		b.WriteString(" .\n")
	}
}

func (e *turtleEncoder) Encode(doc *Document) error {
	if err := ready(e.closed, e.w.err, e.base, doc); err != nil {
		return err
	}
	var b strings.Builder
	e.header(&b)
	for _, s := range buildGraph(doc, e.base) {
		b.WriteByte('\n')
		writeTurtleSubject(&b, &s)
	}
	e.w.write([]byte(b.String()))
	return e.w.err
}

func (e *turtleEncoder) Close() error {
	if e.closed {
		return e.w.err
	}
	e.closed = true
	var b strings.Builder
	e.header(&b)
	e.w.write([]byte(b.String()))
	return e.w.err
}

func writeTurtleSubject(b *strings.Builder, s *subject) {
	turtleIRI(b, s.iri)
	sep := ""
	if len(s.types) > 0 {
		b.WriteString(" a ")
		for i, t := range s.types {
			if i > 0 {
				b.WriteString(", ")
			}
			turtleTerm(b, t)
		}
		sep = " ;\n    "
	} else {
		sep = " "
	}
	for _, po := range s.props {
		b.WriteString(sep)
		sep = " ;\n    "
		turtleTerm(b, po.pred)
		b.WriteByte(' ')
		for i, o := range po.objs {
			if i > 0 {
				b.WriteString(", ")
			}
			if !o.lit {
				turtleTerm(b, o.value)
				continue
			}
			turtleString(b, o.value)
			if o.dt != "" {
				b.WriteString("^^")
				turtleTerm(b, o.dt)
			}
		}
	}
	b.WriteString(" .\n")
}

// turtleTerm writes an IRI as a prefixed name when that is safe, else in full.
func turtleTerm(b *strings.Builder, iri string) {
	if c := compact(iri); c != "" {
		b.WriteString(c)
		return
	}
	turtleIRI(b, iri)
}
