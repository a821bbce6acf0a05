package server

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"provgraph"
	"provgraph/auth"
	"provgraph/prov"
	"provgraph/registry"
)

// Exporter writes the whole graph as one PROV document and resolves record ids.
type Exporter interface {
	Export(ctx context.Context, enc prov.Encoder, progress func(done, total int64)) error
	// Kind returns the kind label ("Dataset", …) of a record, or a not-found error.
	Kind(ctx context.Context, id string, v registry.Viewer) (string, error)
}

func (s *Server) exportRoutes() []route {
	return []route{
		{Method: "GET", Path: "/api/v1/prov", Transfer: true, Role: auth.Admin, Tag: "prov", Status: http.StatusOK, Produces: []string{"text/turtle", "application/ld+json", "application/json"}, Query: []string{"format"},
			Errors:  []int{http.StatusNotAcceptable},
			Summary: "The whole graph as one PROV document (Turtle, JSON-LD or PROV-JSON by Accept or ?format=), streamed; an error mid-stream truncates it and sets the Export-Error trailer.",
			Handler: s.exportAll},
		// The versions route comes first: the id pattern would swallow "/versions/N".
		{Method: "GET", Path: "/id/" + idPattern + "/versions/{n:[0-9]+}", Role: auth.Reader, Tag: "prov", Status: http.StatusSeeOther,
			Summary: "Resolve the IRI of one version of a record: 303 to its PROV (text/turtle, application/ld+json) or to its JSON (anything else).",
			Handler: s.resolveID},
		{Method: "GET", Path: "/id/" + idPattern, Role: auth.Reader, Tag: "prov", Status: http.StatusSeeOther, Query: []string{"format"},
			Summary: "Resolve a record's IRI: 303 to its PROV document for RDF media types (text/turtle, application/ld+json), else to the record.",
			Handler: s.resolveID},
	}
}

// exportAll streams the export. The status goes out with the first byte; until then a
// failure (the database away) is still a clean error.
func (s *Server) exportAll(w http.ResponseWriter, r *http.Request) {
	format, err := provFormat(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	mt, _ := prov.Format(format)
	sw := &streamWriter{w: w, rc: http.NewResponseController(w), header: func() {
		w.Header().Set("Content-Type", mt)
		w.Header().Set("Vary", "Accept")
		w.Header().Set("Trailer", "Export-Error")
		w.WriteHeader(http.StatusOK)
	}}
	enc, err := prov.NewEncoder(format, sw, s.BaseIRI)
	if err != nil {
		writeError(w, r, err)
		return
	}
	err = s.Exporter.Export(r.Context(), enc, func(int64, int64) { sw.flush() })
	if err != nil {
		// Nothing more reaches the client, not even the footer Close would write, so a
		// truncated export cannot pass for a whole one.
		sw.broken = true
		enc.Close()
		if clientGone(r, sw.writeErr) {
			logClientGone(r, err, "export")
			return
		}
		if !sw.started {
			writeError(w, r, err)
			return
		}
		logError(r, err)
		w.Header().Set("Export-Error", "the export stopped early; see the server log for request "+requestID(r.Context()))
		return
	}
	if err := enc.Close(); err != nil {
		if clientGone(r, sw.writeErr) {
			logClientGone(r, err, "export")
			return
		}
		logError(r, err)
		w.Header().Set("Export-Error", "the export could not be finished")
		return
	}
	sw.start()
}

// streamWriter sends the response header on the first write and refuses writes once the
// stream is broken.
type streamWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	header  func()
	started bool
	broken  bool
	// writeErr is the first failed write to the client: it went away or stopped reading.
	writeErr error
}

var errBroken = errors.New("export stream broken")

func (sw *streamWriter) start() {
	if !sw.started {
		sw.started = true
		sw.header()
	}
}

func (sw *streamWriter) Write(p []byte) (int, error) {
	if sw.broken {
		return 0, errBroken
	}
	sw.start()
	n, err := sw.w.Write(p)
	if err != nil && sw.writeErr == nil {
		sw.writeErr = err
	}
	return n, err
}

func (sw *streamWriter) flush() {
	if sw.started && !sw.broken {
		_ = sw.rc.Flush()
	}
}

// resolveID answers a record IRI with 303 See Other: RDF clients to its PROV document,
// everyone else to the record itself.
func (s *Server) resolveID(w http.ResponseWriter, r *http.Request) {
	vars := mux.Vars(r)
	id := vars["id"]
	if fs, given := r.URL.Query()["format"]; given {
		if _, ok := prov.FormatName(fs[0]); !ok || len(fs) != 1 {
			writeError(w, r, badParam("format", "format must be turtle, jsonld or provjson"))
			return
		}
	}
	version := 0
	if n, ok := vars["n"]; ok {
		v, err := strconv.Atoi(n)
		if err != nil || v < 1 {
			writeError(w, r, provgraph.Errorf(provgraph.NotFound, "no version %q of %q", n, id))
			return
		}
		version = v
	}
	label, err := s.Exporter.Kind(r.Context(), id, viewer(r))
	if err != nil {
		writeError(w, r, err)
		return
	}
	kind, ok := registry.KindByLabel(label)
	if !ok {
		writeError(w, r, provgraph.Errorf(provgraph.NotFound, "no record with id %q", id))
		return
	}
	format, rdf := rdfFormat(r)
	var target string
	if rdf {
		target = "/api/v1/prov/" + id + "?format=" + url.QueryEscape(format)
	} else {
		target = "/api/v1/" + kind.Route + "/" + id
		if version > 0 {
			target += "?version=" + strconv.Itoa(version)
		}
	}
	w.Header().Set("Vary", "Accept")
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// rdfFormat says whether the client asks for RDF (by ?format= naming turtle or jsonld,
// or an Accept header whose best match is text/turtle or application/ld+json) and in
// which format. PROV-JSON is application/json, which is also what a JSON client of the
// record asks for, so it never counts as RDF here.
func rdfFormat(r *http.Request) (string, bool) {
	if f, ok := prov.FormatName(r.URL.Query().Get("format")); ok {
		return f, f == prov.FormatTurtle || f == prov.FormatJSONLD
	}
	best, bestQ, otherQ := "", 0.0, 0.0
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		params := strings.Split(part, ";")
		media := strings.ToLower(strings.TrimSpace(params[0]))
		if media == "" {
			continue
		}
		q := 1.0
		for _, p := range params[1:] {
			k, v, _ := strings.Cut(p, "=")
			if strings.TrimSpace(strings.ToLower(k)) == "q" {
				if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && f >= 0 && f <= 1 {
					q = f
				}
			}
		}
		f, ok := prov.FormatName(media)
		if ok && (f == prov.FormatTurtle || f == prov.FormatJSONLD) && strings.Contains(media, "/") {
			if q > bestQ {
				best, bestQ = f, q
			}
			continue
		}
		otherQ = max(otherQ, q)
	}
	return best, best != "" && bestQ > 0 && bestQ >= otherQ
}
