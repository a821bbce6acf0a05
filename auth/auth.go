// Package auth authenticates bearer tokens: a static token from the environment, local
// tokens kept hashed in a file, and OIDC JWTs checked against a JWKS. It knows nothing of
// HTTP handlers; the server wraps it.
package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
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

var rank = map[Role]int{Reader: 1, Writer: 2, Admin: 3}

// ParseRole accepts reader, writer or admin.
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToLower(strings.TrimSpace(s)))
	if rank[r] == 0 {
		return "", provgraph.InvalidFields("unknown role", []provgraph.FieldError{{Path: "role", Message: "must be reader, writer or admin"}})
	}
	return r, nil
}

// Allows reports whether r includes need: admin ⊇ writer ⊇ reader.
func (r Role) Allows(need Role) bool {
	return rank[r] > 0 && rank[need] > 0 && rank[r] >= rank[need]
}

// Principal is an authenticated caller.
type Principal struct {
	Subject string
	Name    string
	Role    Role
}

// Authenticator turns a bearer token into a principal.
type Authenticator interface {
	Authenticate(ctx context.Context, bearer string) (Principal, error)
}

// recogniser lets Chain skip authenticators that cannot own a token, so a local token is
// never sent to OIDC and a JWT never compared with the local file.
type recogniser interface {
	Recognises(bearer string) bool
}

var errBadToken = provgraph.Errorf(provgraph.Unauthorized, "the bearer token is not valid")

// Chain tries each authenticator that recognises the token; the first success wins.
func Chain(as ...Authenticator) Authenticator { return chain(as) }

type chain []Authenticator

func (c chain) Authenticate(ctx context.Context, bearer string) (Principal, error) {
	if bearer == "" || len(bearer) > 16<<10 {
		return Principal{}, errBadToken
	}
	var last error = errBadToken
	for _, a := range c {
		if r, ok := a.(recogniser); ok && !r.Recognises(bearer) {
			continue
		}
		p, err := a.Authenticate(ctx, bearer)
		if err == nil {
			return p, nil
		}
		if provgraph.ErrorCode(err) != provgraph.Unauthorized {
			last = err
		}
	}
	return Principal{}, last
}

func isJWT(s string) bool { return strings.Count(s, ".") == 2 }

// Static is one fixed token, e.g. PROVGRAPH_ADMIN_TOKEN.
func Static(token string, role Role, subject string) Authenticator {
	return static{digest: sha256.Sum256([]byte(token)), p: Principal{Subject: subject, Name: subject, Role: role}}
}

type static struct {
	digest [32]byte
	p      Principal
}

func (s static) Recognises(bearer string) bool { return !isJWT(bearer) }

func (s static) Authenticate(_ context.Context, bearer string) (Principal, error) {
	d := sha256.Sum256([]byte(bearer))
	if subtle.ConstantTimeCompare(d[:], s.digest[:]) == 1 {
		return s.p, nil
	}
	return Principal{}, errBadToken
}
