package server

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"provgraph"
	"provgraph/auth"
	"provgraph/lineage"
	"provgraph/ui"
)

// sessionCookie carries a signed-in browser's token. It is HttpOnly and SameSite=Strict,
// and is honoured only on GET and HEAD, so another site can neither read it nor make a
// browser change anything with it.
const sessionCookie = "provgraph_token"

const sessionLife = 12 * time.Hour

var validID = regexp.MustCompile(`^` + strings.TrimSuffix(strings.TrimPrefix(idPattern, "{id:"), "}") + `$`)

func (s *Server) uiRoutes() []route {
	html := []string{"text/html"}
	form := map[string]any{"type": "object", "required": []string{"token"},
		"properties": map[string]any{"token": map[string]any{"type": "string"}, "next": map[string]any{"type": "string"}}}
	return []route{
		{Method: "GET", Path: "/ui/login", Public: true, Tag: "ui", Produces: html, Query: []string{"next"},
			Summary: "The sign-in form of the web pages: it asks for an API token.", Handler: s.uiLoginForm},
		{Method: "POST", Path: "/ui/login", Public: true, Tag: "ui", Produces: html, Body: form, BodyType: "application/x-www-form-urlencoded", Status: http.StatusSeeOther,
			Errors: []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden}, Example: map[string]any{"token": "a-reader-token", "next": "/ui/"},
			Summary: "Signs a browser in: checks the token and keeps it in an HttpOnly, SameSite=Strict cookie honoured on reads only.", Handler: s.uiLogin},
		{Method: "POST", Path: "/ui/logout", Public: true, Tag: "ui", Produces: html, Status: http.StatusSeeOther, Errors: []int{http.StatusForbidden},
			Summary: "Signs a browser out.", Handler: s.uiLogout},
		{Method: "GET", Path: "/ui/", Role: auth.Reader, Tag: "ui", Produces: html,
			Summary: "Asks which record's lineage to draw.", Handler: s.uiIndex},
		{Method: "GET", Path: "/ui/lineage", Role: auth.Reader, Tag: "ui", Status: http.StatusSeeOther, Query: []string{"id"},
			Summary: "Sends the browser to the lineage page of ?id.", Handler: s.uiFind},
		{Method: "GET", Path: "/ui/lineage/" + idPattern, Role: auth.Reader, Tag: "ui", Produces: html, Query: []string{"direction", "depth", "include_agents"},
			Summary: "A web page that draws a record's lineage left to right, coloured by kind, with a legend; " +
				"clicking a node shows it and brings in its neighbours. Works with no network.", Handler: s.uiLineage},
		{Method: "GET", Path: "/ui/assets/{name}", Role: auth.Reader, Tag: "ui", Produces: []string{"text/javascript", "text/css"},
			Summary: "The script and style of the web pages.", Handler: s.uiAsset},
	}
}

// uiFail answers a browser that is not signed in with the sign-in form, which returns it
// here afterwards.
func (s *Server) uiFail(w http.ResponseWriter, r *http.Request, err error) {
	if provgraph.ErrorCode(err) != provgraph.Unauthorized {
		writeError(w, r, err)
		return
	}
	s.writeLogin(w, r, http.StatusUnauthorized, r.URL.RequestURI(), "")
}

func (s *Server) writeLogin(w http.ResponseWriter, r *http.Request, code int, next, message string) {
	page, err := ui.LoginPage(ui.SafeNext(next), message)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeHTML(w, code, page)
}

func writeHTML(w http.ResponseWriter, code int, page []byte) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", ui.ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(page)
}

func (s *Server) uiLoginForm(w http.ResponseWriter, r *http.Request) {
	s.writeLogin(w, r, http.StatusOK, r.URL.Query().Get("next"), "")
}

// sameOrigin refuses a form posted from another site (login CSRF). Browsers say where a
// request comes from in Sec-Fetch-Site, older ones in Origin; a client that is not a
// browser sends neither and has no cookie jar to abuse.
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" {
		return site == "same-origin"
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host == r.Host
}

