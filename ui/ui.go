// Package ui is the lineage web page provgraph serves itself: HTML shells rendered from
// templates and the script and style they load, all embedded, so the page works with no
// network. The page reads lineage through the same REST API as every other client.
package ui

import (
	"bytes"
	"embed"
	"encoding/json"
	"html/template"
	"io/fs"
	"path"
	"strings"
)

//go:embed assets
var assets embed.FS

// Asset is one embedded file of the page by name, with its media type.
func Asset(name string) (body []byte, mediaType string, ok bool) {
	types := map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
	mt, known := types[path.Ext(name)]
	if !known || !fs.ValidPath(name) {
		return nil, "", false
	}
	b, err := assets.ReadFile("assets/" + name)
	if err != nil {
		return nil, "", false
	}
	return b, mt, true
}

// ContentSecurityPolicy lets the page load only its own script, style and API: no inline
// script, no other origin.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " +
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

var pages = template.Must(template.New("").Parse(`
{{define "head"}}<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.}} · provgraph</title><link rel="stylesheet" href="/ui/assets/lineage.css"></head>{{end}}

{{define "lineage"}}{{template "head" (print "Lineage of " .Root)}}
<body data-root="{{.Root}}" data-max-depth="{{.MaxDepth}}" data-colours="{{.Colours}}">
<header>
  <h1>Lineage of <code id="root-id">{{.Root}}</code></h1>
  <form id="controls">
    <label>Direction <select name="direction" id="direction">
      <option value="upstream">upstream: where it came from</option>
      <option value="downstream">downstream: what it went into</option>
      <option value="both">both</option></select></label>
    <label>Depth <input name="depth" id="depth" type="number" min="1" max="{{.MaxDepth}}" value="3"></label>
    <label><input name="include_agents" id="include-agents" type="checkbox"> agents</label>
    <button type="submit">Show</button>
  </form>
  <form method="post" action="/ui/logout"><button type="submit" class="quiet">Sign out</button></form>
</header>
<main>
  <section id="canvas" aria-label="lineage graph"><svg id="graph" xmlns="http://www.w3.org/2000/svg" role="img"></svg></section>
  <aside>
    <h2>Legend</h2><ul id="legend"></ul>
    <h2>Details</h2><div id="details"><p class="hint">Click a node to see it and bring in its neighbours.</p></div>
  </aside>
</main>
<footer id="status" role="status">Loading…</footer>
<script src="/ui/assets/lineage.js"></script>
</body></html>{{end}}

{{define "index"}}{{template "head" "Lineage"}}
<body class="login"><main>
<h1>provgraph lineage</h1>
<form method="get" action="/ui/lineage">
  <label>Record id <input name="id" required autofocus></label>
  <button type="submit">Show its lineage</button>
</form>
</main></body></html>{{end}}

{{define "login"}}{{template "head" "Sign in"}}
<body class="login"><main>
<h1>provgraph</h1>
<form method="post" action="/ui/login">
  <p>Sign in with an API token (any role that may read).</p>
  {{if .Message}}<p class="error" role="alert">{{.Message}}</p>{{end}}
  <input type="hidden" name="next" value="{{.Next}}">
  <label>Token <input type="password" name="token" autocomplete="off" required autofocus></label>
  <button type="submit">Sign in</button>
</form>
</main></body></html>{{end}}
`))

// LineagePage is the page that draws the lineage of root; colours maps kinds to fills.
func LineagePage(root string, maxDepth int, colours map[string]string) ([]byte, error) {
	c, err := json.Marshal(colours)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	err = pages.ExecuteTemplate(&b, "lineage", struct {
		Root     string
		MaxDepth int
		Colours  string
	}{root, maxDepth, string(c)})
	return b.Bytes(), err
}

// IndexPage asks which record to draw.
func IndexPage() ([]byte, error) {
	var b bytes.Buffer
	err := pages.ExecuteTemplate(&b, "index", nil)
	return b.Bytes(), err
}

// LoginPage asks for a token; next is where to go after, message why we ask again.
func LoginPage(next, message string) ([]byte, error) {
	var b bytes.Buffer
	err := pages.ExecuteTemplate(&b, "login", struct{ Next, Message string }{next, message})
	return b.Bytes(), err
}

// SafeNext is where a sign-in may send the browser: a page of this UI, never elsewhere.
func SafeNext(next string) string {
	p, _, _ := strings.Cut(next, "?")
	// No escapes in the path: a browser reads %2e%2e as .. after this check.
	if strings.HasPrefix(p, "/ui/") && path.Clean(p) == p && len(next) < 2048 && !strings.ContainsAny(p, "%") &&
		!strings.ContainsAny(next, "\\\r\n") {
		return next
	}
	return "/ui/"
}
