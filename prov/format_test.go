package prov_test

import (
	"bytes"
	"testing"

	"provgraph/prov"
)

func TestNegotiate(t *testing.T) {
	tests := []struct {
		name, accept, want string
		ok                 bool
	}{
		{"empty", "", "turtle", true},
		{"anything", "*/*", "turtle", true},
		{"turtle", "text/turtle", "turtle", true},
		{"jsonld", "application/ld+json", "jsonld", true},
		{"provjson", "application/json", "provjson", true},
		{"case and params", "Application/LD+JSON; profile=\"http://www.w3.org/ns/json-ld#expanded\"", "jsonld", true},
		{"q order", "text/turtle;q=0.5, application/ld+json;q=0.9", "jsonld", true},
		{"browser", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "turtle", true},
		{"application wildcard", "application/*", "jsonld", true},
		{"application wildcard, json preferred", "application/*;q=0.5, application/json", "provjson", true},
		{"specific beats wildcard at equal q", "*/*, application/json", "provjson", true},
		{"first listed wins a tie", "application/ld+json, text/turtle", "jsonld", true},
		{"first listed wins a tie, other order", "text/turtle, application/ld+json", "turtle", true},
		{"refused by q=0", "text/turtle;q=0, */*", "jsonld", true},
		{"most specific range decides", "text/*;q=0, text/turtle;q=0.3, application/json;q=0.2", "turtle", true},
		{"x-turtle alias", "application/x-turtle", "turtle", true},
		{"nothing we write", "image/png, text/html", "turtle", false},
		{"all refused", "*/*;q=0", "turtle", false},
		{"bad q ignored", "application/json;q=2, text/turtle;q=0.1", "turtle", true},
		{"garbage", "garbage, ,;;", "turtle", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := prov.Negotiate(tt.accept)
			if got != tt.want || ok != tt.ok {
				t.Errorf("Negotiate(%q) = %q, %v; want %q, %v", tt.accept, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestFormat(t *testing.T) {
	tests := []struct {
		in, media string
		ok        bool
	}{
		{"turtle", "text/turtle", true},
		{"ttl", "text/turtle", true},
		{"text/turtle; charset=utf-8", "text/turtle", true},
		{"jsonld", "application/ld+json", true},
		{"json-ld", "application/ld+json", true},
		{"provjson", "application/json", true},
		{"application/json", "application/json", true},
		{"PROVJSON", "application/json", true},
		{"rdfxml", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, ok := prov.Format(tt.in)
		if got != tt.media || ok != tt.ok {
			t.Errorf("Format(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.media, tt.ok)
		}
	}
	for _, name := range prov.Formats() {
		var b bytes.Buffer
		enc, err := prov.NewEncoder(name, &b, prov.ExampleBase)
		if err != nil || enc == nil {
			t.Errorf("NewEncoder(%q): %v", name, err)
		}
	}
	if _, err := prov.NewEncoder("rdfxml", &bytes.Buffer{}, prov.ExampleBase); err == nil {
		t.Error("NewEncoder accepted an unknown format")
	}
}
