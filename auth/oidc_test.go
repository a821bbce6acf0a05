package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	_ "crypto/sha512" // crypto.SHA384 for RS384
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"maps"
	"math/big"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"provgraph"
)

const (
	testIss = "https://issuer.test/realms/provgraph"
	testAud = "provgraph"
)

type testKeys struct {
	rsa   *rsa.PrivateKey   // "k1" in the JWKS, alg RS256
	bare  *rsa.PrivateKey   // "k2" in the JWKS, no alg
	ec    *ecdsa.PrivateKey // "e1" in the JWKS, alg ES256
	other *rsa.PrivateKey   // "enc1" in the JWKS, for encryption only
	newer *rsa.PrivateKey   // "k3", published only after a rotation
	weak  *rsa.PrivateKey   // 1024 bits, "weak" in the JWKS
}

// keys are generated once: RSA key generation under -race is slow.
var keys = sync.OnceValue(func() testKeys {
	gen := func() *rsa.PrivateKey {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		return k
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		panic(err)
	}
	return testKeys{rsa: gen(), bare: gen(), ec: ec, other: gen(), newer: gen(), weak: weak}
})

// testIssuer serves a JWKS on loopback and counts the fetches.
type testIssuer struct {
	URL string

	mu      sync.Mutex
	jwks    []map[string]any
	status  int
	fetches int
}

func newTestIssuer(t testing.TB) *testIssuer {
	t.Helper()
	k := keys()
	enc := publicJWK(t, "enc1", "", &k.other.PublicKey)
	enc["use"] = "enc"
	is := &testIssuer{status: http.StatusOK, jwks: []map[string]any{
		publicJWK(t, "k1", "RS256", &k.rsa.PublicKey),
		publicJWK(t, "k2", "", &k.bare.PublicKey),
		publicJWK(t, "e1", "ES256", &k.ec.PublicKey),
		publicJWK(t, "e2", "", &k.ec.PublicKey),
		publicJWK(t, "weak", "RS256", &k.weak.PublicKey),
		enc,
	}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		is.mu.Lock()
		defer is.mu.Unlock()
		is.fetches++
		if is.status != http.StatusOK {
			w.WriteHeader(is.status)
			return
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		json.NewEncoder(w).Encode(map[string]any{"keys": is.jwks})
	}))
	t.Cleanup(srv.Close)
	is.URL = srv.URL
	return is
}

func (is *testIssuer) setKeys(jwks ...map[string]any) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.jwks = jwks
}

func (is *testIssuer) setStatus(code int) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.status = code
}

func (is *testIssuer) fetchCount() int {
	is.mu.Lock()
	defer is.mu.Unlock()
	return is.fetches
}

func (is *testIssuer) config() OIDCConfig {
	return OIDCConfig{Issuer: testIss, Audience: testAud, JWKSURL: is.URL}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// publicJWK writes a JWK by hand, so the tests do not trust the library they test.
func publicJWK(t testing.TB, kid, alg string, pub any) map[string]any {
	t.Helper()
	var k map[string]any
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		k = map[string]any{"kty": "RSA", "n": b64(pub.N.Bytes()), "e": b64(big.NewInt(int64(pub.E)).Bytes())}
	case *ecdsa.PublicKey:
		p, err := pub.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		k = map[string]any{"kty": "EC", "crv": "P-256", "x": b64(p[1:33]), "y": b64(p[33:])}
	case []byte:
		k = map[string]any{"kty": "oct", "k": b64(pub)}
	default:
		t.Fatalf("publicJWK: %T", pub)
	}
	k["kid"], k["use"] = kid, "sig"
	if alg != "" {
		k["alg"] = alg
	}
	return k
}

// signer signs a JWS signing input.
type signer func(input []byte) []byte

func rs(key *rsa.PrivateKey, h crypto.Hash) signer {
	return func(input []byte) []byte {
		d := h.New()
		d.Write(input)
		sig, err := rsa.SignPKCS1v15(nil, key, h, d.Sum(nil))
		if err != nil {
			panic(err)
		}
		return sig
	}
}

