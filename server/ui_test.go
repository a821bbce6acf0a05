package server

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"provgraph/auth"
)

func TestBrowserCookieOpensOnlyReads(t *testing.T) {
	for _, tt := range []struct {
		method, header string
		cookie, allow  bool
		wantToken      string
		wantFromCookie bool
	}{
		{"GET", "", true, true, "tok", true},
		{"HEAD", "", true, true, "tok", true},
		{"GET", "", true, false, "", false}, // a route that does not take the cookie
		{"POST", "", true, true, "", false},
		{"DELETE", "", true, true, "", false},
		{"GET", "Bearer hdr", true, true, "hdr", false}, // the header wins
		{"GET", "", false, true, "", false},
	} {
		r := httptest.NewRequest(tt.method, "/x", nil)
		if tt.header != "" {
			r.Header.Set("Authorization", tt.header)
		}
		if tt.cookie {
			r.AddCookie(&http.Cookie{Name: sessionCookie, Value: "tok"})
		}
		token, fromCookie, ok := bearer(r, tt.allow)
		if token != tt.wantToken || fromCookie != tt.wantFromCookie || ok != (tt.wantToken != "") {
			t.Errorf("%+v: %q %v %v", tt, token, fromCookie, ok)
		}
	}
	if !cookieRoute(route{Method: "GET", Role: auth.Reader}) || cookieRoute(route{Method: "GET", Role: auth.Admin}) ||
		cookieRoute(route{Method: "POST", Role: auth.Reader}) {
		t.Error("the cookie opens only reads any reader may make")
	}
}

func TestSignInMustComeFromThisSite(t *testing.T) {
	for _, tt := range []struct {
		site, origin string
		want         bool
	}{
		{"same-origin", "", true},
		{"same-site", "", false},
		{"cross-site", "", false},
		{"none", "", false},
		{"", "http://example.com", true}, // the request's host
		{"", "https://evil.example", false},
		{"", "null", false},
		{"", "", true}, // not a browser
	} {
		r := httptest.NewRequest("POST", "http://example.com/ui/login", nil)
		if tt.site != "" {
			r.Header.Set("Sec-Fetch-Site", tt.site)
		}
		if tt.origin != "" {
			r.Header.Set("Origin", tt.origin)
		}
		if got := sameOrigin(r); got != tt.want {
			t.Errorf("Sec-Fetch-Site %q, Origin %q: %v", tt.site, tt.origin, got)
		}
	}
}
