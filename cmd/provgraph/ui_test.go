package main

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"provgraph/auth"
	"provgraph/lineage"
)

// lineageChain registers dataset → run → output → second run, and a sibling run of the
// first dataset: enough to draw, expand and turn around.
type lineageChain struct {
	f                          fixture
	output, run, next, sibling string
}

func mustLineageChain(c client) lineageChain {
	f := mustFixture(c)
	out := c.mustCreate("datasets", map[string]any{"display_name": "Reef forecast", "name": "forecast", "description": "d", "location": "s3://bucket/forecast",
		"license": "https://creativecommons.org/licenses/by/4.0/", "publisher_id": f.org, "created_date": "2024-03-01", "published_date": "2024-03-02"})
	run := runDoc(f, f.dataset, "forecast run")
	run["outputs"] = []any{map[string]any{"dataset_template_id": f.outTemplate, "dataset_id": out, "resources": map[string]string{"forcing": "f.nc"}}}
	return lineageChain{f: f, output: out, run: c.mustCreate("model-runs", run),
		next: c.mustCreate("model-runs", runDoc(f, out, "impact run")), sibling: c.mustCreate("model-runs", runDoc(f, f.dataset, "sibling run"))}
}

func TestLineagePageSignIn(t *testing.T) {
	m := mustMain(t, nil)
	admin := client{t: t, base: m.URL, token: testAdmin}
	ch := mustLineageChain(admin)
	reader := tokenClient(t, m, auth.Reader, "ui reader")
	anon := client{t: t, base: m.URL}
	page := "/ui/lineage/" + ch.output

	// A browser that is not signed in gets the sign-in form, which brings it back.
	r := anon.do("GET", page, nil)
	if r.Status != 401 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") || !strings.Contains(string(r.Body), `name="next" value="`+page+`"`) {
		t.Fatalf("not signed in: %d %s", r.Status, r.Body)
	}
	if !strings.Contains(r.Header.Get("Content-Security-Policy"), "script-src 'self'") {
		t.Fatalf("CSP: %q", r.Header.Get("Content-Security-Policy"))
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	login := func(token, next string, headers ...string) *http.Response {
		req, _ := http.NewRequestWithContext(t.Context(), "POST", m.URL+"/ui/login", strings.NewReader(url.Values{"token": {token}, "next": {next}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		res, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	if res := login("not-a-token", page); res.StatusCode != 401 || len(res.Cookies()) != 0 {
		t.Fatalf("bad token: %d %v", res.StatusCode, res.Cookies())
	}
	if res := login(reader.token, page, "Origin", "https://evil.example"); res.StatusCode != 403 || len(res.Cookies()) != 0 {
		t.Fatalf("cross-site sign-in: %d", res.StatusCode)
	}
	// Sign-in never sends the browser off this UI.
	if res := login(reader.token, "//evil.example/ui/x"); res.StatusCode != 303 || res.Header.Get("Location") != "/ui/" {
		t.Fatalf("open redirect: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	res := login(reader.token, page, "Origin", m.URL)
	if res.StatusCode != 303 || res.Header.Get("Location") != page || len(res.Cookies()) != 1 {
		t.Fatalf("sign in: %d %q %v", res.StatusCode, res.Header.Get("Location"), res.Cookies())
	}
	cookie := res.Cookies()[0]
	if !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Value != reader.token {
		t.Fatalf("cookie: %+v", cookie)
	}
	send := func(c *http.Cookie, method, path string) *http.Response {
		req, _ := http.NewRequestWithContext(t.Context(), method, m.URL+path, strings.NewReader(`{"query":"RETURN 1"}`))
		req.AddCookie(c)
		req.Header.Set("Content-Type", "application/json")
		res, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	withCookie := func(method, path string) int { return send(cookie, method, path).StatusCode }
	for _, ck := range []struct {
		method, path string
		want         int
	}{
		{"GET", page, 200},
		{"GET", "/ui/assets/lineage.js", 200},
		{"GET", "/api/v1/lineage/" + ch.output, 200},
		{"GET", "/ui/lineage/" + m.Config.IDPrefix + "/01J0000000000000000000000A", 404},
		{"GET", "/ui/assets/../go.mod", 404},
		{"GET", "/ui/lineage?id=" + url.QueryEscape(ch.run), 303},
		{"GET", "/ui/lineage?id=" + url.QueryEscape("../../api/v1/prov/x/"+ch.run[len(ch.run)-26:]), 400},
		{"GET", "/api/v1/datasets/" + ch.output, 200}, // where the page's "record" link leads
		// The cookie is honoured on reads only: it can never make a browser change anything.
		{"POST", "/api/v1/cypher", 401},
		{"DELETE", "/api/v1/datasets/" + ch.output, 401},
	} {
		if got := withCookie(ck.method, ck.path); got != ck.want {
			t.Errorf("%s %s with the cookie: %d, want %d", ck.method, ck.path, got, ck.want)
		}
	}
	// What a cookie opened is this browser's alone to cache.
	if res := send(cookie, "GET", "/api/v1/lineage/"+ch.output); res.Header.Get("Cache-Control") != "private, no-store" {
		t.Errorf("Cache-Control %q", res.Header.Get("Cache-Control"))
	}
	// A browser signed in as an admin carries no admin credential: admin-only reads refuse the cookie.
	res = login(testAdmin, page)
	if res.StatusCode != 303 || len(res.Cookies()) != 1 {
		t.Fatalf("admin sign in: %d", res.StatusCode)
	}
	if got := send(res.Cookies()[0], "GET", "/api/v1/prov").StatusCode; got != 401 {
		t.Errorf("the whole-graph export with an admin's cookie: %d, want 401", got)
	}
	// Behind a proxy that speaks HTTPS, the cookie never travels in clear.
	if res := login(reader.token, page, "X-Forwarded-Proto", "https"); len(res.Cookies()) != 1 || !res.Cookies()[0].Secure {
		t.Errorf("cookie behind an HTTPS proxy: %+v", res.Cookies())
	}
}

// TestLineagePageInBrowser drives the page in headless Chromium, with every address but
// loopback unreachable: it draws, expands on a click, turns around, and its screenshot
// shows nodes in the colours of their kinds and a legend.
func TestLineagePageInBrowser(t *testing.T) {
	chromium := os.Getenv("PROVGRAPH_CHROMIUM")
	if chromium == "" {
		chromium, _ = exec.LookPath("chromium")
	}
	if chromium == "" {
		if os.Getenv("PROVGRAPH_REQUIRE_BROWSER") != "" {
			t.Fatal("PROVGRAPH_REQUIRE_BROWSER is set but there is no chromium on PATH (or PROVGRAPH_CHROMIUM)")
		}
		t.Skip("no chromium; make test installs it")
	}
	m := mustMain(t, nil)
	admin := client{t: t, base: m.URL, token: testAdmin}
	ch := mustLineageChain(admin)
	reader := tokenClient(t, m, auth.Reader, "browser")

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox,
		chromedp.WindowSize(1400, 900), chromedp.Flag("force-device-scale-factor", "1"))
	actx, cancelAlloc := chromedp.NewExecAllocator(t.Context(), opts...)
	defer cancelAlloc()
	// Each step has its own time limit, so that a stuck one still leaves the browser to
	// say what the page showed.
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	browser := ctx
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("start %s: %v", chromium, err)
	}

	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		for _, st := range steps {
			step, cancel := context.WithTimeout(browser, 20*time.Second)
			err := chromedp.Do(step, st)
			cancel()
			if err == nil {
				continue
			}
			// Say what the page showed: the timeout alone tells nothing.
			if shot, err := chromedp.Run(browser, chromedp.FullScreenshot(100)); err == nil {
				keepScreenshot(t, "failed.png", shot)
			}
			text, _ := chromedp.Run(browser, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText`))
			t.Fatalf("%s: %v; the page:\n%s", what, err, text)
		}
	}
	nodesDrawn := func() []string {
		t.Helper()
		ids, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#graph g.node")].map(g => g.dataset.id)`))
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(ids)
		return ids
	}
	node := func(id string) string { return fmt.Sprintf(`#graph g.node[data-id="%s"]`, id) }

	// Sign in through the form, as a person would.
	page := "/ui/lineage/" + ch.output
	do("sign in", chromedp.Navigate(m.URL+page),
		chromedp.WaitVisible(chromedp.CSS(`input[name="token"]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name="token"]`), reader.token),
		chromedp.Submit(chromedp.CSS(`input[name="token"]`)),
		chromedp.WaitVisible(chromedp.CSS(node(ch.run))))

	// Upstream to depth 3: the output, the run that made it and what the run used.
	ids := nodesDrawn()
	for _, want := range []string{ch.output, ch.run, ch.f.dataset, ch.f.workflow} {
		if !slices.Contains(ids, want) {
			t.Fatalf("upstream page lacks %s: %v", want, ids)
		}
	}
	for _, never := range []string{ch.next, ch.sibling} {
		if slices.Contains(ids, never) {
			t.Fatalf("upstream page shows the downstream %s", never)
		}
	}
	// Left to right: what a thing came from is drawn to its left.
	xOf := func(id string) float64 {
		x, err := chromedp.Run(ctx, chromedp.Evaluate[float64](fmt.Sprintf(`document.querySelector('%s').getBoundingClientRect().x`, node(id))))
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	if !(xOf(ch.f.dataset) < xOf(ch.run) && xOf(ch.run) < xOf(ch.output)) {
		t.Fatalf("not left to right: dataset %v, run %v, output %v", xOf(ch.f.dataset), xOf(ch.run), xOf(ch.output))
	}
	legend, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#legend li")].map(li => li.dataset.kind)`))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"Dataset", "ModelRun", "WorkflowTemplate"} {
		if !slices.Contains(legend, k) {
			t.Fatalf("legend %v lacks %s", legend, k)
		}
	}

	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	keepScreenshot(t, "lineage-page.png", shot)
	img := decodePNG(t, shot)
	// Each drawn node is a 200×46 box in its kind's colour; the legend's swatches are 14×14.
	for kind, boxes := range map[string]int{"Dataset": 2, "ModelRun": 1, "WorkflowTemplate": 1} {
		if n := countColour(img, img.Bounds(), lineage.Colour(kind)); n < boxes*150*30 {
			t.Errorf("screenshot has %d pixels of %s's colour, want the fill of %d boxes", n, kind, boxes)
		}
	}
	legendShot, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS("#legend")))
	if err != nil {
		t.Fatal(err)
	}
	keepScreenshot(t, "lineage-legend.png", legendShot)
	li := decodePNG(t, legendShot)
	for _, k := range legend {
		if n := countColour(li, li.Bounds(), lineage.Colour(k)); n < 100 {
			t.Errorf("legend screenshot has %d pixels of %s's swatch", n, k)
		}
	}

	// A click on the input dataset shows it and brings in its other consumer.
	do("expand", chromedp.Click(chromedp.CSS(node(ch.f.dataset)+" rect")), chromedp.WaitVisible(chromedp.CSS(node(ch.sibling))))
	details, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#details")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(details, ch.f.dataset) || !strings.Contains(details, "Dataset") {
		t.Fatalf("details: %q", details)
	}
	if shot, err = chromedp.Run(ctx, chromedp.FullScreenshot(100)); err != nil {
		t.Fatal(err)
	}
	keepScreenshot(t, "lineage-expanded.png", shot)

	// Downstream to depth 2 from the output: the run that used it, and not what made it.
	do("turn around", chromedp.SetValue(chromedp.CSS("#direction"), "downstream"), chromedp.SetValue(chromedp.CSS("#depth"), "2"),
		chromedp.Click(chromedp.CSS(`#controls button[type="submit"]`)), chromedp.WaitVisible(chromedp.CSS(node(ch.next))))
	ids = nodesDrawn()
	if details, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#details"))); strings.Contains(details, ch.f.dataset) {
		t.Fatalf("details of a node no longer drawn: %q", details)
	}
	if slices.Contains(ids, ch.run) || slices.Contains(ids, ch.sibling) || !slices.Contains(ids, ch.output) {
		t.Fatalf("downstream page: %v", ids)
	}
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(loc, "direction=downstream") || !strings.Contains(loc, "depth=2") {
		t.Fatalf("the address does not hold the view: %s", loc)
	}
	shot, err = chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	keepScreenshot(t, "lineage-downstream.png", shot)

	// Everything the page loaded came from provgraph itself.
	loaded, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`performance.getEntriesByType("resource").map(e => e.name)`))
	if err != nil {
		t.Fatal(err)
	}
	if len(loaded) < 3 {
		t.Fatalf("resources loaded: %v", loaded)
	}
	for _, u := range loaded {
		if !strings.HasPrefix(u, m.URL+"/") {
			t.Errorf("the page loaded %s, which is not provgraph", u)
		}
	}
}

// keepScreenshot writes a screenshot to $PROVGRAPH_SCREENSHOTS (to look at), or the
// test's temporary directory.
func keepScreenshot(t *testing.T, name string, b []byte) {
	dir := os.Getenv("PROVGRAPH_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func decodePNG(t *testing.T, b []byte) image.Image {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	return img
}

// countColour counts the pixels of r that are hex exactly, give or take rounding.
func countColour(img image.Image, r image.Rectangle, hex string) int {
	var want color.RGBA
	if _, err := fmt.Sscanf(hex, "#%02x%02x%02x", &want.R, &want.G, &want.B); err != nil {
		return 0
	}
	near := func(a uint32, b uint8) bool { d := int(a>>8) - int(b); return d >= -2 && d <= 2 }
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			if near(cr, want.R) && near(cg, want.G) && near(cb, want.B) {
				n++
			}
		}
	}
	return n
}
