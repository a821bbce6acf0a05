package server

import (
	"context"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/gorilla/mux"
	"github.com/rs/zerolog"

	"provgraph"
	"provgraph/auth"
	"provgraph/registry"
	"provgraph/runs"
)

// Artifacts is the run-artifact service.
type Artifacts interface {
	Upload(ctx context.Context, runID, name, mediaType string, size int64, body io.Reader, actor registry.Actor, admin bool) (runs.Artifact, error)
	Artifacts(ctx context.Context, runID string) ([]runs.Artifact, error)
	Artifact(ctx context.Context, runID, name string) (runs.Artifact, io.ReadSeekCloser, error)
	Results(ctx context.Context, runID string, w io.Writer) error
}

// runIDPattern is idPattern ending in a ULID, shortest first, so that an artifact name
// after it may hold slashes: /api/v1/runs/<prefix>/<ULID>/artifacts/a/b.txt.
const runIDPattern = "{id:(?:[A-Za-z0-9._~-]+/)*?[0-9A-Za-z]{26}}"

var binaryBody = map[string]any{"type": "string", "format": "binary"}

// artifactRoutes come before the run routes, whose id pattern would swallow them.
func (s *Server) artifactRoutes() []route {
	item := "/api/v1/runs/" + runIDPattern
	return []route{
		{Method: "PUT", Path: item + "/artifacts/{name:.+}", Transfer: true, Role: auth.Writer, Tag: "runs", Status: http.StatusCreated,
			Body: binaryBody, BodyType: "application/octet-stream", Response: runs.Artifact{},
			// 405: an id that is not a run's is routed to the run itself, which takes no PUT.
			Errors: []int{http.StatusMethodNotAllowed},
			Summary: "Upload a file as an output of a RUNNING run (its executor only), streamed to a content-addressed store; " +
				"Content-Type is kept as its media type. The name is a relative path (no '..', '\\' or control characters); " +
				"409 when the run is not held or the name is taken, 413 over PROVGRAPH_MAX_ARTIFACT_BYTES.",
			Handler: s.uploadArtifact},
		{Method: "GET", Path: item + "/artifacts", Role: auth.Reader, Tag: "runs", Status: http.StatusOK, Response: artifactsBody{},
			Summary: "A run's artifacts: id, name, sha256, size, media_type.", Handler: s.listArtifacts},
		{Method: "GET", Path: item + "/artifacts/{name:.+}", Transfer: true, Role: auth.Reader, Tag: "runs", Status: http.StatusOK, Produces: []string{"application/octet-stream"},
			SameBody: []int{http.StatusPartialContent}, Errors: []int{http.StatusRequestedRangeNotSatisfiable, http.StatusUnprocessableEntity},
			Summary: "One artifact's bytes (KFP read_artifact), with its media type, ETag (its SHA-256) and ranges.", Handler: s.getArtifact},
		{Method: "GET", Path: item + "/results.tar.gz", Transfer: true, Role: auth.Reader, Tag: "runs", Status: http.StatusOK, Produces: []string{"application/gzip"}, Errors: []int{http.StatusConflict},
			Summary: "Every artifact of a SUCCEEDED run as one tar.gz, each under its name (flowserv); 409 before.", Handler: s.runResults},
	}
}

func (s *Server) uploadArtifact(w http.ResponseWriter, r *http.Request) {
	v := mux.Vars(r)
	a, err := s.Artifacts.Upload(r.Context(), v["id"], v["name"], r.Header.Get("Content-Type"), r.ContentLength, r.Body,
		actor(r), principal(r.Context()).Role.Allows(auth.Admin))
	if err != nil {
		if provgraph.ErrorCode(err) == provgraph.TooLarge {
			w.Header().Set("Connection", "close") // the rest of the body is not read
		}
		writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/runs/"+a.RunID+"/artifacts/"+escapePath(a.Name))
	writeJSON(w, http.StatusCreated, a)
}

func escapePath(name string) string {
	segs := strings.Split(name, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

func (s *Server) listArtifacts(w http.ResponseWriter, r *http.Request) {
	list, err := s.Artifacts.Artifacts(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, artifactsBody{Artifacts: list})
}

func (s *Server) getArtifact(w http.ResponseWriter, r *http.Request) {
	v := mux.Vars(r)
	a, content, err := s.Artifacts.Artifact(r.Context(), v["id"], v["name"])
	if err != nil {
		writeError(w, r, err)
		return
	}
	defer content.Close()
	h := w.Header()
	h.Set("Content-Type", a.MediaType)
	h.Set("ETag", `"`+a.SHA256+`"`)
	// Uploaded bytes are never rendered as a page of this origin.
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": path.Base(a.Name)}))
	http.ServeContent(w, r, a.Name, a.CreatedAt, content)
}

func (s *Server) runResults(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["id"]
	out := &firstWrite{w: w, header: func(h http.Header) {
		h.Set("Content-Type", "application/gzip")
		h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": path.Base(id) + "-results.tar.gz"}))
	}}
	if err := s.Artifacts.Results(r.Context(), id, out); err != nil {
		if clientGone(r, out.writeErr) {
			logClientGone(r, err, "results archive")
			return
		}
		if !out.started {
			writeError(w, r, err)
			return
		}
		// The status is gone: the archive ends early, which its reader detects.
		zerolog.Ctx(r.Context()).Error().Err(err).Msg("results archive cut short")
	}
}

// firstWrite sends the success headers with the first byte, so that an error before it
// is still an ordinary error response.
type firstWrite struct {
	w        http.ResponseWriter
	header   func(http.Header)
	started  bool
	writeErr error // the first failed write: the client went away or stopped reading
}

func (f *firstWrite) Write(p []byte) (int, error) {
	if !f.started {
		f.started = true
		f.header(f.w.Header())
		f.w.WriteHeader(http.StatusOK)
	}
	n, err := f.w.Write(p)
	if err != nil && f.writeErr == nil {
		f.writeErr = err
	}
	return n, err
}
