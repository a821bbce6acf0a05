package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"provgraph"
)

func TestRoleAllows(t *testing.T) {
	roles := []Role{"", Reader, Writer, Admin}
	// want[i][j]: roles[i] allows roles[j]
	want := [][]bool{
		{false, false, false, false},
		{false, true, false, false},
		{false, true, true, false},
		{false, true, true, true},
	}
	for i, have := range roles {
		for j, need := range roles {
			if got := have.Allows(need); got != want[i][j] {
				t.Errorf("%q.Allows(%q) = %v, want %v", have, need, got, want[i][j])
			}
		}
	}
	if _, err := ParseRole("root"); provgraph.ErrorCode(err) != provgraph.Invalid {
		t.Fatalf("ParseRole(root): %v", err)
	}
}

func TestStatic(t *testing.T) {
	a := Static("s3cret-token-123456", Admin, "env:admin")
	if p, err := a.Authenticate(t.Context(), "s3cret-token-123456"); err != nil || p.Role != Admin {
		t.Fatalf("good token: %v %+v", err, p)
	}
	if _, err := a.Authenticate(t.Context(), "s3cret-token-123457"); provgraph.ErrorCode(err) != provgraph.Unauthorized {
		t.Fatalf("bad token: %v", err)
	}
}

func TestLocalTokens(t *testing.T) {
	path := filepath.Join(t.TempDir(), "var", "tokens.json")
	store := LocalTokens(path)
	if has, err := store.HasAny(); err != nil || has {
		t.Fatalf("missing file: %v %v", has, err)
	}
	tok, rec, err := CreateLocalToken(path, "ci", Writer)
	if err != nil {
		t.Fatal(err)
	}
	p, err := store.Authenticate(t.Context(), tok)
	if err != nil || p.Role != Writer || p.Subject != "local:"+rec.ID || p.Name != "ci" {
		t.Fatalf("authenticate: %v %+v", err, p)
	}
	if _, err := store.Authenticate(t.Context(), tok+"x"); provgraph.ErrorCode(err) != provgraph.Unauthorized {
		t.Fatalf("wrong token: %v", err)
	}
	b, _ := os.ReadFile(path)
	secret := strings.TrimPrefix(tok, localPrefix)
	if strings.Contains(string(b), secret) {
		t.Fatal("the token file holds the token")
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", st.Mode().Perm())
	}
	// Created by another process while the store is in use: picked up without restart.
	tok2, _, err := CreateLocalToken(path, "later", Reader)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := store.Authenticate(t.Context(), tok2); err != nil || p.Role != Reader {
		t.Fatalf("reload: %v %+v", err, p)
	}
}

func TestConcurrentCreatesAllSurvive(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.json")
	const n = 50
	toks := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok, _, err := CreateLocalToken(path, "t", Reader)
			if err != nil {
				t.Error(err)
			}
			toks[i] = tok
		}()
	}
	wg.Wait()
	recs, err := ListLocalTokens(path)
	if err != nil || len(recs) != n {
		t.Fatalf("%d of %d tokens survived (%v)", len(recs), n, err)
	}
	store := LocalTokens(path)
	for _, tok := range toks {
		if _, err := store.Authenticate(t.Context(), tok); err != nil {
			t.Fatal(err)
		}
	}
}

// issuer serves a JWKS on loopback and signs tokens.
type issuer struct {
	srv  *httptest.Server
	key  *rsa.PrivateKey
	ec   *ecdsa.PrivateKey
	kid  string
	jwks []byte
}

func newIssuer(t *testing.T) *issuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	is := &issuer{key: key, ec: ec, kid: "k1"}
	pub, _ := jwk.Import(key.Public())
	pub.Set(jwk.KeyIDKey, "k1")
	pub.Set(jwk.AlgorithmKey, jwa.RS256())
	ecpub, _ := jwk.Import(ec.Public())
	ecpub.Set(jwk.KeyIDKey, "e1")
	ecpub.Set(jwk.AlgorithmKey, jwa.ES256())
	set := jwk.NewSet()
	set.AddKey(pub)
	set.AddKey(ecpub)
	is.jwks, _ = json.Marshal(set)
	is.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(is.jwks)
	}))
	t.Cleanup(is.srv.Close)
	return is
}

func (is *issuer) claims(mod func(jwt.Token)) jwt.Token {
	tok := jwt.New()
	tok.Set(jwt.IssuerKey, "https://issuer.test")
	tok.Set(jwt.AudienceKey, []string{"provgraph"})
	tok.Set(jwt.SubjectKey, "user-1")
	tok.Set(jwt.ExpirationKey, time.Now().Add(time.Hour))
	tok.Set(jwt.IssuedAtKey, time.Now())
	tok.Set("roles", []string{"reader", "writer"})
	if mod != nil {
		mod(tok)
	}
	return tok
}

