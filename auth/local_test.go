package auth

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"provgraph"
)

func mustCreate(t testing.TB, path, name string, role Role) (string, TokenRecord) {
	t.Helper()
	tok, rec, err := CreateLocalToken(path, name, role)
	if err != nil {
		t.Fatalf("CreateLocalToken: %v", err)
	}
	return tok, rec
}

func readFile(t *testing.T, path string) tokenFile {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var tf tokenFile
	if err := json.Unmarshal(b, &tf); err != nil {
		t.Fatal(err)
	}
	return tf
}

// replaceFile writes tf the way a careful editor would: a new file renamed over the old.
func replaceFile(t *testing.T, path string, tf tokenFile) {
	t.Helper()
	if err := writeTokenFile(path, tf); err != nil {
		t.Fatal(err)
	}
}

func TestLocalTokens(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "var")
	path := filepath.Join(dir, "tokens.json")
	store := LocalTokens(path)
	tok, rec := mustCreate(t, path, "ci", Writer)
	other, _ := mustCreate(t, filepath.Join(t.TempDir(), "other.json"), "elsewhere", Writer)

	if !strings.HasPrefix(tok, "pgt_") || len(tok) != len("pgt_")+base64.RawURLEncoding.EncodedLen(32) {
		t.Fatalf("token %q is not pgt_ + 32 bytes in base64url", tok)
	}
	got, err := store.Authenticate(t.Context(), tok)
	if want := (Principal{Subject: "local:" + rec.ID, Name: "ci", Role: Writer}); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("Authenticate = %+v, %v; want %+v", got, err, want)
	}
	// Groups given when the token is made come back with its principal.
	grouped, grec, err := CreateLocalToken(path, "reef", Reader, "reef-team", "aims:modellers")
	if err != nil {
		t.Fatal(err)
	}
	got, err = store.Authenticate(t.Context(), grouped)
	if want := (Principal{Subject: "local:" + grec.ID, Name: "reef", Role: Reader, Groups: []string{"reef-team", "aims:modellers"}}); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("Authenticate = %+v, %v; want %+v", got, err, want)
	}
	if _, _, err := CreateLocalToken(path, "bad", Reader, "two words"); provgraph.ErrorCode(err) != provgraph.Invalid {
		t.Fatalf("a group name with a space: %v, want invalid", err)
	}

	wrong := []struct{ name, token string }{
		{"one more character", tok + "x"},
		{"one character less", tok[:len(tok)-1]},
		{"changed character", tok[:10] + string(tok[10]^1) + tok[11:]},
		{"another file's token", other},
		{"the stored digest", readFile(t, path).Tokens[0].SHA256},
		{"prefix only", "pgt_"},
		{"empty", ""},
	}
	for _, tt := range wrong {
		t.Run(tt.name, func(t *testing.T) {
			_, err := store.Authenticate(t.Context(), tt.token)
			if code := provgraph.ErrorCode(err); err == nil || code != provgraph.Unauthorized {
				t.Fatalf("err = %v, want %s", err, provgraph.Unauthorized)
			}
			if tt.token != "" && strings.Contains(err.Error(), tt.token) {
				t.Fatalf("the error repeats the token: %v", err)
			}
		})
	}

	t.Run("the file holds no token", func(t *testing.T) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		secret := strings.TrimPrefix(tok, "pgt_")
		raw, _ := base64.RawURLEncoding.DecodeString(secret)
		for _, s := range []string{secret, base64.StdEncoding.EncodeToString(raw), string(raw)} {
			if strings.Contains(string(b), s) {
				t.Fatalf("the token file holds the token:\n%s", b)
			}
		}
		var fields []map[string]any
		var tf struct{ Tokens *[]map[string]any }
		tf.Tokens = &fields
		json.Unmarshal(b, &tf)
		for _, f := range fields {
			for k := range f {
				switch k {
				case "id", "name", "role", "groups", "sha256", "created_at":
				default:
					t.Errorf("unexpected field %q in the token file", k)
				}
			}
		}
	})

	t.Run("modes", func(t *testing.T) {
		for _, tt := range []struct {
			path string
			want os.FileMode
		}{{path, 0o600}, {path + ".lock", 0o600}, {dir, 0o700 | os.ModeDir}} {
			st, err := os.Stat(tt.path)
			if err != nil {
				t.Fatal(err)
			}
			if got := st.Mode() &^ 0o7000; got != tt.want {
				t.Errorf("%s: mode %v, want %v", filepath.Base(tt.path), got, tt.want)
			}
		}
	})
}

