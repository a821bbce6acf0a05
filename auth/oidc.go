package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

// OIDCConfig says which JWTs to accept.
type OIDCConfig struct {
	Issuer     string
	Audience   string
	JWKSURL    string
	Algorithms []string      // default RS256, ES256
	RolesClaim string        // default "roles"; a dotted path reaches into objects
	Leeway     time.Duration // default 30s
	HTTPClient *http.Client
}

// OIDC validates JWTs against the issuer's JWKS.
type OIDC struct {
	cfg OIDCConfig

	mu        sync.Mutex
	keys      jwk.Set
	fetchedAt time.Time
}

// minRefetch bounds how often an unknown key id makes us fetch the JWKS again, so a
// flood of forged tokens cannot turn into a flood of requests to the issuer.
const minRefetch = 30 * time.Second

// NewOIDC fetches the JWKS once so a wrong URL fails at start, not at the first request.
func NewOIDC(ctx context.Context, cfg OIDCConfig) (*OIDC, error) {
	if cfg.Issuer == "" || cfg.Audience == "" || cfg.JWKSURL == "" {
		return nil, fmt.Errorf("oidc needs an issuer, an audience and a JWKS URL")
	}
	if len(cfg.Algorithms) == 0 {
		cfg.Algorithms = []string{"RS256", "ES256"}
	}
	for _, a := range cfg.Algorithms {
		if a == "none" || strings.HasPrefix(a, "HS") {
			return nil, fmt.Errorf("oidc algorithm %q is not allowed: only asymmetric signatures", a)
		}
	}
	if cfg.RolesClaim == "" {
		cfg.RolesClaim = "roles"
	}
	if cfg.Leeway == 0 {
		cfg.Leeway = 30 * time.Second
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	o := &OIDC{cfg: cfg}
	if _, err := o.keySet(ctx, true); err != nil {
		return nil, err
	}
	return o, nil
}

// Recognises JWTs.
func (o *OIDC) Recognises(bearer string) bool { return isJWT(bearer) }

func (o *OIDC) keySet(ctx context.Context, refresh bool) (jwk.Set, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.keys != nil && (!refresh || time.Since(o.fetchedAt) < minRefetch) {
		return o.keys, nil
	}
	set, err := jwk.Fetch(ctx, o.cfg.JWKSURL, jwk.WithHTTPClient(o.cfg.HTTPClient))
	if err != nil {
		if o.keys != nil {
			return o.keys, nil
		}
		return nil, fmt.Errorf("fetch JWKS %s: %w", o.cfg.JWKSURL, err)
	}
	o.keys, o.fetchedAt = set, time.Now()
	return set, nil
}

type header struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
}

// Authenticate checks the algorithm against the allow-list before any key is touched,
// then the signature, issuer, audience and times.
func (o *OIDC) Authenticate(ctx context.Context, bearer string) (Principal, error) {
	h, ok := parseHeader(bearer)
	if !ok || !slices.Contains(o.cfg.Algorithms, h.Alg) {
		return Principal{}, errBadToken
	}
	set, err := o.keySet(ctx, false)
	if err != nil {
		return Principal{}, errBadToken
	}
	if _, found := set.LookupKeyID(h.Kid); !found && h.Kid != "" {
		if set, err = o.keySet(ctx, true); err != nil {
			return Principal{}, errBadToken
		}
	}
	tok, err := jwt.Parse([]byte(bearer),
		jwt.WithKeySet(set, jws.WithInferAlgorithmFromKey(true)),
		jwt.WithValidate(true),
		jwt.WithIssuer(o.cfg.Issuer),
		jwt.WithAudience(o.cfg.Audience),
		jwt.WithAcceptableSkew(o.cfg.Leeway),
	)
	if err != nil {
		return Principal{}, errBadToken
	}
	sub, _ := tok.Subject()
	if sub == "" {
		return Principal{}, errBadToken
	}
	var claims map[string]any
	if b, err := json.Marshal(tok); err == nil {
		_ = json.Unmarshal(b, &claims)
	}
	name, _ := claims["name"].(string)
	if name == "" {
		name, _ = claims["preferred_username"].(string)
	}
	if name == "" {
		name = sub
	}
	return Principal{Subject: "oidc:" + sub, Name: name, Role: highestRole(lookup(claims, o.cfg.RolesClaim))}, nil
}

func parseHeader(token string) (header, bool) {
	seg, _, ok := strings.Cut(token, ".")
	if !ok {
		return header{}, false
	}
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return header{}, false
	}
	var h header
	if json.Unmarshal(b, &h) != nil {
		return header{}, false
	}
	return h, true
}

func lookup(claims map[string]any, path string) any {
	var v any = claims
	for _, part := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[part]
	}
	return v
}

// highestRole picks the strongest known role among the claim's values.
func highestRole(v any) Role {
	var names []string
	switch x := v.(type) {
	case string:
		names = strings.Fields(x)
	case []any:
		for _, item := range x {
			if s, ok := item.(string); ok {
				names = append(names, s)
			}
		}
	}
	var best Role
	for _, n := range names {
		r := Role(strings.ToLower(n))
		if rank[r] > rank[best] {
			best = r
		}
	}
	return best
}