func (is *issuer) sign(t *testing.T, tok jwt.Token, key *rsa.PrivateKey, kid string) string {
	t.Helper()
	k, _ := jwk.Import(key)
	k.Set(jwk.KeyIDKey, kid)
	b, err := jwt.Sign(tok, jwt.WithKey(jwa.RS256(), k))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// rawJWT builds a token by hand, for algorithms the library will not produce.
func rawJWT(header, claims map[string]any, sig []byte) string {
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	enc := base64.RawURLEncoding.EncodeToString
	return enc(h) + "." + enc(c) + "." + enc(sig)
}

func TestOIDC(t *testing.T) {
	is := newIssuer(t)
	o, err := NewOIDC(t.Context(), OIDCConfig{Issuer: "https://issuer.test", Audience: "provgraph", JWKSURL: is.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	good := is.sign(t, is.claims(nil), is.key, "k1")
	pubDER, _ := x509.MarshalPKIXPublicKey(is.key.Public())
	tests := []struct {
		name  string
		token string
		role  Role
		ok    bool
	}{
		{"good", good, Writer, true},
		{"expired", is.sign(t, is.claims(func(c jwt.Token) { c.Set(jwt.ExpirationKey, time.Now().Add(-2*time.Minute)) }), is.key, "k1"), "", false},
		{"expired within leeway", is.sign(t, is.claims(func(c jwt.Token) { c.Set(jwt.ExpirationKey, time.Now().Add(-10*time.Second)) }), is.key, "k1"), Writer, true},
		{"not yet valid", is.sign(t, is.claims(func(c jwt.Token) { c.Set(jwt.NotBeforeKey, time.Now().Add(5*time.Minute)) }), is.key, "k1"), "", false},
		{"wrong audience", is.sign(t, is.claims(func(c jwt.Token) { c.Set(jwt.AudienceKey, []string{"someone-else"}) }), is.key, "k1"), "", false},
		{"wrong issuer", is.sign(t, is.claims(func(c jwt.Token) { c.Set(jwt.IssuerKey, "https://evil.test") }), is.key, "k1"), "", false},
		{"wrong signature, same kid", is.sign(t, is.claims(nil), other, "k1"), "", false},
		{"unknown kid", is.sign(t, is.claims(nil), other, "k9"), "", false},
		{"alg none", rawJWT(map[string]any{"alg": "none", "typ": "JWT"}, map[string]any{"iss": "https://issuer.test", "aud": "provgraph", "sub": "x", "exp": time.Now().Add(time.Hour).Unix(), "roles": "admin"}, nil), "", false},
		{"HS256 keyed with the public key", hsConfusion(pubDER), "", false},
		{"tampered claims", tamper(good), "", false},
		{"admin as a string", is.sign(t, is.claims(func(c jwt.Token) { c.Set("roles", "admin") }), is.key, "k1"), Admin, true},
		{"unknown roles ignored", is.sign(t, is.claims(func(c jwt.Token) { c.Set("roles", []string{"root", "reader"}) }), is.key, "k1"), Reader, true},
		{"no role claim", is.sign(t, is.claims(func(c jwt.Token) { c.Remove("roles") }), is.key, "k1"), "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Chain(o).Authenticate(t.Context(), tt.token)
			if (err == nil) != tt.ok {
				t.Fatalf("err %v, want ok=%v", err, tt.ok)
			}
			if err != nil && provgraph.ErrorCode(err) != provgraph.Unauthorized {
				t.Fatalf("code %v", err)
			}
			if p.Role != tt.role {
				t.Fatalf("role %q, want %q", p.Role, tt.role)
			}
			if tt.ok && p.Subject != "oidc:user-1" {
				t.Fatalf("subject %q", p.Subject)
			}
		})
	}

	nested, err := NewOIDC(t.Context(), OIDCConfig{Issuer: "https://issuer.test", Audience: "provgraph", JWKSURL: is.srv.URL, RolesClaim: "realm_access.roles"})
	if err != nil {
		t.Fatal(err)
	}
	tok := is.sign(t, is.claims(func(c jwt.Token) { c.Set("realm_access", map[string]any{"roles": []string{"admin"}}) }), is.key, "k1")
	if p, err := nested.Authenticate(t.Context(), tok); err != nil || p.Role != Admin {
		t.Fatalf("nested roles: %v %+v", err, p)
	}
	if _, err := NewOIDC(t.Context(), OIDCConfig{Issuer: "i", Audience: "a", JWKSURL: is.srv.URL, Algorithms: []string{"HS256"}}); err == nil {
		t.Fatal("HS256 allowed")
	}
}

func hsConfusion(pubDER []byte) string {
	k, _ := jwk.Import(pubDER)
	tok := jwt.New()
	tok.Set(jwt.IssuerKey, "https://issuer.test")
	tok.Set(jwt.AudienceKey, "provgraph")
	tok.Set(jwt.SubjectKey, "user-1")
	tok.Set(jwt.ExpirationKey, time.Now().Add(time.Hour))
	k.Set(jwk.KeyIDKey, "k1")
	b, err := jwt.Sign(tok, jwt.WithKey(jwa.HS256(), k))
	if err != nil {
		panic(err)
	}
	return string(b)
}

func tamper(tok string) string {
	parts := strings.Split(tok, ".")
	var c map[string]any
	b, _ := base64.RawURLEncoding.DecodeString(parts[1])
	json.Unmarshal(b, &c)
	c["roles"] = []string{"admin"}
	nb, _ := json.Marshal(c)
	parts[1] = base64.RawURLEncoding.EncodeToString(nb)
	return strings.Join(parts, ".")
}

func FuzzAuthenticate(f *testing.F) {
	path := filepath.Join(f.TempDir(), "tokens.json")
	CreateLocalToken(path, "f", Reader)
	a := Chain(Static("static-token-0123456789", Admin, "env"), LocalTokens(path))
	f.Add("pgt_AAAA")
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := a.Authenticate(context.Background(), s)
		if err == nil && s != "static-token-0123456789" {
			t.Fatalf("accepted %q as %+v", s, p)
		}
	})
}
