package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"provgraph"
	"provgraph/auth"
	"provgraph/schemas"
)

type ctxKey int

const (
	requestIDKey ctxKey = iota
	subjectSlotKey
)

func requestID(ctx context.Context) string {
	s, _ := ctx.Value(requestIDKey).(string)
	return s
}

// principal is the authenticated caller of a request.
func principal(ctx context.Context) auth.Principal { return auth.FromContext(ctx) }

// withRequestID gives every request an id, taken from X-Request-Id when it is sane, and a
// logger that writes it on every line.
func (s *Server) withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !saneRequestID(id) {
			b := make([]byte, 8)
			_, _ = rand.Read(b)
			id = hex.EncodeToString(b)
		}
		w.Header().Set("X-Request-Id", id)
		log := s.Logger.With().Str("request_id", id).Logger()
		ctx := context.WithValue(log.WithContext(r.Context()), requestIDKey, id)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func saneRequestID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

type recorder struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the connection's deadlines.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// observe logs each request once and records it in the metrics, labelled by route
// template so that ids do not explode the label space.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w}
		// authorize runs further in and fills this, so the access line names the caller.
		subject := new(string)
		r = r.WithContext(context.WithValue(r.Context(), subjectSlotKey, subject))
		defer func() {
			if v := recover(); v != nil {
				zerolog.Ctx(r.Context()).Error().Interface("panic", v).Msg("handler panicked")
				if rec.status == 0 {
					writeError(rec, r, provgraph.Errorf(provgraph.Internal, "panic: %v", v))
				}
			}
			route := "unmatched"
			if cr := mux.CurrentRoute(r); cr != nil {
				if t, err := cr.GetPathTemplate(); err == nil {
					route = t
				}
			}
			elapsed := time.Since(start)
			code := fmt.Sprint(rec.status)
			s.metrics.requests.WithLabelValues(r.Method, route, code).Inc()
			s.metrics.duration.WithLabelValues(r.Method, route).Observe(elapsed.Seconds())
			zerolog.Ctx(r.Context()).Info().Str("method", r.Method).Str("route", route).
				Int("status", rec.status).Int("bytes", rec.bytes).Dur("duration", elapsed).
				Str("subject", *subject).Msg("request")
		}()
		next.ServeHTTP(rec, r)
	})
}

type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) metrics {
	m := metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "provgraph_http_requests_total", Help: "HTTP requests by method, route template and status.",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "provgraph_http_request_duration_seconds", Help: "HTTP request latency by method and route template.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"method", "route"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

// authorize authenticates the bearer token and checks the route's role.
func (s *Server) authorize(need auth.Role, next http.HandlerFunc) http.HandlerFunc {
	return s.authorizeWith(need, next, writeError, false)
}

// authorizeWith is authorize answering failures with fail (compatibility routes speak
// their own error shape); cookie says whether a signed-in browser's cookie is honoured.
func (s *Server) authorizeWith(need auth.Role, next http.HandlerFunc, fail func(http.ResponseWriter, *http.Request, error), cookie bool) http.HandlerFunc {
	writeError := fail
	return func(w http.ResponseWriter, r *http.Request) {
		token, fromCookie, ok := bearer(r, cookie)
		if fromCookie {
			// Only this browser's own cache may keep what its cookie opened.
			w.Header().Set("Cache-Control", "private, no-store")
			w.Header().Add("Vary", "Cookie")
		}
		if !ok {
			writeError(w, r, provgraph.Errorf(provgraph.Unauthorized, "send a bearer token: Authorization: Bearer <token>"))
			return
		}
		p, err := s.Auth.Authenticate(r.Context(), token)
		if err != nil {
			if provgraph.ErrorCode(err) == provgraph.Internal {
				writeError(w, r, err)
				return
			}
			writeError(w, r, provgraph.Errorf(provgraph.Unauthorized, "the bearer token is not valid"))
			return
		}
		if !p.Role.Allows(need) {
			writeError(w, r, provgraph.Errorf(provgraph.Forbidden, "this needs the %s role; the token has %q", need, p.Role))
			return
		}
		if slot, ok := r.Context().Value(subjectSlotKey).(*string); ok {
			*slot = p.Subject
		}
		ctx := auth.NewContext(r.Context(), p)
		log := zerolog.Ctx(ctx).With().Str("subject", p.Subject).Logger()
		next(w, r.WithContext(log.WithContext(ctx)))
	}
}

// bearer is the request's token: the Authorization header, or, where cookie allows it and
// only on a read, the cookie of a browser signed in to the web pages.
func bearer(r *http.Request, cookie bool) (token string, fromCookie, ok bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, token, found := strings.Cut(h, " ")
		token = strings.TrimSpace(token)
		return token, false, found && strings.EqualFold(scheme, "Bearer") && token != ""
	}
	if !cookie || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		return "", false, false
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return "", false, false
	}
	return c.Value, true, true
}

// readBody reads a bounded JSON request body.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	return s.readBodyLimit(w, r, s.MaxBody)
}

// readBodyLimit reads a JSON body of at most limit bytes and refuses every string in it,
// key or value, that is not Unicode text (see schemas.CheckText).
func (s *Server) readBodyLimit(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	b, err := readRaw(w, r, limit)
	if err != nil {
		return nil, err
	}
	if bad := schemas.CheckText(b); len(bad) > 0 {
		return nil, provgraph.InvalidFields("the body holds text that is not UTF-8; nothing was stored", bad)
	}
	return b, nil
}

// readRaw reads a bounded, non-empty body of any type.
func readRaw(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	body := http.MaxBytesReader(w, r.Body, limit)
	b, err := io.ReadAll(body)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, provgraph.Errorf(provgraph.TooLarge, "the body is larger than %d bytes", limit)
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return nil, &provgraph.Error{Code: provgraph.Invalid, Status: http.StatusRequestTimeout, Message: "the body did not arrive in time"}
	}
	if err != nil {
		return nil, provgraph.Errorf(provgraph.Invalid, "the body could not be read")
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, errEmptyBody
	}
	return b, nil
}

var errEmptyBody = provgraph.InvalidFields("the body is empty", []provgraph.FieldError{{Path: "", Message: "a JSON object is required"}})

// jsonBody refuses, with 415, a body sent as anything but JSON to a route that takes
// JSON: application/json or any application/*+json, with no charset or charset=utf-8.
// A request without Content-Type is read as JSON (a body is checked as JSON in any case).
// A request without a body (Content-Length: 0) is not checked.
func jsonBody(next http.HandlerFunc, fail func(http.ResponseWriter, *http.Request, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if ct := r.Header.Get("Content-Type"); ct != "" && r.ContentLength != 0 && !isJSON(ct) {
			fail(w, r, &provgraph.Error{Code: provgraph.Invalid, Status: http.StatusUnsupportedMediaType,
				Message: fmt.Sprintf("this route takes JSON: send Content-Type: application/json (charset utf-8, if any), not %q", ct),
				Fields:  []provgraph.FieldError{{Path: "Content-Type", Message: "must be application/json"}}})
			return
		}
		next(w, r)
	}
}

func isJSON(ct string) bool {
	t, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	for k, v := range params {
		if k != "charset" || !strings.EqualFold(v, "utf-8") {
			return false
		}
	}
	sub, ok := strings.CutPrefix(t, "application/")
	return ok && (sub == "json" || strings.HasSuffix(sub, "+json"))
}
