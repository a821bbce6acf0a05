package ui

import (
	"strings"
	"testing"
)

func TestSafeNextStaysOnThisUI(t *testing.T) {
	for next, want := range map[string]string{
		"/ui/lineage/a/b":                  "/ui/lineage/a/b",
		"/ui/lineage/a?direction=both":     "/ui/lineage/a?direction=both",
		"//evil.example/ui/x":              "/ui/",
		"https://evil.example/ui/":         "/ui/",
		"/ui/../api/v1/prov":               "/ui/",
		"/ui/lineage/a\\b":                 "/ui/",
		"/ui/lineage/a\r\nSet-Cookie: x=1": "/ui/",
		"/api/v1/lineage/a":                "/ui/",
		"/ui/%2e%2e/api/v1/prov":           "/ui/",
		"":                                 "/ui/",
	} {
		if got := SafeNext(next); got != want {
			t.Errorf("SafeNext(%q) = %q, want %q", next, got, want)
		}
	}
}

func TestPagesEscapeWhatTheyCarry(t *testing.T) {
	page, err := LineagePage(`x"><script>alert(1)</script>`, 50, map[string]string{"Dataset": `#fff"</script>`})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(page), "<script>alert") || strings.Contains(string(page), `"</script>`) {
		t.Fatalf("unescaped: %s", page)
	}
	if !strings.Contains(string(page), `data-max-depth="50"`) || !strings.Contains(string(page), `<script src="/ui/assets/lineage.js">`) {
		t.Fatalf("page: %s", page)
	}
	login, err := LoginPage(`/ui/"><b>`, "<i>no</i>")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(login), "<b>") || strings.Contains(string(login), "<i>") {
		t.Fatalf("unescaped: %s", login)
	}
}

func TestAssetsAreOnlyTheEmbeddedOnes(t *testing.T) {
	if b, mt, ok := Asset("lineage.js"); !ok || len(b) == 0 || !strings.HasPrefix(mt, "text/javascript") {
		t.Fatalf("lineage.js: %v %q", ok, mt)
	}
	for _, name := range []string{"../ui.go", "ui.go", "/etc/passwd", "lineage.html", "", "assets/lineage.js"} {
		if _, _, ok := Asset(name); ok {
			t.Errorf("Asset(%q) served", name)
		}
	}
}
