package server

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/gorilla/mux"

	"provgraph"
	"provgraph/auth"
	"provgraph/lineage"
	"provgraph/registry"
)

// Lineage answers lineage questions.
type Lineage interface {
	Walk(ctx context.Context, q lineage.Query) (lineage.Result, error)
	Path(ctx context.Context, from, to string, maxDepth int, invalidated bool, v registry.Viewer) (lineage.Result, error)
}

var errLineageFormat = &provgraph.Error{Code: provgraph.Invalid, Status: http.StatusBadRequest, Message: "format must be json, dot, svg or tree",
	Fields: []provgraph.FieldError{{Path: "format", Message: "must be json, dot, svg or tree"}}}

// MaxLineageDepth bounds ?depth= when the server is not told otherwise.
const MaxLineageDepth = 50

// Provena's named lineage questions: a direction, the kinds answered, and agents or not.
var lineageQuestions = []struct {
	name, direction, kinds, summary string
	agents                          bool
}{
	{"contributing-datasets", "upstream", "Dataset", "Every dataset that contributed to a record, at any depth up to ?depth.", false},
	{"contributing-agents", "upstream", "Person,Organisation", "Every person or organisation that contributed to a record.", true},
	{"affected-datasets", "downstream", "Dataset", "Every dataset a record went into: what a bad input touched.", false},
	{"affected-agents", "downstream", "Person,Organisation", "Every person or organisation whose work a record went into.", true},
}

func (s *Server) lineageRoutes() []route {
	item := "/api/v1/lineage/" + idPattern
	query := []string{"direction", "depth", "kinds", "include_agents", "versions", "include_invalidated", "limit", "format"}
	formats := []string{"application/json", "text/vnd.graphviz", "image/svg+xml", "text/plain"}
	rs := []route{{Method: "GET", Path: "/api/v1/lineage/path", Role: auth.Reader, Tag: "lineage", Status: http.StatusOK, Query: []string{"from", "to", "include_invalidated", "format"},
		Produces: formats, Response: lineage.Result{}, Errors: []int{http.StatusNotFound},
		Summary: "How two records are connected: the shortest directed path, tried both ways (direction says which), never through an agent " +
			"nor a deleted record (unless ?include_invalidated=true); no path is an empty result.",
		Handler: s.lineagePath}}
	for _, lq := range lineageQuestions {
		rs = append(rs, route{Method: "GET", Path: item + "/" + lq.name, Role: auth.Reader, Tag: "lineage", Status: http.StatusOK,
			Query: []string{"depth", "limit", "include_invalidated", "format"}, Produces: formats, Response: lineage.Result{},
			Summary: lq.summary, Handler: s.lineageQuestion(lq.direction, lq.kinds, lq.agents)})
	}
	return append(rs, route{Method: "GET", Path: item, Role: auth.Reader, Tag: "lineage", Status: http.StatusOK, Query: query,
		Produces: formats, Response: lineage.Result{},
		Summary: "The lineage of a record: the distinct nodes and edges reached upstream, downstream or both, to ?depth (default 3); " +
			"agents are leaves; deleted records are left out unless ?include_invalidated=true; truncated when ?limit cut it. ?format=json|dot|svg|tree.",
		Handler: s.lineage})
}

func (s *Server) maxLineageDepth() int {
	if s.MaxDepth > 0 {
		return s.MaxDepth
	}
	return MaxLineageDepth
}

func (s *Server) lineage(w http.ResponseWriter, r *http.Request) {
	s.answerLineage(w, r, r.URL.Query())
}

func (s *Server) lineageQuestion(direction, kinds string, agents bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		params := url.Values{}
		for k, v := range r.URL.Query() {
			if k != "depth" && k != "limit" && k != "format" && k != "include_invalidated" {
				writeError(w, r, &provgraph.Error{Code: provgraph.Invalid, Status: http.StatusBadRequest, Message: "unknown parameter",
					Fields: []provgraph.FieldError{{Path: k, Message: "unknown parameter; this question takes depth, limit, include_invalidated and format"}}})
				return
			}
			params[k] = v
		}
		params.Set("direction", direction)
		params.Set("kinds", kinds)
		if agents {
			params.Set("include_agents", "true")
		}
		s.answerLineage(w, r, params)
	}
}

func (s *Server) answerLineage(w http.ResponseWriter, r *http.Request, params url.Values) {
	q, err := lineage.ParseQuery(mux.Vars(r)["id"], params, s.maxLineageDepth())
	if err != nil {
		writeError(w, r, err)
		return
	}
	format := params.Get("format")
	if !slices.Contains([]string{"", "json", "dot", "svg", "tree"}, format) {
		writeError(w, r, errLineageFormat)
		return
	}
	q.Viewer = viewer(r)
	res, err := s.Lineage.Walk(r.Context(), q)
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.writeLineage(w, r, format, res)
}

// writeLineage answers a lineage result as JSON, DOT, SVG or a tree.
func (s *Server) writeLineage(w http.ResponseWriter, r *http.Request, format string, res lineage.Result) {
	switch format {
	case "dot":
		var b bytes.Buffer
		if err := lineage.DOT(&b, res); err != nil {
			writeError(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "text/vnd.graphviz; charset=utf-8")
		_, _ = w.Write(b.Bytes())
	case "svg":
		var b bytes.Buffer
		if err := lineage.SVG(&b, res); err != nil {
			writeError(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "image/svg+xml")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
		_, _ = w.Write(b.Bytes())
	case "tree":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte(lineage.Tree(res)))
	case "", "json":
		writeJSON(w, http.StatusOK, res)
	default:
		writeError(w, r, errLineageFormat)
	}
}

func (s *Server) lineagePath(w http.ResponseWriter, r *http.Request) {
	qs := r.URL.Query()
	var errs []provgraph.FieldError
	for _, k := range []string{"from", "to"} {
		if qs.Get(k) == "" {
			errs = append(errs, provgraph.FieldError{Path: k, Message: "is required"})
		}
	}
	for k := range qs {
		if k != "from" && k != "to" && k != "format" && k != "include_invalidated" {
			errs = append(errs, provgraph.FieldError{Path: k, Message: "unknown parameter"})
		}
	}
	invalidated := false
	if v := qs.Get("include_invalidated"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, provgraph.FieldError{Path: "include_invalidated", Message: "must be true or false"})
		}
		invalidated = b
	}
	if len(errs) > 0 {
		writeError(w, r, &provgraph.Error{Code: provgraph.Invalid, Status: http.StatusBadRequest, Message: "give from and to", Fields: errs})
		return
	}
	res, err := s.Lineage.Path(r.Context(), qs.Get("from"), qs.Get("to"), s.maxLineageDepth(), invalidated, viewer(r))
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.writeLineage(w, r, qs.Get("format"), res)
}
