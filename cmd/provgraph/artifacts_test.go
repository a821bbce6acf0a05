package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"provgraph/auth"
)

func TestRunArtifactsOverHTTP(t *testing.T) {
	m := mustMain(t, func(c *Config) {
		c.ArtifactDir = filepath.Join(t.TempDir(), "artifacts")
		c.MaxArtifactBytes = 1 << 10
	})
	as := func(role auth.Role, name string) client { return tokenClient(t, m, role, name) }
	user, exec, other, reader := as(auth.Writer, "user"), as(auth.Writer, "executor"), as(auth.Writer, "other"), as(auth.Reader, "reader")
	r := user.do("POST", "/api/v1/runs", map[string]any{"name": "artifacts"})
	if r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	id := r.JSON(t)["id"].(string)
	base := "/api/v1/runs/" + id
	put := func(c client, name, body string, want int) response {
		t.Helper()
		r := c.do("PUT", base+"/artifacts/"+name, body, "Content-Type", "text/csv")
		if r.Status != want {
			t.Fatalf("PUT %s: %d %s, want %d", name, r.Status, r.Body, want)
		}
		return r
	}
	stored := func() int {
		var n int
		_ = filepath.WalkDir(m.Config.ArtifactDir, func(_ string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				n++
			}
			return nil
		})
		return n
	}
	if r := put(exec, "a.csv", "x", 409); !strings.Contains(string(r.Body), "PENDING") {
		t.Fatalf("409 must name the state: %s", r.Body)
	}
	if r := exec.do("POST", base+":claim", nil); r.Status != 200 {
		t.Fatalf("claim: %d %s", r.Status, r.Body)
	}
	put(other, "a.csv", "x", 403)
	put(reader, "a.csv", "x", 403)
	for _, bad := range []string{"..", "../x", "a/../../etc/passwd", "%2Fetc%2Fpasswd", "/etc/passwd", "a%00b", `a\b`, "a%5Cb", "a//b", "./a"} {
		if r := exec.do("PUT", base+"/artifacts/"+bad, "x", "Content-Type", "text/plain"); r.Status != 422 {
			t.Errorf("name %q: %d %s", bad, r.Status, r.Body)
		}
	}
	put(exec, "big.bin", strings.Repeat("x", 1<<10+1), 413)
	if n := stored(); n != 0 {
		t.Fatalf("refused uploads left %d files", n)
	}
	csv := "a,b\n1,2\n"
	r = put(exec, "out/table.csv", csv, 201)
	sum := sha256.Sum256([]byte(csv))
	a := r.JSON(t)
	if a["sha256"] != hex.EncodeToString(sum[:]) || a["size"] != float64(len(csv)) || a["media_type"] != "text/csv" || a["name"] != "out/table.csv" {
		t.Fatalf("artifact %v", a)
	}
	if r.Header.Get("Location") != base+"/artifacts/out/table.csv" {
		t.Fatalf("Location %q", r.Header.Get("Location"))
	}
	put(exec, "out/table.csv", "again", 409)
	put(exec, "exactly.bin", strings.Repeat("y", 1<<10), 201)
	put(exec, "same.csv", csv, 201)
	if n := stored(); n != 2 {
		t.Fatalf("identical content must be stored once: %d files", n)
	}
	r = reader.do("GET", base+"/artifacts/out/table.csv", nil)
	etag := `"` + hex.EncodeToString(sum[:]) + `"`
	if r.Status != 200 || string(r.Body) != csv || r.Header.Get("ETag") != etag || r.Header.Get("Content-Type") != "text/csv" || r.Header.Get("Content-Length") != "8" {
		t.Fatalf("read: %d %q %v", r.Status, r.Body, r.Header)
	}
	if r := reader.do("GET", base+"/artifacts/out/table.csv", nil, "If-None-Match", etag); r.Status != 304 {
		t.Fatalf("If-None-Match: %d", r.Status)
	}
	if r := reader.do("GET", base+"/artifacts/out/none.csv", nil); r.Status != 404 {
		t.Fatalf("missing artifact: %d", r.Status)
	}
	if r := reader.do("GET", base+"/results.tar.gz", nil); r.Status != 409 {
		t.Fatalf("results before success: %d %s", r.Status, r.Body)
	}
	r = reader.do("GET", base+"/artifacts", nil)
	list, _ := r.JSON(t)["artifacts"].([]any)
	if r.Status != 200 || len(list) != 3 {
		t.Fatalf("list: %d %s", r.Status, r.Body)
	}
	if r := exec.do("POST", base+":complete", nil); r.Status != 200 {
		t.Fatalf("complete: %d %s", r.Status, r.Body)
	}
	if r := reader.do("GET", base+"?view=full", nil); len(r.JSON(t)["outputs"].([]any)) != 3 {
		t.Fatalf("outputs: %s", r.Body)
	}
	r = reader.do("GET", base+"/results.tar.gz", nil)
	if r.Status != 200 || r.Header.Get("Content-Type") != "application/gzip" {
		t.Fatalf("results: %d %v", r.Status, r.Header)
	}
	zr, err := gzip.NewReader(bytes.NewReader(r.Body))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		got[h.Name] = string(b)
	}
	if len(got) != 3 || got["out/table.csv"] != csv || got["same.csv"] != csv || got["exactly.bin"] != strings.Repeat("y", 1<<10) {
		t.Fatalf("archive: %v", got)
	}
	r = reader.do("GET", "/api/v1/prov/"+id, nil)
	if r.Status != 200 || !strings.Contains(string(r.Body), a["id"].(string)) {
		t.Fatalf("the run's PROV must hold its artifact: %d %s", r.Status, r.Body)
	}
}

// TestStartSweepsAbandonedUploads: what a server killed mid-upload left in the artifact
// store goes when a server starts, once it is older than the longest upload; a younger
// one, which another server may be writing, stays.
func TestStartSweepsAbandonedUploads(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "artifacts")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	old, young := filepath.Join(dir, ".upload-1234"), filepath.Join(dir, ".upload-5678")
	for _, f := range []string{old, young} {
		if err := os.WriteFile(f, []byte("part of an upload"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	long := time.Now().Add(-2 * time.Minute)
	if err := os.Chtimes(old, long, long); err != nil {
		t.Fatal(err)
	}
	mustMain(t, func(c *Config) { c.ArtifactDir, c.TransferTimeout = dir, time.Minute })
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Fatalf("the abandoned upload is still there: %v", err)
	}
	if _, err := os.Stat(young); err != nil {
		t.Fatalf("a young upload was swept: %v", err)
	}
}