func es256(key *ecdsa.PrivateKey) signer { return es(key, crypto.SHA256) }

// es signs with any hash, to make tokens whose curve does not match their algorithm.
func es(key *ecdsa.PrivateKey, h crypto.Hash) signer {
	return func(input []byte) []byte {
		d := h.New()
		d.Write(input)
		r, s, err := ecdsa.Sign(rand.Reader, key, d.Sum(nil))
		if err != nil {
			panic(err)
		}
		return append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...)
	}
}

func hs256(secret []byte) signer {
	return func(input []byte) []byte {
		m := hmac.New(sha256.New, secret)
		m.Write(input)
		return m.Sum(nil)
	}
}

func unsigned([]byte) []byte { return nil }

// mintRaw builds a compact JWS by hand, for headers and algorithms no library would sign.
func mintRaw(header map[string]any, payload []byte, sign signer) string {
	h, err := json.Marshal(header)
	if err != nil {
		panic(err)
	}
	input := b64(h) + "." + b64(payload)
	return input + "." + b64(sign([]byte(input)))
}

func mint(header, claims map[string]any, sign signer) string {
	c, err := json.Marshal(claims)
	if err != nil {
		panic(err)
	}
	return mintRaw(header, c, sign)
}

func hdr(alg, kid string) map[string]any {
	h := map[string]any{"alg": alg, "typ": "JWT"}
	if kid != "" {
		h["kid"] = kid
	}
	return h
}

// claims are valid for an hour, with the reader and writer roles, changed by mods.
func claims(mods ...func(c map[string]any)) map[string]any {
	now := time.Now()
	c := map[string]any{
		"iss": testIss, "aud": testAud, "sub": "user-1", "preferred_username": "ada",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "roles": []string{"reader", "writer"},
	}
	for _, m := range mods {
		m(c)
	}
	return c
}

func set(name string, v any) func(map[string]any) { return func(c map[string]any) { c[name] = v } }
func del(name string) func(map[string]any)        { return func(c map[string]any) { delete(c, name) } }
func at(d time.Duration) int64                    { return time.Now().Add(d).Unix() }

func mustOIDC(t *testing.T, cfg OIDCConfig) *OIDC {
	t.Helper()
	o, err := NewOIDC(t.Context(), cfg)
	if err != nil {
		t.Fatalf("NewOIDC: %v", err)
	}
	return o
}

// flipUnusedBits rewrites the last character of a token so it decodes to the same bytes
// through a lax base64 decoder: a second spelling of the same token.
func flipUnusedBits(tok string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, tok[len(tok)-1])
	return tok[:len(tok)-1] + string(alphabet[last^1])
}

