package auth

import (
	"context"
	"crypto"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"provgraph"
)

func TestParseRole(t *testing.T) {
	tests := []struct {
		in      string
		want    Role
		wantErr bool
	}{
		{in: "reader", want: Reader},
		{in: "writer", want: Writer},
		{in: "admin", want: Admin},
		{in: " Admin ", want: Admin},
		{in: "", wantErr: true},
		{in: "root", wantErr: true},
		{in: "readers", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseRole(tt.in)
			if tt.wantErr {
				if code := provgraph.ErrorCode(err); err == nil || code != provgraph.Invalid {
					t.Fatalf("ParseRole(%q) = %q, %v; want an invalid error", tt.in, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseRole(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

// TestRoleAllows walks every pair, so a new role cannot be added without deciding what
// it allows.
func TestRoleAllows(t *testing.T) {
	roles := []Role{"", Reader, Writer, Admin, "root"}
	want := map[Role][]bool{ // want[have][j]: have allows roles[j]
		"":     {false, false, false, false, false},
		Reader: {false, true, false, false, false},
		Writer: {false, true, true, false, false},
		Admin:  {false, true, true, true, false},
		"root": {false, false, false, false, false},
	}
	for _, have := range roles {
		for j, need := range roles {
			if got := have.Allows(need); got != want[have][j] {
				t.Errorf("%q.Allows(%q) = %v, want %v", have, need, got, want[have][j])
			}
		}
	}
	if len(rank) != 3 {
		t.Errorf("%d roles ranked; extend this matrix", len(rank))
	}
}

func TestStatic(t *testing.T) {
	const token = "s3cret-token-123456"
	admin := Static(token, Admin, "env:admin")
	tests := []struct {
		name    string
		auth    Authenticator
		bearer  string
		want    Principal
		wantErr bool
	}{
		{name: "good", auth: admin, bearer: token, want: Principal{Subject: "env:admin", Name: "env:admin", Role: Admin}},
		{name: "last character differs", auth: admin, bearer: token[:len(token)-1] + "7", wantErr: true},
		{name: "prefix", auth: admin, bearer: token[:len(token)-1], wantErr: true},
		{name: "longer", auth: admin, bearer: token + " ", wantErr: true},
		{name: "empty bearer", auth: admin, bearer: "", wantErr: true},
		{name: "empty static token matches nothing", auth: Static("", Admin, "env:admin"), bearer: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.auth.Authenticate(t.Context(), tt.bearer)
			if tt.wantErr {
				if code := provgraph.ErrorCode(err); err == nil || code != provgraph.Unauthorized {
					t.Fatalf("err = %v, want unauthorized", err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

// fake is an authenticator of small functions; recognising adds Recognises.
type fake struct {
	name string
	auth func(bearer string) (Principal, error)
	log  *[]string
}

func (f fake) Authenticate(_ context.Context, bearer string) (Principal, error) {
	*f.log = append(*f.log, f.name)
	return f.auth(bearer)
}

type recognising struct {
	fake
	recognises func(bearer string) bool
}

func (r recognising) Recognises(bearer string) bool { return r.recognises(bearer) }

func TestChain(t *testing.T) {
	ok := func(sub string) func(string) (Principal, error) {
		return func(string) (Principal, error) { return Principal{Subject: sub, Role: Reader}, nil }
	}
	fail := func(code provgraph.Code) func(string) (Principal, error) {
		return func(string) (Principal, error) { return Principal{}, provgraph.Errorf(code, "no") }
	}
	isLocal := func(b string) bool { return strings.HasPrefix(b, "pgt_") }

	tests := []struct {
		name     string
		chain    func(log *[]string) []Authenticator
		bearer   string
		wantSub  string
		wantCode provgraph.Code // "" for success
		wantLog  string
	}{
		{
			name: "local token never reaches OIDC",
			chain: func(log *[]string) []Authenticator {
				return []Authenticator{
					recognising{fake{"local", fail(provgraph.Unauthorized), log}, isLocal},
					recognising{fake{"oidc", ok("oidc:x"), log}, isJWT},
				}
			},
			bearer: "pgt_a.b.c", wantCode: provgraph.Unauthorized, wantLog: "local",
		},
		{
			name: "JWT never reaches the token file",
			chain: func(log *[]string) []Authenticator {
				return []Authenticator{
					recognising{fake{"local", ok("local:x"), log}, isLocal},
					recognising{fake{"oidc", ok("oidc:x"), log}, isJWT},
				}
			},
			bearer: "a.b.c", wantSub: "oidc:x", wantLog: "oidc",
		},
		{
			name: "the first recogniser decides",
			chain: func(log *[]string) []Authenticator {
				return []Authenticator{
					recognising{fake{"first", fail(provgraph.Unauthorized), log}, isJWT},
					recognising{fake{"second", ok("second"), log}, isJWT},
				}
			},
			bearer: "a.b.c", wantCode: provgraph.Unauthorized, wantLog: "first",
		},
		{
			name: "nobody recognises",
			chain: func(log *[]string) []Authenticator {
				return []Authenticator{recognising{fake{"oidc", ok("oidc:x"), log}, isJWT}}
			},
			bearer: "opaque", wantCode: provgraph.Unauthorized, wantLog: "",
		},
		{
			name: "unauthorized from a plain authenticator passes on",
			chain: func(log *[]string) []Authenticator {
				return []Authenticator{fake{"a", fail(provgraph.Unauthorized), log}, fake{"b", ok("b"), log}}
			},
			bearer: "opaque", wantSub: "b", wantLog: "a b",
		},
		{
			name: "internal error stops the chain",
			chain: func(log *[]string) []Authenticator {
				return []Authenticator{fake{"a", fail(provgraph.Internal), log}, fake{"b", ok("b"), log}}
			},
			bearer: "opaque", wantCode: provgraph.Internal, wantLog: "a",
		},
		{
			name: "recogniser error passes through",
			chain: func(log *[]string) []Authenticator {
				return []Authenticator{recognising{fake{"local", fail(provgraph.Internal), log}, isLocal}}
			},
			bearer: "pgt_x", wantCode: provgraph.Internal, wantLog: "local",
		},
		{
			name:   "empty chain",
			chain:  func(log *[]string) []Authenticator { return nil },
			bearer: "opaque", wantCode: provgraph.Unauthorized,
		},
		{
			name: "empty bearer asks nobody",
			chain: func(log *[]string) []Authenticator {
				return []Authenticator{fake{"a", ok("a"), log}}
			},
			bearer: "", wantCode: provgraph.Unauthorized,
		},
		{
			name: "oversized bearer asks nobody",
			chain: func(log *[]string) []Authenticator {
				return []Authenticator{fake{"a", ok("a"), log}}
			},
			bearer: strings.Repeat("a", maxBearer+1), wantCode: provgraph.Unauthorized,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log []string
			got, err := Chain(tt.chain(&log)...).Authenticate(t.Context(), tt.bearer)
			if gotLog := strings.Join(log, " "); gotLog != tt.wantLog {
				t.Errorf("asked %q, want %q", gotLog, tt.wantLog)
			}
			if tt.wantCode != "" {
				if code := provgraph.ErrorCode(err); err == nil || code != tt.wantCode {
					t.Fatalf("err = %v, want %s", err, tt.wantCode)
				}
				return
			}
			if err != nil || got.Subject != tt.wantSub {
				t.Fatalf("got %+v, %v; want subject %q", got, err, tt.wantSub)
			}
		})
	}
}

// TestChainAllSources puts the real authenticators together as cmd/provgraph does.
func TestChainAllSources(t *testing.T) {
	k := keys()
	is := newTestIssuer(t)
	path := filepath.Join(t.TempDir(), "tokens.json")
	local, rec := mustCreate(t, path, "ci", Writer)
	a := Chain(Static("static-admin-token", Admin, "env:admin"), LocalTokens(path), mustOIDC(t, is.config()))
	jwt := mint(hdr("RS256", "k1"), claims(set("roles", "reader")), rs(k.rsa, crypto.SHA256))

	tests := []struct {
		name   string
		bearer string
		want   Principal
	}{
		{name: "static", bearer: "static-admin-token", want: Principal{Subject: "env:admin", Name: "env:admin", Role: Admin}},
		{name: "local", bearer: local, want: Principal{Subject: "local:" + rec.ID, Name: "ci", Role: Writer}},
		{name: "oidc", bearer: jwt, want: Principal{Subject: "oidc:user-1", Name: "ada", Role: Reader}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := a.Authenticate(t.Context(), tt.bearer)
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

// FuzzAuthenticate feeds arbitrary bearer strings to the whole chain: nothing may panic,
// only the tokens we issued may pass, and no error may repeat what it was given.
func FuzzAuthenticate(f *testing.F) {
	k := keys()
	is := newTestIssuer(f)
	path := filepath.Join(f.TempDir(), "tokens.json")
	local, rec := mustCreate(f, path, "fuzz", Writer)
	o, err := NewOIDC(f.Context(), is.config())
	if err != nil {
		f.Fatal(err)
	}
	const static = "static-admin-token"
	jwt := mint(hdr("RS256", "k1"), claims(), rs(k.rsa, crypto.SHA256))
	good := map[string]Principal{
		static: {Subject: "env:admin", Name: "env:admin", Role: Admin},
		local:  {Subject: "local:" + rec.ID, Name: "fuzz", Role: Writer},
		jwt:    {Subject: "oidc:user-1", Name: "ada", Role: Writer},
	}
	a := Chain(Static(static, Admin, "env:admin"), LocalTokens(path), o)

	for tok := range good {
		f.Add(tok)
	}
	for _, s := range []string{
		"", "pgt_", "pgt_AAAA", local[:len(local)-1], static + "\x00", "a.b.c", "..", "...",
		"eyJhbGciOiJub25lIn0.e30.", flipUnusedBits(jwt), jwt[:strings.LastIndexByte(jwt, '.')+1],
		mint(hdr("HS256", "k1"), claims(), hs256([]byte("secret"))),
		mint(hdr("RS256", "k1"), claims(set("roles", "admin")), rs(k.other, crypto.SHA256)),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, bearer string) {
		got, err := a.Authenticate(t.Context(), bearer)
		if err == nil {
			want, ok := good[bearer]
			if !ok {
				t.Fatalf("accepted %q as %+v", bearer, got)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%q: got %+v, want %+v", bearer, got, want)
			}
			return
		}
		if code := provgraph.ErrorCode(err); code != provgraph.Unauthorized {
			t.Fatalf("%q: code %s (%v), want unauthorized", bearer, code, err)
		}
		if len(bearer) >= 8 && strings.Contains(err.Error(), bearer) {
			t.Fatalf("the error repeats the token: %v", err)
		}
	})
}
