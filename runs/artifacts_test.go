package runs

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"provgraph"
)

// files lists the regular files under dir.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			out = append(out, p)
		}
		return err
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return out
}

func TestBlobsPut(t *testing.T) {
	b := &Blobs{Dir: filepath.Join(t.TempDir(), "artifacts")}
	sum, size, err := b.Put(strings.NewReader("hello"), 5)
	want := sha256.Sum256([]byte("hello"))
	if err != nil || sum != hex.EncodeToString(want[:]) || size != 5 {
		t.Fatalf("put: %s %d %v", sum, size, err)
	}
	if got := files(t, b.Dir); len(got) != 1 || got[0] != filepath.Join(b.Dir, "sha256", sum[:2], sum[2:]) {
		t.Fatalf("files %v", got)
	}
	// Identical content is stored once.
	if again, _, err := b.Put(strings.NewReader("hello"), 5); err != nil || again != sum || len(files(t, b.Dir)) != 1 {
		t.Fatalf("second put: %s %v %v", again, err, files(t, b.Dir))
	}
	f, err := b.Open(sum)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(f)
	f.Close()
	if string(got) != "hello" {
		t.Fatalf("read %q", got)
	}
	for _, bad := range []string{"", "../../etc/passwd", strings.Repeat("0", 64), strings.ToUpper(sum)} {
		if _, err := b.Open(bad); provgraph.ErrorCode(err) != provgraph.NotFound {
			t.Errorf("open %q: %v", bad, err)
		}
	}
}

type failingReader struct{ n int }

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, errors.New("connection reset")
	}
	n := min(len(p), r.n)
	r.n -= n
	return n, nil
}

// Over the limit or a failing upload: an error, and nothing left behind.
func TestBlobsPutErrors(t *testing.T) {
	tests := []struct {
		name string
		r    io.Reader
		code provgraph.Code
	}{
		{"one byte over", strings.NewReader(strings.Repeat("x", 11)), provgraph.TooLarge},
		{"far over", strings.NewReader(strings.Repeat("x", 1<<20)), provgraph.TooLarge},
		{"reader fails", &failingReader{n: 4}, provgraph.Invalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &Blobs{Dir: t.TempDir()}
			if _, _, err := b.Put(tt.r, 10); provgraph.ErrorCode(err) != tt.code {
				t.Fatalf("got %v, want %s", err, tt.code)
			}
			if got := files(t, b.Dir); len(got) != 0 {
				t.Fatalf("left behind: %v", got)
			}
		})
	}
	b := &Blobs{Dir: t.TempDir()}
	if _, size, err := b.Put(strings.NewReader(strings.Repeat("x", 10)), 10); err != nil || size != 10 {
		t.Fatalf("exactly the limit: %d %v", size, err)
	}
	if _, _, err := b.Put(strings.NewReader(""), 0); err == nil {
		t.Fatal("a zero limit must be refused")
	}
}

func TestBlobsPutReadOnly(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root writes anywhere")
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o700)
	if _, _, err := (&Blobs{Dir: dir}).Put(strings.NewReader("x"), 10); err == nil || provgraph.ErrorCode(err) != provgraph.Internal {
		t.Fatalf("read-only store: %v", err)
	}
}

func TestCheckArtifactUpload(t *testing.T) {
	tests := []struct {
		state State
		actor string
		admin bool
		want  provgraph.Code
	}{
		{Running, "exec", false, ""},
		{Canceling, "exec", false, ""},
		{Running, "other", false, provgraph.Forbidden},
		{Running, "other", true, ""},
		{Pending, "exec", false, provgraph.Conflict},
		{Succeeded, "exec", true, provgraph.Conflict},
	}
	for _, tt := range tests {
		err := CheckArtifactUpload("r", tt.state, "exec", tt.actor, tt.admin)
		if (err == nil) != (tt.want == "") || (err != nil && provgraph.ErrorCode(err) != tt.want) {
			t.Errorf("%s by %s (admin %v): %v, want %q", tt.state, tt.actor, tt.admin, err, tt.want)
		}
		if tt.want == provgraph.Conflict && !strings.Contains(err.Error(), string(tt.state)) {
			t.Errorf("the conflict must name the state: %v", err)
		}
	}
}
