package compat

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/rs/zerolog"

	"provgraph"
)

// Failure is an error as a foreign API answers it: every adapter writes it in its own
// body, from the same status and message.
type Failure struct {
	*provgraph.Error
	Status int
	// Message is safe to show: an internal error's detail is logged, never sent.
	Message string
}

var statuses = map[provgraph.Code]int{
	provgraph.Invalid: http.StatusBadRequest, provgraph.NotFound: http.StatusNotFound, provgraph.Conflict: http.StatusConflict,
	provgraph.Unauthorized: http.StatusUnauthorized, provgraph.Forbidden: http.StatusForbidden,
	provgraph.TooLarge: http.StatusRequestEntityTooLarge, provgraph.TooMany: http.StatusTooManyRequests,
	provgraph.Unavailable: http.StatusServiceUnavailable,
}

// Resolve reads err for the foreign API named api: provgraph's code chooses the status
// (invalid input is 400, as the wire APIs say it, not the native 422; a status the error
// carries, such as 415 or 408, stands), the headers that go with it are set (Retry-After,
// WWW-Authenticate), and an error of the server's own is logged and hidden.
func Resolve(w http.ResponseWriter, r *http.Request, err error, api string) Failure {
	var e *provgraph.Error
	if !errors.As(err, &e) {
		e = provgraph.Wrap(provgraph.Internal, err, "internal error")
	}
	status := e.Status
	if status == 0 || (e.Code == provgraph.Invalid && status == http.StatusUnprocessableEntity) {
		status = statuses[e.Code]
	}
	if status == 0 {
		status = http.StatusInternalServerError
	}
	msg := e.Message
	switch {
	case status == http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", "5")
	case status == http.StatusTooManyRequests:
		w.Header().Set("Retry-After", "1")
	case status == http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Bearer realm="provgraph"`)
	case status >= 500:
		zerolog.Ctx(r.Context()).Error().Err(err).Str("api", api).Msg("internal error")
		msg = "internal error"
	}
	return Failure{Error: e, Status: status, Message: msg}
}

// WriteJSON answers v with status, encoding it before the status is sent; what cannot
// be encoded is the server's fault, answered with internal (a body in the API's shape),
// and logged where r is given.
func WriteJSON(w http.ResponseWriter, r *http.Request, status int, v any, internal []byte) {
	b, err := json.Marshal(v)
	if err != nil {
		if r != nil {
			zerolog.Ctx(r.Context()).Error().Err(err).Msg("encoding an answer")
		}
		status, b = http.StatusInternalServerError, internal
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
