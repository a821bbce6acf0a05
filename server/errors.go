package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/rs/zerolog"
	"github.com/rs/zerolog/log"

	"provgraph"
)

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code      provgraph.Code         `json:"code"`
	Message   string                 `json:"message"`
	Fields    []provgraph.FieldError `json:"fields,omitempty"`
	RequestID string                 `json:"request_id"`
}

// status is the one place where error codes become HTTP statuses.
func status(e *provgraph.Error) int {
	if e.Status != 0 {
		return e.Status
	}
	switch e.Code {
	case provgraph.Invalid:
		return http.StatusUnprocessableEntity
	case provgraph.NotFound:
		return http.StatusNotFound
	case provgraph.Conflict:
		return http.StatusConflict
	case provgraph.Unauthorized:
		return http.StatusUnauthorized
	case provgraph.Forbidden:
		return http.StatusForbidden
	case provgraph.TooLarge:
		return http.StatusRequestEntityTooLarge
	case provgraph.TooMany:
		return http.StatusTooManyRequests
	case provgraph.Unavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// writeError answers with the single error body. Internal errors are logged here, once,
// and their detail never reaches the caller.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *provgraph.Error
	if !errors.As(err, &e) {
		e = provgraph.Wrap(provgraph.Internal, err, "internal error")
	}
	code := status(e)
	log := zerolog.Ctx(r.Context())
	switch {
	case code >= 500 && code != http.StatusServiceUnavailable:
		logError(r, err)
		e = &provgraph.Error{Code: provgraph.Internal, Message: "internal error; quote the request id when reporting it"}
	case code == http.StatusServiceUnavailable:
		log.Warn().Err(err).Msg("unavailable")
		w.Header().Set("Retry-After", "5")
	case code == http.StatusTooManyRequests:
		w.Header().Set("Retry-After", "1")
	}
	if code == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="provgraph"`)
	}
	writeJSON(w, code, errorBody{Error: errorDetail{Code: e.Code, Message: e.Message, Fields: e.Fields, RequestID: requestID(r.Context())}})
}

// writeJSON encodes v before it writes the status, so that a value JSON cannot carry is
// the server's 500, not a 200 with an empty body.
func writeJSON(w http.ResponseWriter, code int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		err = fmt.Errorf("encoding a %d answer: %w", code, err)
		log.Error().Err(err).Msg("internal error")
		buf.Reset()
		_ = enc.Encode(errorBody{Error: errorDetail{Code: provgraph.Internal, Message: "internal error: the answer could not be encoded as JSON"}})
		code = http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

func logError(r *http.Request, err error) {
	zerolog.Ctx(r.Context()).Error().Err(err).Msg("internal error")
}

// clientGone says whether a streamed answer failed because of its client: a write to it
// failed (it closed the connection, or stopped reading until the write deadline) or it
// cancelled the request.
func clientGone(r *http.Request, writeErr error) bool {
	return writeErr != nil || r.Context().Err() != nil
}

// logClientGone notes, at info level, a stream its client did not take to the end: that
// is the client's doing, not a fault of the server.
func logClientGone(r *http.Request, err error, what string) {
	zerolog.Ctx(r.Context()).Info().Err(err).Msg("the client stopped reading the " + what + " before its end")
}
