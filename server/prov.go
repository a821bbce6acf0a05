package server

import (
	"bytes"
	"context"
	"net/http"
	"strconv"

	"github.com/gorilla/mux"

	"provgraph"
	"provgraph/auth"
	"provgraph/prov"
	"provgraph/registry"
)

// Provenance reads PROV documents.
type Provenance interface {
	Document(ctx context.Context, id string, depth int, v registry.Viewer) (*prov.Document, error)
}

func (s *Server) provRoutes() []route {
	return []route{{Method: "GET", Path: "/api/v1/prov/" + idPattern, Role: auth.Reader, Tag: "prov", Status: http.StatusOK, Produces: []string{"text/turtle", "application/ld+json", "application/json"},
		Query: []string{"format", "depth"}, Errors: []int{http.StatusNotAcceptable},
		Summary: "The PROV document of a record as Turtle, JSON-LD or PROV-JSON (by Accept or ?format=turtle|jsonld|provjson); ?depth=N adds its upstream closure.",
		Handler: s.provDocument}}
}

// provFormat picks a PROV format from ?format= or else the Accept header.
func provFormat(r *http.Request) (string, error) {
	format, ok := prov.Negotiate(r.Header.Get("Accept"))
	if f := r.URL.Query().Get("format"); f != "" {
		if format, ok = prov.FormatName(f); !ok {
			return "", badParam("format", "format must be turtle, jsonld or provjson")
		}
	} else if !ok {
		return "", &provgraph.Error{Code: provgraph.Invalid, Status: http.StatusNotAcceptable, Message: "acceptable: text/turtle, application/ld+json, application/json"}
	}
	return format, nil
}

func badParam(field, msg string) error {
	return &provgraph.Error{Code: provgraph.Invalid, Status: http.StatusBadRequest, Message: msg,
		Fields: []provgraph.FieldError{{Path: field, Message: msg}}}
}

func (s *Server) provDocument(w http.ResponseWriter, r *http.Request) {
	format, err := provFormat(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	depth := 0
	if d := r.URL.Query().Get("depth"); d != "" {
		n, err := strconv.Atoi(d)
		if err != nil || n < 0 {
			writeError(w, r, badParam("depth", "depth must be a whole number from 0"))
			return
		}
		depth = n
	}
	doc, err := s.Provenance.Document(r.Context(), mux.Vars(r)["id"], depth, viewer(r))
	if err != nil {
		writeError(w, r, err)
		return
	}
	// Encoded whole before the status is sent, so an encoding failure is still a clean error.
	var b bytes.Buffer
	enc, err := prov.NewEncoder(format, &b, s.BaseIRI)
	if err == nil {
		if err = enc.Encode(doc); err == nil {
			err = enc.Close()
		}
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	mt, _ := prov.Format(format)
	w.Header().Set("Content-Type", mt)
	w.Header().Set("Vary", "Accept")
	_, _ = w.Write(b.Bytes())
}