func (s *Server) uiLogin(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		writeError(w, r, provgraph.Errorf(provgraph.Forbidden, "a sign-in must come from this site's own form"))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		writeError(w, r, provgraph.Errorf(provgraph.Invalid, "the form could not be read"))
		return
	}
	next := ui.SafeNext(r.PostForm.Get("next"))
	token := strings.TrimSpace(r.PostForm.Get("token"))
	if token == "" {
		s.writeLogin(w, r, http.StatusUnauthorized, next, "Give a token.")
		return
	}
	cookie := &http.Cookie{Name: sessionCookie, Value: token, Path: "/", MaxAge: int(sessionLife.Seconds()),
		HttpOnly: true, Secure: s.secureCookie(r), SameSite: http.SameSiteStrictMode}
	if len(token) > 3500 || cookie.Valid() != nil {
		s.writeLogin(w, r, http.StatusBadRequest, next, "That token cannot be kept in a browser cookie (too long, or characters a cookie cannot hold); use it with the API.")
		return
	}
	p, err := s.Auth.Authenticate(r.Context(), token)
	switch {
	case err != nil && provgraph.ErrorCode(err) == provgraph.Internal:
		writeError(w, r, err)
		return
	case err != nil:
		s.writeLogin(w, r, http.StatusUnauthorized, next, "That token is not valid.")
		return
	case !p.Role.Allows(auth.Reader):
		s.writeLogin(w, r, http.StatusForbidden, next, "That token may not read.")
		return
	}
	http.SetCookie(w, cookie)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// secureCookie says whether the browser reached us over HTTPS: directly, through a proxy
// that says so, or as the base IRI promises. The cookie then never travels in clear.
func (s *Server) secureCookie(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") || strings.HasPrefix(s.BaseIRI, "https://")
}

func (s *Server) uiLogout(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		writeError(w, r, provgraph.Errorf(provgraph.Forbidden, "a sign-out must come from this site's own form"))
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.secureCookie(r), SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/ui/login", http.StatusSeeOther)
}

func (s *Server) uiIndex(w http.ResponseWriter, r *http.Request) {
	page, err := ui.IndexPage()
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeHTML(w, http.StatusOK, page)
}

func (s *Server) uiFind(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimSpace(r.URL.Query().Get("id"))
	if !validID.MatchString(id) || slices.ContainsFunc(strings.Split(id, "/"), func(seg string) bool { return seg == "." || seg == ".." }) {
		writeError(w, r, &provgraph.Error{Code: provgraph.Invalid, Status: http.StatusBadRequest, Message: "not a record id",
			Fields: []provgraph.FieldError{{Path: "id", Message: "must be a record id"}}})
		return
	}
	http.Redirect(w, r, "/ui/lineage/"+id, http.StatusSeeOther)
}

// uiLineage serves the page; the page asks the lineage API itself. An unknown record is a
// 404, and the page says so.
func (s *Server) uiLineage(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["id"]
	code := http.StatusOK
	if _, err := s.Lineage.Walk(r.Context(), lineage.Query{ID: id, Direction: lineage.Upstream, Depth: 1, Limit: 1, Viewer: viewer(r)}); err != nil {
		if provgraph.ErrorCode(err) != provgraph.NotFound {
			writeError(w, r, err)
			return
		}
		code = http.StatusNotFound
	}
	page, err := ui.LineagePage(id, s.maxLineageDepth(), lineage.Colours())
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeHTML(w, code, page)
}

func (s *Server) uiAsset(w http.ResponseWriter, r *http.Request) {
	b, mt, ok := ui.Asset(mux.Vars(r)["name"])
	if !ok {
		writeError(w, r, errNoRoute)
		return
	}
	w.Header().Set("Content-Type", mt)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(b)
}