func TestOIDC(t *testing.T) {
	k := keys()
	is := newTestIssuer(t)
	o := mustOIDC(t, is.config())

	good := mint(hdr("RS256", "k1"), claims(), rs(k.rsa, crypto.SHA256))
	pubDER, err := x509.MarshalPKIXPublicKey(&k.rsa.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	attackerJWK := publicJWK(t, "evil", "RS256", &k.other.PublicKey)
	withJWK := hdr("RS256", "evil")
	withJWK["jwk"] = attackerJWK
	withCrit := hdr("RS256", "k1")
	withCrit["crit"], withCrit["x-unknown"] = []string{"x-unknown"}, true
	tampered := strings.Split(good, ".")
	tampered[1] = b64(must(json.Marshal(claims(set("roles", "admin")))))

	tests := []struct {
		name     string
		token    string
		wantRole Role
		wantErr  bool
	}{
		{name: "good RS256", token: good, wantRole: Writer},
		{name: "good ES256", token: mint(hdr("ES256", "e1"), claims(), es256(k.ec)), wantRole: Writer},
		{name: "good without alg in the JWK", token: mint(hdr("RS256", "k2"), claims(), rs(k.bare, crypto.SHA256)), wantRole: Writer},
		{name: "no kid, key found by trying", token: mint(hdr("RS256", ""), claims(), rs(k.rsa, crypto.SHA256)), wantRole: Writer},
		{name: "audience among several", token: mint(hdr("RS256", "k1"), claims(set("aud", []string{"other", testAud})), rs(k.rsa, crypto.SHA256)), wantRole: Writer},
		{name: "expired within leeway", token: mint(hdr("RS256", "k1"), claims(set("exp", at(-10*time.Second))), rs(k.rsa, crypto.SHA256)), wantRole: Writer},
		{name: "not yet valid within leeway", token: mint(hdr("RS256", "k1"), claims(set("nbf", at(10*time.Second))), rs(k.rsa, crypto.SHA256)), wantRole: Writer},

		{name: "expired beyond leeway", token: mint(hdr("RS256", "k1"), claims(set("exp", at(-2*time.Minute))), rs(k.rsa, crypto.SHA256)), wantErr: true},
		{name: "not yet valid beyond leeway", token: mint(hdr("RS256", "k1"), claims(set("nbf", at(5*time.Minute))), rs(k.rsa, crypto.SHA256)), wantErr: true},
		{name: "issued in the future", token: mint(hdr("RS256", "k1"), claims(set("iat", at(5*time.Minute))), rs(k.rsa, crypto.SHA256)), wantErr: true},
		{name: "no exp", token: mint(hdr("RS256", "k1"), claims(del("exp")), rs(k.rsa, crypto.SHA256)), wantErr: true},
		{name: "no sub", token: mint(hdr("RS256", "k1"), claims(del("sub")), rs(k.rsa, crypto.SHA256)), wantErr: true},
		{name: "sub over 255 bytes", token: mint(hdr("RS256", "k1"), claims(set("sub", strings.Repeat("é", 128))), rs(k.rsa, crypto.SHA256)), wantErr: true},
		{name: "wrong audience", token: mint(hdr("RS256", "k1"), claims(set("aud", "someone-else")), rs(k.rsa, crypto.SHA256)), wantErr: true},
		{name: "no audience", token: mint(hdr("RS256", "k1"), claims(del("aud")), rs(k.rsa, crypto.SHA256)), wantErr: true},
		{name: "wrong issuer", token: mint(hdr("RS256", "k1"), claims(set("iss", "https://evil.test")), rs(k.rsa, crypto.SHA256)), wantErr: true},
		{name: "issuer with a trailing slash", token: mint(hdr("RS256", "k1"), claims(set("iss", testIss+"/")), rs(k.rsa, crypto.SHA256)), wantErr: true},
		{name: "wrong signature, same kid", token: mint(hdr("RS256", "k1"), claims(), rs(k.other, crypto.SHA256)), wantErr: true},
		{name: "wrong signature, no kid", token: mint(hdr("RS256", ""), claims(), rs(k.other, crypto.SHA256)), wantErr: true},
		{name: "unknown kid", token: mint(hdr("RS256", "k9"), claims(), rs(k.other, crypto.SHA256)), wantErr: true},
		{name: "tampered claims", token: strings.Join(tampered, "."), wantErr: true},
		{name: "alg none", token: mint(hdr("none", ""), claims(set("roles", "admin")), unsigned), wantErr: true},
		{name: "alg none with a kid", token: mint(hdr("none", "k1"), claims(set("roles", "admin")), unsigned), wantErr: true},
		{name: "HS256 keyed with the public key PEM", token: mint(hdr("HS256", "k1"), claims(), hs256(pubPEM)), wantErr: true},
		{name: "HS256 keyed with the public key DER", token: mint(hdr("HS256", "k1"), claims(), hs256(pubDER)), wantErr: true},
		{name: "key meant for encryption", token: mint(hdr("RS256", "enc1"), claims(), rs(k.other, crypto.SHA256)), wantErr: true},
		{name: "RSA key under 2048 bits", token: mint(hdr("RS256", "weak"), claims(), rs(k.weak, crypto.SHA256)), wantErr: true},
		{name: "RS384 not on the allow-list", token: mint(hdr("RS384", "k2"), claims(), rs(k.bare, crypto.SHA384)), wantErr: true},
		{name: "alg differs from the JWK's alg", token: mint(hdr("ES256", "k1"), claims(), es256(k.ec)), wantErr: true},
		{name: "key embedded in the header", token: mint(withJWK, claims(), rs(k.other, crypto.SHA256)), wantErr: true},
		{name: "unknown critical header", token: mint(withCrit, claims(), rs(k.rsa, crypto.SHA256)), wantErr: true},
		{name: "nested token as payload", token: mintRaw(hdr("RS256", "k1"), []byte(good), rs(k.rsa, crypto.SHA256)), wantErr: true},
		{name: "second spelling of the signature", token: flipUnusedBits(good), wantErr: true},
		{name: "trailing newline", token: good + "\n", wantErr: true},
		{name: "padded", token: good + "=", wantErr: true},
		{name: "JSON serialisation", token: `{"payload":"a.b","signatures":[{"protected":"c"}]}`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Chain(o).Authenticate(t.Context(), tt.token)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("accepted as %+v", got)
				}
				if code := provgraph.ErrorCode(err); code != provgraph.Unauthorized {
					t.Fatalf("code = %s, want %s (%v)", code, provgraph.Unauthorized, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("rejected: %v", err)
			}
			want := Principal{Subject: "oidc:user-1", Name: "ada", Role: tt.wantRole}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("got %+v, want %+v", got, want)
			}
		})
	}
}

