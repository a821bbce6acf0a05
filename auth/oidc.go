package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"provgraph"
	"provgraph/registry"
)

// OIDCConfig says which JWTs to accept.
type OIDCConfig struct {
	Issuer     string   // must equal the iss claim
	Audience   string   // must be among the aud claim
	JWKSURL    string   // the issuer's public keys
	Algorithms []string // default RS256, ES256; asymmetric algorithms only
	RolesClaim string   // default "roles"; a dotted path reaches into objects
	// RoleMap maps the roles claim's values to roles, exactly (case matters), e.g.
	// Provena's Keycloak {"entity-registry-read": Reader, …}; values it does not name
	// grant nothing. Empty: the values reader, writer and admin, in any case.
	RoleMap map[string]Role
	// GroupsClaim (default "groups", same form) opens records restricted to its groups.
	GroupsClaim string
	Leeway      time.Duration // clock skew allowed on exp, nbf and iat; default 30s
	HTTPClient  *http.Client  // for the JWKS; default one with a 10s timeout
}

// asymmetric lists the algorithms an allow-list may name, each with the public keys it
// may be verified with. HS* and none are absent on purpose: with a public JWKS, an HMAC
// "secret" would be public, and none is no signature at all.
var asymmetric = map[string]func(key any) bool{
	"RS256": isRSA, "RS384": isRSA, "RS512": isRSA,
	"PS256": isRSA, "PS384": isRSA, "PS512": isRSA,
	"ES256": isCurve(elliptic.P256()), "ES384": isCurve(elliptic.P384()), "ES512": isCurve(elliptic.P521()),
	"EdDSA": isEd25519,
}

func isRSA(key any) bool {
	k, ok := key.(*rsa.PublicKey)
	return ok && k.N.BitLen() >= 2048
}

func isCurve(c elliptic.Curve) func(any) bool {
	return func(key any) bool {
		k, ok := key.(*ecdsa.PublicKey)
		return ok && k.Curve == c
	}
}

func isEd25519(key any) bool {
	_, ok := key.(ed25519.PublicKey)
	return ok
}

const (
	// refreshAfter bounds how long a key removed from the JWKS stays trusted.
	refreshAfter = 15 * time.Minute
	// minRefetch bounds how often unknown key ids make us fetch the JWKS, so a flood of
	// forged tokens cannot become a flood of requests to the issuer.
	minRefetch = 30 * time.Second
	// maxJWKS bounds the JWKS response; real ones are a few KiB.
	maxJWKS = 1 << 20
)

// OIDC validates JWTs signed by the configured issuer.
type OIDC struct {
	cfg        OIDCConfig
	algs       map[string]jwa.SignatureAlgorithm
	minRefetch time.Duration

	fetchMu sync.Mutex // one JWKS fetch at a time
	mu      sync.Mutex // guards the fields below
	keys    []publicKey
	fetched time.Time // last successful fetch
	tried   time.Time // last attempt
}

var _ Recogniser = (*OIDC)(nil)

type publicKey struct {
	kid string
	alg string // the JWK's alg; "" when it names none
	key any    // *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey
}

