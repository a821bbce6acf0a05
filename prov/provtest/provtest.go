// Package provtest lets any package's tests put PROV output in front of the
// independent judges in scripts/judges/judge_prov.py (rdflib, python prov,
// pyshacl): an export from the graph package or an HTTP response from the server
// can be judged the way prov's golden files are.
//
// The judges run with the repository's virtual environment (.venv, see
// scripts/judges/requirements.txt) or the interpreter named by PROVGRAPH_PYTHON.
// When neither exists the test is skipped, unless PROVGRAPH_REQUIRE_JUDGES is
// set, which turns the skip into a failure (CI sets it).
package provtest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"provgraph/prov"
)

// Judge runs every judge on one export written in the three formats and fails
// t with the judges' findings if any.
func Judge(t testing.TB, turtle, jsonld, provjson string) {
	t.Helper()
	python, script := locate(t)
	cmd := exec.CommandContext(t.Context(), python, script, turtle, jsonld, provjson)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("PROV judges reject %s, %s, %s: %v\n%s", turtle, jsonld, provjson, err, out)
	}
}

// JudgeDocument encodes the chunks (as successive Encode calls) in all three
// formats into t.TempDir() and judges the files.
func JudgeDocument(t testing.TB, base string, chunks ...*prov.Document) {
	t.Helper()
	dir := t.TempDir()
	paths := map[string]string{}
	for _, f := range []struct{ format, file string }{
		{prov.FormatTurtle, "export.ttl"},
		{prov.FormatJSONLD, "export.jsonld"},
		{prov.FormatPROVJSON, "export.prov.json"},
	} {
		var b bytes.Buffer
		enc, err := prov.NewEncoder(f.format, &b, base)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range chunks {
			if err := enc.Encode(c); err != nil {
				t.Fatalf("%s: %v", f.format, err)
			}
		}
		if err := enc.Close(); err != nil {
			t.Fatalf("%s: %v", f.format, err)
		}
		paths[f.format] = filepath.Join(dir, f.file)
		if err := os.WriteFile(paths[f.format], b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	Judge(t, paths[prov.FormatTurtle], paths[prov.FormatJSONLD], paths[prov.FormatPROVJSON])
}

// locate finds the python interpreter and judge_prov.py, or skips t.
func locate(t testing.TB) (python, script string) {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	script = filepath.Join(root, "scripts", "judges", "judge_prov.py")
	python = os.Getenv("PROVGRAPH_PYTHON")
	if python == "" {
		python = filepath.Join(root, ".venv", "bin", "python")
	}
	if _, err := os.Stat(python); err != nil {
		msg := "PROV judges unavailable: no python at " + python + " (python3 -m venv .venv && .venv/bin/pip install -r scripts/judges/requirements.txt, or set PROVGRAPH_PYTHON)"
		if os.Getenv("PROVGRAPH_REQUIRE_JUDGES") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return python, script
}

// repoRoot walks up from the working directory to provgraph's go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && firstLine(string(data)) == "module provgraph" {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", os.ErrNotExist
		}
		dir = parent
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return strings.TrimSpace(line)
}