// OpenID Connect's bound on sub, 255 bytes, is ours: it is a key of the users' index.
func TestOIDCSubjectAtItsLimit(t *testing.T) {
	k := keys()
	o := mustOIDC(t, newTestIssuer(t).config())
	long := strings.Repeat("s", 255)
	got, err := Chain(o).Authenticate(t.Context(), mint(hdr("RS256", "k1"), claims(set("sub", long), set("name", strings.Repeat("n", 256)), del("preferred_username")), rs(k.rsa, crypto.SHA256)))
	if err != nil || got.Subject != "oidc:"+long || got.Name != long {
		t.Fatalf("got %+v, %v; a name too long to show gives way to the subject", got, err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestOIDCRoles(t *testing.T) {
	k := keys()
	is := newTestIssuer(t)
	tests := []struct {
		name   string
		claim  string // OIDCConfig.RolesClaim
		claims map[string]any
		want   Role
	}{
		{name: "string", claims: claims(set("roles", "admin")), want: Admin},
		{name: "space-separated string", claims: claims(set("roles", "reader writer")), want: Writer},
		{name: "array, highest wins", claims: claims(set("roles", []string{"reader", "admin", "writer"})), want: Admin},
		{name: "unknown names ignored", claims: claims(set("roles", []string{"root", "reader"})), want: Reader},
		{name: "case folded", claims: claims(set("roles", []string{"Writer"})), want: Writer},
		{name: "only unknown names", claims: claims(set("roles", []string{"root", "superuser"})), want: ""},
		{name: "no role claim", claims: claims(del("roles")), want: ""},
		{name: "not a string or array", claims: claims(set("roles", 3)), want: ""},
		{name: "non-strings in the array", claims: claims(set("roles", []any{1, map[string]any{"role": "admin"}, "reader"})), want: Reader},
		{name: "nested claim", claim: "realm_access.roles",
			claims: claims(set("realm_access", map[string]any{"roles": []string{"offline_access", "admin"}})), want: Admin},
		{name: "nested claim missing", claim: "realm_access.roles", claims: claims(), want: ""},
		{name: "nested path through a string", claim: "realm_access.roles", claims: claims(set("realm_access", "admin")), want: ""},
		{name: "namespaced claim with dots", claim: "https://provgraph.test/roles",
			claims: claims(set("https://provgraph.test/roles", []string{"writer"})), want: Writer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := is.config()
			cfg.RolesClaim = tt.claim
			o := mustOIDC(t, cfg)
			p, err := o.Authenticate(t.Context(), mint(hdr("RS256", "k1"), tt.claims, rs(k.rsa, crypto.SHA256)))
			if err != nil {
				t.Fatalf("rejected: %v", err)
			}
			if p.Role != tt.want {
				t.Fatalf("role = %q, want %q", p.Role, tt.want)
			}
		})
	}
}

func TestOIDCGroups(t *testing.T) {
	k := keys()
	is := newTestIssuer(t)
	tests := []struct {
		name   string
		claim  string // OIDCConfig.GroupsClaim
		claims map[string]any
		want   []string
	}{
		{name: "array", claims: claims(set("groups", []string{"reef-team", "/aims/modellers"})), want: []string{"reef-team", "/aims/modellers"}},
		{name: "space-separated string", claims: claims(set("groups", "reef-team csiro")), want: []string{"reef-team", "csiro"}},
		{name: "names that could not be groups ignored", claims: claims(set("groups", []any{"ok", "has,comma", 7, "", "-lead"})), want: []string{"ok"}},
		{name: "no claim", claims: claims(), want: nil},
		{name: "nested claim", claim: "realm_access.groups",
			claims: claims(set("realm_access", map[string]any{"groups": []string{"reef-team"}})), want: []string{"reef-team"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := is.config()
			cfg.GroupsClaim = tt.claim
			o := mustOIDC(t, cfg)
			p, err := o.Authenticate(t.Context(), mint(hdr("RS256", "k1"), tt.claims, rs(k.rsa, crypto.SHA256)))
			if err != nil {
				t.Fatalf("rejected: %v", err)
			}
			if !reflect.DeepEqual(p.Groups, tt.want) {
				t.Fatalf("groups = %q, want %q", p.Groups, tt.want)
			}
		})
	}
}

func TestOIDCAlgorithms(t *testing.T) {
	k := keys()
	is := newTestIssuer(t)
	cfg := is.config()
	cfg.Algorithms = []string{"RS384", "ES384"}
	o := mustOIDC(t, cfg)
	tests := []struct {
		name    string
		token   string
		wantErr bool
	}{
		{name: "RS384 allowed", token: mint(hdr("RS384", "k2"), claims(), rs(k.bare, crypto.SHA384))},
		{name: "RS256 no longer allowed", token: mint(hdr("RS256", "k2"), claims(), rs(k.bare, crypto.SHA256)), wantErr: true},
		{name: "ES384 with a P-256 key", token: mint(hdr("ES384", "e2"), claims(), es(k.ec, crypto.SHA384)), wantErr: true},
		{name: "RS384 with a JWK pinned to RS256", token: mint(hdr("RS384", "k1"), claims(), rs(k.rsa, crypto.SHA384)), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := o.Authenticate(t.Context(), tt.token)
			if gotErr := err != nil; gotErr != tt.wantErr {
				t.Fatalf("err = %v, want error: %v", err, tt.wantErr)
			}
		})
	}
}

func TestOIDCKeyRotation(t *testing.T) {
	k := keys()
	is := newTestIssuer(t)
	o := mustOIDC(t, is.config())
	byNewer := mint(hdr("RS256", "k3"), claims(), rs(k.newer, crypto.SHA256))
	byOld := mint(hdr("RS256", "k1"), claims(), rs(k.rsa, crypto.SHA256))
	is.setKeys(publicJWK(t, "k3", "RS256", &k.newer.PublicKey))

	// Just fetched: a flood of unknown kids must not reach the issuer.
	for range 20 {
		if _, err := o.Authenticate(t.Context(), byNewer); err == nil {
			t.Fatal("accepted a token whose key was published within minRefetch")
		}
	}
	if got, want := is.fetchCount(), 1; got != want {
		t.Fatalf("fetches = %d, want %d", got, want)
	}

	o.mu.Lock()
	o.minRefetch = 0
	o.mu.Unlock()
	if _, err := o.Authenticate(t.Context(), byNewer); err != nil {
		t.Fatalf("rotated key: %v", err)
	}
	if got, want := is.fetchCount(), 2; got != want {
		t.Fatalf("fetches = %d, want %d", got, want)
	}
	// The old key is gone from the JWKS we fetched: its tokens no longer verify.
	if _, err := o.Authenticate(t.Context(), byOld); err == nil {
		t.Fatal("accepted a token signed by a key no longer in the JWKS")
	}
}

func TestOIDCKeepsKeysWhenIssuerFails(t *testing.T) {
	k := keys()
	is := newTestIssuer(t)
	o := mustOIDC(t, is.config())
	is.setStatus(http.StatusInternalServerError)
	o.mu.Lock()
	o.minRefetch, o.fetched = 0, time.Now().Add(-refreshAfter-time.Minute) // stale: refetch now
	o.mu.Unlock()
	if _, err := o.Authenticate(t.Context(), mint(hdr("RS256", "k1"), claims(), rs(k.rsa, crypto.SHA256))); err != nil {
		t.Fatalf("rejected after a failed refresh: %v", err)
	}
	if got := is.fetchCount(); got < 2 {
		t.Fatalf("fetches = %d, want a refresh attempt", got)
	}
}

// A Provena Keycloak token: the roles are entity-registry-read|write|admin in
// realm_access.roles, mapped to reader, writer and admin by a role map; with a map, only
// the names it maps count (exactly, case and all).
func TestOIDCRoleMap(t *testing.T) {
	k := keys()
	is := newTestIssuer(t)
	provena := must(ParseRoleMap("entity-registry-read=reader,entity-registry-write=writer,entity-registry-admin=admin"))
	realm := func(roles ...string) map[string]any {
		return claims(set("realm_access", map[string]any{"roles": roles}), del("roles"))
	}
	tests := []struct {
		name    string
		roleMap map[string]Role
		claims  map[string]any
		want    Role
	}{
		{name: "read", roleMap: provena, claims: realm("offline_access", "uma_authorization", "entity-registry-read"), want: Reader},
		{name: "write", roleMap: provena, claims: realm("entity-registry-read", "entity-registry-write"), want: Writer},
		{name: "admin", roleMap: provena, claims: realm("entity-registry-admin", "entity-registry-read"), want: Admin},
		{name: "Provena's other roles grant nothing", roleMap: provena, claims: realm("offline_access", "handle-service-read"), want: ""},
		{name: "the plain names grant nothing with a map", roleMap: provena, claims: realm("admin", "writer"), want: ""},
		{name: "exact case", roleMap: provena, claims: realm("Entity-Registry-Admin"), want: ""},
		{name: "no map: Provena's names grant nothing", claims: realm("entity-registry-admin"), want: ""},
		{name: "no map: the plain names", claims: realm("writer"), want: Writer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := is.config()
			cfg.RolesClaim = "realm_access.roles"
			cfg.RoleMap = tt.roleMap
			o := mustOIDC(t, cfg)
			p, err := o.Authenticate(t.Context(), mint(hdr("RS256", "k1"), tt.claims, rs(k.rsa, crypto.SHA256)))
			if err != nil {
				t.Fatalf("rejected: %v", err)
			}
			if p.Role != tt.want {
				t.Fatalf("role = %q, want %q", p.Role, tt.want)
			}
		})
	}
}

