package azureml

import (
	"archive/zip"
	"bytes"
	_ "embed"
	"fmt"
	"io/fs"
	"strings"
	"time"
)

// invocation is the local-run agent: the azureml-setup/Invocation.sh the SDK runs.
//
//go:embed Invocation.sh
var invocation string

// Agent is what one local run's agent is told.
type Agent struct {
	URL   string // provgraph's base URL, as the SDK reached it
	Run   string // the provgraph run
	RunID string // the client's run id
	// Token is the caller's own bearer token: the agent claims the run as the caller, who
	// submitted it, and the zip goes back to that caller only.
	Token string
	Def   Definition
}

// quote is s as one bash word.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// Env is the agent's azureml-setup/provgraph.env.
func (a Agent) Env() string {
	python := a.Def.Interpreter
	if python == "" {
		python = "python3"
	}
	var b strings.Builder
	b.WriteString("# Settings of provgraph's local-run agent for this run (see Invocation.sh).\n")
	fmt.Fprintf(&b, "PROVGRAPH_URL=%s\nPROVGRAPH_RUN=%s\nAZUREML_RUN_ID=%s\nPROVGRAPH_TOKEN=%s\nPYTHON=%s\nSCRIPT=%s\nARGUMENTS=(",
		quote(a.URL), quote(a.Run), quote(a.RunID), quote(a.Token), quote(python), quote(a.Def.Script))
	for i, arg := range a.Def.Arguments {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(quote(arg))
	}
	b.WriteString(")\n")
	return b.String()
}

// Invocation is the zip a localrun answers: the agent and its settings.
func Invocation(a Agent) ([]byte, error) {
	var buf bytes.Buffer
	z := zip.NewWriter(&buf)
	for _, f := range []struct {
		name, body string
		mode       uint32
	}{
		{"azureml-setup/Invocation.sh", invocation, 0o755},
		{"azureml-setup/provgraph.env", a.Env(), 0o600},
	} {
		h := &zip.FileHeader{Name: f.name, Method: zip.Deflate, Modified: time.Now().UTC()}
		h.SetMode(fs.FileMode(f.mode))
		w, err := z.CreateHeader(h)
		if err != nil {
			return nil, err
		}
		if _, err := w.Write([]byte(f.body)); err != nil {
			return nil, err
		}
	}
	if err := z.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
