// Package compat holds what every foreign wire adapter shares. Each protocol (KFP, TES,
// ICA, flowserv, Azure ML, OpenLineage, Provena) is a package below this one that
// translates its wire shapes into calls on provgraph's services and back, and answers in
// its own paths, statuses and error bodies. The server mounts them: authentication, roles,
// body bounds and deadlines are the server's, the same for every route.
package compat

import (
	"net/http"

	"provgraph/auth"
)

// Route is one route of a foreign API.
type Route struct {
	Method string
	// Path is a gorilla/mux template of the whole path, the protocol's prefix included.
	// Path variables arrive decoded: a client that escapes an id's '/' as %2F and one
	// that sends it raw reach the same handler with the same id, where the template
	// allows '/' in it.
	Path string
	Role auth.Role
	// Public routes answer without a token (service discovery, health).
	Public  bool
	Summary string
	Handler http.HandlerFunc
	// Transfer routes move bulk (uploads, archives) and get the long deadline.
	Transfer bool
}

// API is one foreign wire protocol.
type API struct {
	Name   string
	Routes []Route
	// Fail answers an error, authentication and role failures included, in the
	// protocol's own shape. provgraph errors carry the code to map.
	Fail func(w http.ResponseWriter, r *http.Request, err error)
	// TokenHeader names a header the protocol's client sends its token in instead of
	// Authorization (flowserv's api_key). On this API's routes the server takes its value
	// as the bearer token when the request has no Authorization header.
	TokenHeader string
}

// Caller is the authenticated caller of a request on a route that is not public.
func Caller(r *http.Request) auth.Principal { return auth.FromContext(r.Context()) }
