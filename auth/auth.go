// Package auth authenticates bearer tokens: a static token from the environment, local
// tokens kept as digests in a file, and OIDC JWTs checked against the issuer's JWKS. It
// knows nothing of HTTP; the server wraps it in middleware.
package auth

import (
	"context"
	"strings"

	"provgraph"
)

// Role is what a principal may do.
type Role string

const (
	Reader Role = "reader"
	Writer Role = "writer"
	Admin  Role = "admin"
)

// rank orders the roles; a role missing here (including "") ranks 0 and allows nothing.
var rank = map[Role]int{Reader: 1, Writer: 2, Admin: 3}

// ParseRole accepts reader, writer or admin, in any case.
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToLower(strings.TrimSpace(s)))
	if rank[r] == 0 {
		return "", provgraph.InvalidFields("unknown role",
			[]provgraph.FieldError{{Path: "role", Message: "must be reader, writer or admin"}})
	}
	return r, nil
}

// Allows reports whether r includes need: admin ⊇ writer ⊇ reader.
func (r Role) Allows(need Role) bool {
	return rank[r] > 0 && rank[need] > 0 && rank[r] >= rank[need]
}

// Principal is an authenticated caller. Subject is stable and unique across the token
// sources ("local:<id>", "env:admin", "oidc:<sub>"); it is recorded as the provenance agent.
type Principal struct {
	Subject string
	Name    string
	Role    Role
	// Groups open the records restricted to them (admins read every record).
	Groups []string
}

// Authenticator turns a bearer token into a principal. A token it does not accept is an
// Unauthorized error; anything else (an unreadable token file) is not the caller's fault.
type Authenticator interface {
	Authenticate(ctx context.Context, bearer string) (Principal, error)
}

// Recogniser is implemented by authenticators that can tell their own tokens apart. Chain
// hands a token to the first one that recognises it and to no other.
type Recogniser interface {
	Recognises(bearer string) bool
}

// maxBearer bounds the work done for one header; real JWTs are a few KiB at most.
const maxBearer = 16 << 10

func errBadToken() error {
	return provgraph.Errorf(provgraph.Unauthorized, "the bearer token is not valid")
}

// Chain combines authenticators. The first Recogniser that recognises the token decides,
// so a local token is never sent to OIDC and a JWT is never compared with the token file.
// An authenticator that is not a Recogniser is asked in turn, and its Unauthorized means
// "not mine". A token nobody accepts is Unauthorized.
func Chain(as ...Authenticator) Authenticator { return chain(as) }

type chain []Authenticator

func (c chain) Authenticate(ctx context.Context, bearer string) (Principal, error) {
	if bearer == "" || len(bearer) > maxBearer {
		return Principal{}, errBadToken()
	}
	for _, a := range c {
		if r, ok := a.(Recogniser); ok {
			if !r.Recognises(bearer) {
				continue
			}
			return a.Authenticate(ctx, bearer)
		}
		p, err := a.Authenticate(ctx, bearer)
		if err == nil || provgraph.ErrorCode(err) != provgraph.Unauthorized {
			return p, err
		}
	}
	return Principal{}, errBadToken()
}

// isJWT is the shape of a compact JWS: three segments.
func isJWT(s string) bool { return strings.Count(s, ".") == 2 }
