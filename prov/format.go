package prov

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Format names, for ?format= parameters and command-line flags.
const (
	FormatTurtle   = "turtle"
	FormatJSONLD   = "jsonld"
	FormatPROVJSON = "provjson"
)

// formats lists the serializations in the server's order of preference.
var formats = []struct {
	name, media string
	aliases     []string // other names and media types accepted on input
	enc         func(io.Writer, string) Encoder
}{
	{FormatTurtle, MediaTurtle, []string{"ttl", "application/x-turtle"}, NewTurtle},
	{FormatJSONLD, MediaJSONLD, []string{"json-ld"}, NewJSONLD},
	{FormatPROVJSON, MediaPROVJSON, []string{"prov-json", "json"}, NewPROVJSON},
}

// Formats lists the format names in the server's order of preference.
func Formats() []string {
	out := make([]string, len(formats))
	for i, f := range formats {
		out[i] = f.name
	}
	return out
}

// FormatName resolves a format name ("turtle", "jsonld", "provjson", or an
// alias such as "ttl") or a media type (parameters ignored) to a format name.
func FormatName(s string) (string, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	if mt, _, ok := strings.Cut(s, ";"); ok {
		s = strings.TrimSpace(mt)
	}
	for _, f := range formats {
		if s == f.name || s == f.media {
			return f.name, true
		}
		for _, a := range f.aliases {
			if s == a {
				return f.name, true
			}
		}
	}
	return "", false
}

// Format returns the media type a format name or media type is written as.
func Format(name string) (mediaType string, ok bool) {
	n, ok := FormatName(name)
	if !ok {
		return "", false
	}
	for _, f := range formats {
		if f.name == n {
			return f.media, true
		}
	}
	return "", false
}

// NewEncoder returns the encoder for a format name or media type.
func NewEncoder(format string, w io.Writer, base string) (Encoder, error) {
	n, ok := FormatName(format)
	if !ok {
		return nil, fmt.Errorf("prov: unknown format %q (want one of %s)", format, strings.Join(Formats(), ", "))
	}
	for _, f := range formats {
		if f.name == n {
			return f.enc(w, base), nil
		}
	}
	panic("unreachable")
}

// Negotiate picks the format for an HTTP Accept header (RFC 9110 §12.5.1). For
// each format the most specific matching media range gives its quality; the
// highest quality wins, then the more specific match, then the range listed
// first, then the server's order (Turtle, JSON-LD, PROV-JSON). An empty header
// or */* gives Turtle. When the header accepts none of the formats, Negotiate
// returns Turtle and false, so the caller can choose between 406 and a default.
func Negotiate(accept string) (format string, ok bool) {
	if strings.TrimSpace(accept) == "" {
		return FormatTurtle, true
	}
	type mediaRange struct {
		typ, sub string
		q        float64
	}
	var ranges []mediaRange
	for _, part := range strings.Split(accept, ",") {
		params := strings.Split(part, ";")
		typ, sub, found := strings.Cut(strings.ToLower(strings.TrimSpace(params[0])), "/")
		if !found || typ == "" || sub == "" || (typ == "*" && sub != "*") {
			continue
		}
		q := 1.0
		valid := true
		for _, p := range params[1:] {
			k, v, _ := strings.Cut(p, "=")
			if strings.ToLower(strings.TrimSpace(k)) != "q" {
				continue
			}
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil || f < 0 || f > 1 {
				valid = false
			}
			q = f
		}
		if valid {
			ranges = append(ranges, mediaRange{typ, sub, q})
		}
	}
	best, bestQ, bestSpec, bestPos := "", 0.0, 0, 0
	for _, f := range formats {
		typ, _, _ := strings.Cut(f.media, "/")
		exact := map[string]bool{f.media: true}
		for _, a := range f.aliases {
			if strings.Contains(a, "/") {
				exact[a] = true
			}
		}
		q, spec, pos := 0.0, 0, 0
		for i, r := range ranges {
			s := 0
			switch {
			case exact[r.typ+"/"+r.sub]:
				s = 3
			case r.typ == typ && r.sub == "*":
				s = 2
			case r.typ == "*":
				s = 1
			}
			if s > spec {
				q, spec, pos = r.q, s, i
			}
		}
		if q <= 0 {
			continue
		}
		if best == "" || q > bestQ || (q == bestQ && (spec > bestSpec || (spec == bestSpec && pos < bestPos))) {
			best, bestQ, bestSpec, bestPos = f.name, q, spec, pos
		}
	}
	if best == "" {
		return FormatTurtle, false
	}
	return best, true
}