func TestParseRoleMap(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want map[string]Role
		bad  bool
	}{
		{in: "", want: nil},
		{in: "  ", want: nil},
		{in: "entity-registry-read=reader, entity-registry-write = Writer ,entity-registry-admin=admin",
			want: map[string]Role{"entity-registry-read": Reader, "entity-registry-write": Writer, "entity-registry-admin": Admin}},
		{in: "https://example.org/roles/ops=admin", want: map[string]Role{"https://example.org/roles/ops": Admin}},
		{in: "a=reader,b=reader", want: map[string]Role{"a": Reader, "b": Reader}},
		{in: "entity-registry-read", bad: true},
		{in: "=reader", bad: true},
		{in: "a=root", bad: true},
		{in: "a=", bad: true},
		{in: "a=reader,a=admin", bad: true},
		{in: "a b=reader", bad: true},
		{in: "a=reader,", bad: true},
		{in: "a=b=reader", bad: true},
	} {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseRoleMap(tt.in)
			if tt.bad {
				if provgraph.ErrorCode(err) != provgraph.Invalid {
					t.Fatalf("accepted: %v %v", got, err)
				}
				return
			}
			if err != nil || !maps.Equal(got, tt.want) {
				t.Fatalf("got %v %v, want %v", got, err, tt.want)
			}
		})
	}
}

