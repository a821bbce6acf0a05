package runs

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestUploadKilledThenSwept kills (SIGKILL) a process in the middle of an upload, as a
// crash would: its temporary file stays behind, and Sweep removes it once it is older
// than the longest upload, but not a younger one another server may still be writing.
func TestUploadKilledThenSwept(t *testing.T) {
	if dir := os.Getenv("PROVGRAPH_TEST_UPLOAD_DIR"); dir != "" {
		// The child: upload bytes that never end.
		b := &Blobs{Dir: dir}
		r, w := io.Pipe()
		go func() {
			w.Write([]byte("the first bytes of an upload"))
			select {} // and nothing more, ever
		}()
		b.Put(r, 1<<20)
		return
	}
	dir := t.TempDir()
	child := exec.Command(os.Args[0], "-test.run=^TestUploadKilledThenSwept$")
	child.Env = append(os.Environ(), "PROVGRAPH_TEST_UPLOAD_DIR="+dir)
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	var tmps []string
	for deadline := time.Now().Add(30 * time.Second); len(tmps) == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		tmps, _ = filepath.Glob(filepath.Join(dir, ".upload-*"))
	}
	if len(tmps) != 1 {
		child.Process.Kill()
		t.Fatalf("the child's upload never began: %v", tmps)
	}
	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	child.Wait()
	if _, err := os.Stat(tmps[0]); err != nil {
		t.Fatalf("the killed upload's file is gone already: %v", err)
	}

	// A younger upload, and a blob, which Sweep must leave alone.
	b := &Blobs{Dir: dir}
	young, err := os.CreateTemp(dir, ".upload-*")
	if err != nil {
		t.Fatal(err)
	}
	young.Close()
	sum, _, err := b.Put(strings.NewReader("kept"), 10)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := os.Chtimes(tmps[0], now.Add(-2*time.Hour), now.Add(-2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	n, err := b.Sweep(time.Hour, now)
	if err != nil || n != 1 {
		t.Fatalf("swept %d: %v", n, err)
	}
	if _, err := os.Stat(tmps[0]); !os.IsNotExist(err) {
		t.Fatalf("the killed upload's file is still there: %v", err)
	}
	if _, err := os.Stat(young.Name()); err != nil {
		t.Fatalf("a young upload was swept: %v", err)
	}
	if f, err := b.Open(sum); err != nil {
		t.Fatalf("a blob was swept: %v", err)
	} else {
		f.Close()
	}
	if n, err := (&Blobs{Dir: filepath.Join(dir, "none")}).Sweep(time.Hour, now); n != 0 || err != nil {
		t.Fatalf("a store not made yet: %d %v", n, err)
	}
}
