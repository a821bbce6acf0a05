package server

import (
	"net/http/httptest"
	"testing"
)

// TestResolveIDRefusesAnUnknownFormat: a ?format= that names no PROV format is a 400,
// not a redirect that ignores it.
func TestResolveIDRefusesAnUnknownFormat(t *testing.T) {
	_, h := mustServer(t, fakeRegistry{}, fakeHealth{})
	for _, q := range []string{"?format=nonsense", "?format=", "?format=turtle&format=x"} {
		w := do(h, "GET", "/id/x/01J0000000000000000000000A"+q, readerToken, "")
		if w.Code != 400 || decodeError(t, w).Fields[0].Path != "format" {
			t.Fatalf("%s: status %d: %s", q, w.Code, w.Body)
		}
	}
}

func TestResolveIDNegotiation(t *testing.T) {
	tests := []struct {
		name, query, accept string
		format              string
		rdf                 bool
	}{
		{"none", "", "", "", false},
		{"any", "", "*/*", "", false},
		{"browser", "", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "", false},
		{"json", "", "application/json", "", false},
		{"turtle", "", "text/turtle", "turtle", true},
		{"json-ld", "", "application/ld+json", "jsonld", true},
		{"turtle preferred", "", "text/turtle;q=0.9, application/json;q=0.5", "turtle", true},
		{"json preferred", "", "text/turtle;q=0.4, application/json", "turtle", false},
		{"turtle refused", "", "text/turtle;q=0, */*", "", false},
		{"format turtle", "?format=turtle", "application/json", "turtle", true},
		{"format provjson", "?format=provjson", "text/turtle", "provjson", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/id/x/y"+tt.query, nil)
			if tt.accept != "" {
				r.Header.Set("Accept", tt.accept)
			}
			got, rdf := rdfFormat(r)
			if rdf != tt.rdf || (tt.rdf && got != tt.format) {
				t.Fatalf("got %q %v, want %q %v", got, rdf, tt.format, tt.rdf)
			}
		})
	}
}