func TestCreateLocalToken(t *testing.T) {
	tests := []struct {
		name     string
		token    string
		role     Role
		wantRole Role
		wantCode provgraph.Code
	}{
		{name: "reader", token: "bot", role: Reader, wantRole: Reader},
		{name: "role normalised", token: "bot", role: "ADMIN", wantRole: Admin},
		{name: "unknown role", token: "bot", role: "root", wantCode: provgraph.Invalid},
		{name: "empty role", token: "bot", role: "", wantCode: provgraph.Invalid},
		{name: "name too long", token: strings.Repeat("n", 201), role: Reader, wantCode: provgraph.Invalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "tokens.json")
			tok, rec, err := CreateLocalToken(path, tt.token, tt.role)
			if tt.wantCode != "" {
				if got := provgraph.ErrorCode(err); err == nil || got != tt.wantCode {
					t.Fatalf("err = %v, want %s", err, tt.wantCode)
				}
				if _, err := os.Stat(path); !os.IsNotExist(err) {
					t.Fatalf("the file was written: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			p, err := LocalTokens(path).Authenticate(t.Context(), tok)
			if err != nil || p.Role != tt.wantRole || rec.Role != tt.wantRole {
				t.Fatalf("role = %q (record %q), err %v; want %q", p.Role, rec.Role, err, tt.wantRole)
			}
		})
	}
}

func TestLocalTokensReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.json")
	store := LocalTokens(path)
	first, _ := mustCreate(t, path, "first", Reader)
	if _, err := store.Authenticate(t.Context(), first); err != nil {
		t.Fatal(err)
	}

	// Created while the store is loaded, as the CLI does beside a running server.
	second, _ := mustCreate(t, path, "second", Admin)
	if p, err := store.Authenticate(t.Context(), second); err != nil || p.Role != Admin {
		t.Fatalf("token created after load: %+v, %v", p, err)
	}

	// Revoked by hand, in place.
	tf := readFile(t, path)
	tf.Tokens = tf.Tokens[1:]
	b, _ := json.Marshal(tf)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Authenticate(t.Context(), first); provgraph.ErrorCode(err) != provgraph.Unauthorized {
		t.Fatalf("revoked token: err = %v, want unauthorized", err)
	}

	// Same size and mtime, different contents: only the new inode tells.
	replaceFile(t, path, readFile(t, path)) // the writer's own formatting, so sizes compare
	if _, err := store.Authenticate(t.Context(), second); err != nil {
		t.Fatal(err)
	}
	before, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	elsewhere := filepath.Join(t.TempDir(), "elsewhere.json")
	third, _ := mustCreate(t, elsewhere, "third", Writer)
	tf = readFile(t, path)
	tf.Tokens[0].SHA256 = readFile(t, elsewhere).Tokens[0].SHA256
	replaceFile(t, path, tf)
	if err := os.Chtimes(path, before.ModTime(), before.ModTime()); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.Stat(path); after.Size() != before.Size() || !after.ModTime().Equal(before.ModTime()) {
		t.Fatalf("size or mtime changed: the case is not the one meant")
	}
	if _, err := store.Authenticate(t.Context(), third); err != nil {
		t.Fatalf("token swapped in with the same size and mtime: %v", err)
	}
	if _, err := store.Authenticate(t.Context(), second); err == nil {
		t.Fatal("the swapped-out token still works")
	}
}

func TestLocalTokensMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no", "such", "tokens.json")
	store := LocalTokens(path)
	if has, err := store.HasAny(); err != nil || has {
		t.Fatalf("HasAny = %v, %v; want false, nil", has, err)
	}
	if _, err := store.Authenticate(t.Context(), "pgt_AAAA"); provgraph.ErrorCode(err) != provgraph.Unauthorized {
		t.Fatalf("err = %v, want unauthorized", err)
	}
	if recs, err := ListLocalTokens(path); err != nil || len(recs) != 0 {
		t.Fatalf("ListLocalTokens = %v, %v", recs, err)
	}

	tok, _ := mustCreate(t, path, "x", Reader)
	if has, err := store.HasAny(); err != nil || !has {
		t.Fatalf("HasAny = %v, %v; want true, nil", has, err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Authenticate(t.Context(), tok); provgraph.ErrorCode(err) != provgraph.Unauthorized {
		t.Fatalf("after the file was removed: err = %v, want unauthorized", err)
	}
}

func TestLocalTokensDamagedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.json")
	tok, _ := mustCreate(t, path, "x", Reader)
	store := LocalTokens(path)
	damaged := []byte(`{"tokens": [`)
	if err := os.WriteFile(path, damaged, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := store.Authenticate(t.Context(), tok)
	if code := provgraph.ErrorCode(err); code != provgraph.Internal {
		t.Fatalf("code = %s (%v), want internal: fail closed, and not as the caller's fault", code, err)
	}
	if strings.Contains(err.Error(), tok) {
		t.Fatalf("the error repeats the token: %v", err)
	}
	if _, _, err := CreateLocalToken(path, "y", Reader); err == nil {
		t.Fatal("CreateLocalToken overwrote a damaged file")
	}
	if b, _ := os.ReadFile(path); string(b) != string(damaged) {
		t.Fatalf("the damaged file was changed: %s", b)
	}
}

func TestConcurrentCreates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.json")
	const n = 50
	toks := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			tok, _, err := CreateLocalToken(path, "t", Reader)
			if err != nil {
				t.Error(err)
			}
			toks[i] = tok
		})
	}
	wg.Wait()
	checkAllSurvive(t, path, toks)
}

// TestConcurrentCreatesAcrossProcesses runs the test binary several times as token
// creators (see TestHelperCreateTokens) while this process creates tokens too.
func TestConcurrentCreatesAcrossProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.json")
	const procs, perProc, local = 4, 10, 10
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		toks []string
	)
	for range procs {
		wg.Go(func() {
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestHelperCreateTokens$", "-test.count=1")
			cmd.Env = append(os.Environ(), helperEnv+"="+path)
			out, err := cmd.Output()
			if err != nil {
				t.Errorf("helper: %v", err)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, line := range strings.Fields(string(out)) {
				if strings.HasPrefix(line, "pgt_") {
					toks = append(toks, line)
				}
			}
		})
	}
	for range local {
		wg.Go(func() {
			tok, _, err := CreateLocalToken(path, "parent", Reader)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			defer mu.Unlock()
			toks = append(toks, tok)
		})
	}
	wg.Wait()
	if got, want := len(toks), procs*perProc+local; got != want {
		t.Fatalf("created %d tokens, want %d", got, want)
	}
	checkAllSurvive(t, path, toks)
}

const helperEnv = "PROVGRAPH_AUTH_TEST_CREATE_IN"

// TestHelperCreateTokens is a token creator for TestConcurrentCreatesAcrossProcesses,
// not a test of its own.
func TestHelperCreateTokens(t *testing.T) {
	path := os.Getenv(helperEnv)
	if path == "" {
		t.Skip("runs only as a helper process")
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	for range 10 {
		wg.Go(func() {
			tok, _, err := CreateLocalToken(path, "child", Reader)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			os.Stdout.WriteString(tok + "\n")
		})
	}
	wg.Wait()
}

func checkAllSurvive(t *testing.T, path string, toks []string) {
	t.Helper()
	recs, err := ListLocalTokens(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(recs), len(toks); got != want {
		t.Fatalf("%d tokens in the file, want %d: writers lost each other's entries", got, want)
	}
	ids := map[string]bool{}
	for _, r := range recs {
		if ids[r.ID] {
			t.Fatalf("id %s twice", r.ID)
		}
		ids[r.ID] = true
	}
	store := LocalTokens(path)
	for _, tok := range toks {
		if _, err := store.Authenticate(t.Context(), tok); err != nil {
			t.Fatalf("a created token does not authenticate: %v", err)
		}
	}
	if entries, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".tokens.json.*")); len(entries) != 0 {
		t.Fatalf("temporary files left behind: %v", entries)
	}
}

func TestListLocalTokens(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.json")
	_, a := mustCreate(t, path, "a", Reader)
	_, b := mustCreate(t, path, "b", Admin)
	got, err := ListLocalTokens(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []TokenRecord{a, b}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.ID != w.ID || g.Name != w.Name || g.Role != w.Role || !g.CreatedAt.Equal(w.CreatedAt) {
			t.Errorf("record %d: got %+v, want %+v", i, g, w)
		}
	}
}