func TestNewOIDC(t *testing.T) {
	is := newTestIssuer(t)
	octOnly := newTestIssuer(t)
	octOnly.setKeys(publicJWK(t, "s1", "HS256", []byte("0123456789abcdef0123456789abcdef")))
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	notFound := newTestIssuer(t)
	notFound.setStatus(http.StatusNotFound)

	tests := []struct {
		name string
		cfg  func(c *OIDCConfig)
		want provgraph.Code
	}{
		{name: "defaults", cfg: func(c *OIDCConfig) {}},
		{name: "ES256 and PS256", cfg: func(c *OIDCConfig) { c.Algorithms = []string{"ES256", "PS256"} }},
		{name: "no issuer", cfg: func(c *OIDCConfig) { c.Issuer = "" }, want: provgraph.Invalid},
		{name: "no audience", cfg: func(c *OIDCConfig) { c.Audience = "" }, want: provgraph.Invalid},
		{name: "no JWKS URL", cfg: func(c *OIDCConfig) { c.JWKSURL = "" }, want: provgraph.Invalid},
		{name: "JWKS URL not http", cfg: func(c *OIDCConfig) { c.JWKSURL = "file:///etc/jwks.json" }, want: provgraph.Invalid},
		{name: "HS256", cfg: func(c *OIDCConfig) { c.Algorithms = []string{"RS256", "HS256"} }, want: provgraph.Invalid},
		{name: "none", cfg: func(c *OIDCConfig) { c.Algorithms = []string{"none"} }, want: provgraph.Invalid},
		{name: "unknown algorithm", cfg: func(c *OIDCConfig) { c.Algorithms = []string{"RS1"} }, want: provgraph.Invalid},
		{name: "negative leeway", cfg: func(c *OIDCConfig) { c.Leeway = -time.Second }, want: provgraph.Invalid},
		{name: "role map to an unknown role", cfg: func(c *OIDCConfig) { c.RoleMap = map[string]Role{"entity-registry-admin": "root"} }, want: provgraph.Invalid},
		{name: "role map from a name with a space", cfg: func(c *OIDCConfig) { c.RoleMap = map[string]Role{"registry admin": Admin} }, want: provgraph.Invalid},
		{name: "role map", cfg: func(c *OIDCConfig) { c.RoleMap = map[string]Role{"entity-registry-admin": Admin} }},
		{name: "JWKS unreachable", cfg: func(c *OIDCConfig) { c.JWKSURL = down.URL }, want: provgraph.Unavailable},
		{name: "JWKS not found", cfg: func(c *OIDCConfig) { c.JWKSURL = notFound.URL }, want: provgraph.Unavailable},
		{name: "JWKS with only a symmetric key", cfg: func(c *OIDCConfig) { c.JWKSURL = octOnly.URL }, want: provgraph.Unavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := is.config()
			tt.cfg(&cfg)
			_, err := NewOIDC(t.Context(), cfg)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("NewOIDC: %v", err)
				}
				return
			}
			if got := provgraph.ErrorCode(err); err == nil || got != tt.want {
				t.Fatalf("code = %v (err %v), want %s", got, err, tt.want)
			}
		})
	}
}