// NewOIDC checks cfg and fetches the JWKS once, so a wrong URL fails at start rather than
// at the first request.
func NewOIDC(ctx context.Context, cfg OIDCConfig) (*OIDC, error) {
	invalid := func(format string, args ...any) error {
		return provgraph.Errorf(provgraph.Invalid, "oidc: "+format, args...)
	}
	if cfg.Issuer == "" || cfg.Audience == "" || cfg.JWKSURL == "" {
		return nil, invalid("an issuer, an audience and a JWKS URL are all required")
	}
	if u, err := url.Parse(cfg.JWKSURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, invalid("the JWKS URL %q is not an http(s) URL", cfg.JWKSURL)
	}
	if len(cfg.Algorithms) == 0 {
		cfg.Algorithms = []string{"RS256", "ES256"}
	}
	algs := make(map[string]jwa.SignatureAlgorithm, len(cfg.Algorithms))
	for _, name := range cfg.Algorithms {
		alg, known := jwa.LookupSignatureAlgorithm(name)
		if asymmetric[name] == nil || !known {
			return nil, invalid("algorithm %q is not allowed; use asymmetric ones such as RS256 or ES256", name)
		}
		algs[name] = alg
	}
	if cfg.GroupsClaim == "" {
		cfg.GroupsClaim = "groups"
	}
	if cfg.RolesClaim == "" {
		cfg.RolesClaim = "roles"
	}
	for name, r := range cfg.RoleMap {
		if rank[r] == 0 || !validRoleName(name) {
			return nil, invalid("the role map's %q=%q is not a claim value mapped to reader, writer or admin", name, r)
		}
	}
	if cfg.Leeway < 0 {
		return nil, invalid("the leeway must not be negative")
	}
	if cfg.Leeway == 0 {
		cfg.Leeway = 30 * time.Second
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	o := &OIDC{cfg: cfg, algs: algs, minRefetch: minRefetch}
	keys, err := o.fetch(ctx)
	if err != nil {
		return nil, provgraph.Wrap(provgraph.Unavailable, err, "oidc: the JWKS could not be loaded")
	}
	now := time.Now()
	o.keys, o.fetched, o.tried = keys, now, now
	return o, nil
}

// Recognises JWTs in compact form.
func (o *OIDC) Recognises(bearer string) bool { return isJWT(bearer) }

// Authenticate verifies the signature with a JWKS key chosen by the header's kid, for an
// algorithm on the allow-list and of that key's type; then the issuer, audience and
// times. Keys embedded in the token (jwk, jku, x5u headers) are never used.
func (o *OIDC) Authenticate(ctx context.Context, bearer string) (Principal, error) {
	if !canonicalJWS(bearer) {
		return Principal{}, errBadToken()
	}
	payload, err := jws.Verify([]byte(bearer),
		jws.WithCompact(),
		jws.WithKeyProvider(jws.KeyProviderFunc(o.fetchKeys)),
		jws.WithCritValidation(true),
		jws.WithContext(ctx),
	)
	// The payload must be a claims set: a nested token would be a second layer to
	// verify, and issuers do not send those.
	var claims map[string]any
	if err != nil || json.Unmarshal(payload, &claims) != nil || claims == nil {
		return Principal{}, errBadToken()
	}
	tok, err := jwt.Parse(payload,
		jwt.WithVerify(false), // verified above, with crit checking jwt.Parse cannot do
		jwt.WithValidate(true),
		jwt.WithIssuer(o.cfg.Issuer),
		jwt.WithAudience(o.cfg.Audience),
		jwt.WithAcceptableSkew(o.cfg.Leeway),
		jwt.WithRequiredClaim(jwt.ExpirationKey),
		jwt.WithRequiredClaim(jwt.SubjectKey),
	)
	if err != nil {
		return Principal{}, errBadToken()
	}
	sub, ok := tok.Subject()
	// OpenID Connect bounds sub at 255 ASCII characters; the subject is also a key of
	// the graph's index on users, which a longer one could overflow.
	if !ok || sub == "" || len(sub) > maxSubject {
		return Principal{}, errBadToken()
	}
	name := sub
	for _, c := range []string{"name", "preferred_username", "email"} {
		if s, _ := claims[c].(string); s != "" && len(s) <= maxSubject {
			name = s
			break
		}
	}
	return Principal{Subject: "oidc:" + sub, Name: name, Role: highestRole(claim(claims, o.cfg.RolesClaim), o.cfg.RoleMap),
		Groups: groups(claim(claims, o.cfg.GroupsClaim))}, nil
}

// maxSubject bounds the bytes of a token's subject and of the name shown for it.
const maxSubject = 255

// canonicalJWS admits only the compact form with canonical base64url segments, so a
// token has exactly one spelling: no padding, whitespace or stray trailing bits.
func canonicalJWS(s string) bool {
	if len(s) > maxBearer || !isJWT(s) {
		return false
	}
	for i, seg := range strings.Split(s, ".") {
		if seg == "" && i < 2 {
			return false
		}
		for _, c := range []byte(seg) {
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
		if _, err := base64.RawURLEncoding.Strict().DecodeString(seg); err != nil {
			return false
		}
	}
	return true
}

// fetchKeys is the jws.KeyProvider: the algorithm comes from the protected header, is
// checked against the allow-list, and is only ever paired with keys it fits.
func (o *OIDC) fetchKeys(ctx context.Context, sink jws.KeySink, sig *jws.Signature, _ *jws.Message) error {
	h := sig.ProtectedHeaders()
	if h == nil {
		return fmt.Errorf("no protected header")
	}
	hAlg, _ := h.Algorithm()
	alg, ok := o.algs[hAlg.String()]
	if !ok {
		return fmt.Errorf("algorithm not allowed")
	}
	kid, _ := h.KeyID()
	keys := o.keysFor(ctx, kid, alg.String())
	if len(keys) == 0 {
		return fmt.Errorf("no key for the token")
	}
	for _, k := range keys {
		sink.Key(alg, k)
	}
	return nil
}

// keysFor returns the keys that may verify a token with kid and alg (any kid when the
// token names none), refreshing the JWKS when it is old or does not know kid.
func (o *OIDC) keysFor(ctx context.Context, kid, alg string) []any {
	o.mu.Lock()
	stale := time.Since(o.fetched) > refreshAfter
	o.mu.Unlock()
	if stale {
		o.refresh(ctx)
	}
	keys := o.match(kid, alg)
	if len(keys) == 0 && kid != "" {
		o.refresh(ctx) // the issuer may have rotated its keys
		keys = o.match(kid, alg)
	}
	return keys
}

func (o *OIDC) match(kid, alg string) []any {
	o.mu.Lock()
	defer o.mu.Unlock()
	var keys []any
	for _, k := range o.keys {
		if (kid == "" || k.kid == kid) && (k.alg == "" || k.alg == alg) && asymmetric[alg](k.key) {
			keys = append(keys, k.key)
		}
	}
	return keys
}

// refresh fetches the JWKS unless a fetch was tried within minRefetch. On failure the
// keys already held stay in use: an issuer outage should not log everyone out.
func (o *OIDC) refresh(ctx context.Context) {
	o.fetchMu.Lock()
	defer o.fetchMu.Unlock()
	o.mu.Lock()
	recent := time.Since(o.tried) < o.minRefetch
	if !recent {
		o.tried = time.Now()
	}
	o.mu.Unlock()
	if recent {
		return
	}
	keys, err := o.fetch(ctx)
	if err != nil {
		return
	}
	o.mu.Lock()
	o.keys, o.fetched = keys, time.Now()
	o.mu.Unlock()
}

// fetch reads the JWKS and keeps the public signing keys of the algorithms we support.
func (o *OIDC) fetch(ctx context.Context) ([]publicKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, o.cfg.JWKSURL, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := o.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", o.cfg.JWKSURL, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKS+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxJWKS {
		return nil, fmt.Errorf("GET %s: the JWKS is larger than %d bytes", o.cfg.JWKSURL, maxJWKS)
	}
	// Keys are parsed one by one: a key we cannot use (an encryption key, a curve we do
	// not know, a short RSA modulus) must not take the others down with it.
	var jwks struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &jwks); err != nil {
		return nil, fmt.Errorf("GET %s: not a JWKS: %w", o.cfg.JWKSURL, err)
	}
	var keys []publicKey
	for _, raw := range jwks.Keys {
		if pk, ok := signingKey(raw); ok {
			keys = append(keys, pk)
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("GET %s: the JWKS holds no usable signing key", o.cfg.JWKSURL)
	}
	return keys, nil
}

// signingKey keeps a JWK if it is an asymmetric public key meant for signatures.
func signingKey(raw []byte) (publicKey, bool) {
	k, err := jwk.ParseKey(raw)
	if err != nil {
		return publicKey{}, false
	}
	if _, unsupported := k.(jwk.UnsupportedKey); unsupported {
		return publicKey{}, false
	}
	if use, ok := k.KeyUsage(); ok && use != "" && use != jwk.ForSignature.String() {
		return publicKey{}, false
	}
	pub, err := jwk.PublicRawKeyOf(k)
	if err != nil {
		return publicKey{}, false
	}
	_, isEC := pub.(*ecdsa.PublicKey)
	if !isRSA(pub) && !isEC && !isEd25519(pub) {
		return publicKey{}, false // symmetric, or RSA under 2048 bits
	}
	pk := publicKey{key: pub}
	pk.kid, _ = k.KeyID()
	if a, ok := k.Algorithm(); ok {
		pk.alg = a.String()
	}
	return pk, true
}

// claim finds the roles claim: a literal name first (namespaced claims such as
// "https://example.org/roles" contain dots), then a dotted path through objects.
func claim(claims map[string]any, path string) any {
	if v, ok := claims[path]; ok {
		return v
	}
	var v any = claims
	for part := range strings.SplitSeq(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[part]
	}
	return v
}

// maxGroups bounds the groups taken from one token; the rest are ignored.
const maxGroups = 256

// groups reads a groups claim: space-separated names or an array of strings. Names that
// could not be a group are ignored, as unknown roles are.
func groups(v any) []string {
	var out []string
	for _, n := range names(v) {
		if registry.ValidGroup(n) && len(out) < maxGroups {
			out = append(out, n)
		}
	}
	return out
}

// highestRole picks the strongest role in a string (space-separated names) or an array
// of strings, each name read through roleMap (when empty, the role names themselves, in
// any case); unknown names are ignored.
func highestRole(v any, roleMap map[string]Role) Role {
	var best Role
	for _, n := range names(v) {
		r := Role(strings.ToLower(n))
		if len(roleMap) > 0 {
			r = roleMap[n]
		}
		if rank[r] > rank[best] {
			best = r
		}
	}
	return best
}

// validRoleName is a claim value a role map may name: no spaces (a claim may be a
// space-separated string), no ',' or '=' (the map's own separators), at most 255 bytes.
func validRoleName(s string) bool {
	return s != "" && len(s) <= 255 && !strings.ContainsAny(s, ",=") && strings.IndexFunc(s, unicode.IsSpace) < 0
}

// ParseRoleMap reads a role map written as comma-separated claim=role pairs, e.g.
// "entity-registry-read=reader,entity-registry-write=writer,entity-registry-admin=admin".
// Empty is no map. A malformed pair, an unknown role or a claim value named twice is
// an invalid error naming it.
func ParseRoleMap(s string) (map[string]Role, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	out := map[string]Role{}
	for pair := range strings.SplitSeq(s, ",") {
		name, role, ok := strings.Cut(strings.TrimSpace(pair), "=")
		name = strings.TrimSpace(name)
		if !ok || !validRoleName(name) {
			return nil, roleMapError("%q is not claim-value=role (a claim value has no spaces, ',' or '=')", strings.TrimSpace(pair))
		}
		r, err := ParseRole(role)
		if err != nil {
			return nil, roleMapError("%q maps to %q, which is not reader, writer or admin", name, strings.TrimSpace(role))
		}
		if _, dup := out[name]; dup {
			return nil, roleMapError("%q is mapped twice", name)
		}
		out[name] = r
	}
	return out, nil
}

// names reads a claim of names: a string of space-separated names or an array of strings.
func names(v any) []string {
	var out []string
	switch x := v.(type) {
	case string:
		out = strings.Fields(x)
	case []any:
		for _, item := range x {
			if s, ok := item.(string); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

func roleMapError(format string, args ...any) error {
	return provgraph.Errorf(provgraph.Invalid, "role map: "+format, args...)
}
