package runs

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"provgraph"
)

// RunSpec is the body that creates a tracked run (schema run.json).
type RunSpec struct {
	Name        string            `json:"name"`
	Description string            `json:"description,omitempty"`
	Kind        string            `json:"kind,omitempty"`
	Ref         *RunRef           `json:"ref,omitempty"`
	Executor    json.RawMessage   `json:"executor,omitempty"`
	Parameters  map[string]any    `json:"parameters,omitempty"`
	Inputs      []RunInput        `json:"inputs,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
	StudyID     string            `json:"study_id,omitempty"`
	// Foreign is what a foreign API's client sent that has no native field, by protocol
	// (kfp, tes, ica, …), kept as sent.
	Foreign map[string]json.RawMessage `json:"foreign,omitempty"`
}

// RunRef names what a run runs.
type RunRef struct {
	WorkflowTemplateID string `json:"workflow_template_id,omitempty"`
	ModelID            string `json:"model_id,omitempty"`
	Pipeline           *struct {
		Name    string `json:"name"`
		Version string `json:"version,omitempty"`
	} `json:"pipeline,omitempty"`
	SnapshotID string `json:"snapshot_id,omitempty"`
}

// RunInput is a dataset or artifact a run reads.
type RunInput struct {
	ID   string `json:"id"`
	Role string `json:"role,omitempty"`
}

// Refs are the records a run spec names, each with the pointer it is named at and the
// kinds it may be.
func (s RunSpec) Refs() []Ref {
	var refs []Ref
	if s.Ref != nil {
		if s.Ref.WorkflowTemplateID != "" {
			refs = append(refs, Ref{"/ref/workflow_template_id", s.Ref.WorkflowTemplateID, []string{"WorkflowTemplate"}})
		}
		if s.Ref.ModelID != "" {
			refs = append(refs, Ref{"/ref/model_id", s.Ref.ModelID, []string{"Model"}})
		}
	}
	for i, in := range s.Inputs {
		refs = append(refs, Ref{fmt.Sprintf("/inputs/%d/id", i), in.ID, []string{"Dataset", "Artifact"}})
	}
	if s.StudyID != "" {
		refs = append(refs, Ref{"/study_id", s.StudyID, []string{"Study"}})
	}
	return refs
}

// Ref is one record a run names.
type Ref struct {
	Pointer string
	ID      string
	Kinds   []string
}

// Event is one transition of a run: who did what, when, why.
type Event struct {
	Seq     int       `json:"seq"`
	Op      Op        `json:"op"`
	From    State     `json:"from,omitempty"`
	To      State     `json:"to"`
	At      time.Time `json:"at"`
	Actor   string    `json:"actor"`
	Reason  string    `json:"reason,omitempty"`
	Attempt int       `json:"attempt"`
}

// Views of a run, as TES names them.
const (
	ViewMinimal = "minimal"
	ViewBasic   = "basic"
	ViewFull    = "full"
)

// ParseView reads ?view=, basic by default.
func ParseView(s string) (string, error) {
	switch v := strings.ToLower(s); v {
	case "":
		return ViewBasic, nil
	case ViewMinimal, ViewBasic, ViewFull:
		return v, nil
	}
	return "", &provgraph.Error{Code: provgraph.Invalid, Status: 400, Message: "view must be minimal, basic or full",
		Fields: []provgraph.FieldError{{Path: "view", Message: "must be minimal, basic or full"}}}
}

// Metric is one value a run reports (KFP's RunMetric): unique per run, node, name, step.
type Metric struct {
	Name   string  `json:"name"`
	NodeID string  `json:"node_id"`
	Value  float64 `json:"value"`
	Step   *int64  `json:"step,omitempty"`
	// Format is how the value reads (KFP's RAW or PERCENTAGE), kept as first reported.
	Format string `json:"format,omitempty"`
}

// Metric report outcomes, per metric, as KFP's ReportRunMetricsResponse has them.
const (
	MetricOK        = "OK"
	MetricDuplicate = "DUPLICATE"
	MetricInvalid   = "INVALID"
)

// MetricResult is the outcome of one reported metric.
type MetricResult struct {
	Name    string `json:"name"`
	NodeID  string `json:"node_id"`
	Step    *int64 `json:"step,omitempty"`
	Status  string `json:"status"`
	Message string `json:"message,omitempty"`
}

// MaxMetrics bounds one report.
const MaxMetrics = 1000

var (
	metricName   = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.:/-]{0,127}$`)
	metricFormat = regexp.MustCompile(`^[A-Za-z0-9_]{0,32}$`)
)

// CheckMetric says what is wrong with a metric, or "".
func CheckMetric(m Metric) string {
	switch {
	case !metricName.MatchString(m.Name):
		return "name must start with a letter and hold at most 128 letters, digits and _ . : / -"
	case m.NodeID == "" || len(m.NodeID) > 256 || !utf8.ValidString(m.NodeID) || strings.ContainsFunc(m.NodeID, unicode.IsControl):
		return "node_id must be 1 to 256 printable characters"
	case math.IsNaN(m.Value) || math.IsInf(m.Value, 0):
		return "value must be a finite number"
	case m.Step != nil && *m.Step < 0:
		return "step must not be negative"
	case !metricFormat.MatchString(m.Format):
		return "format must be at most 32 letters, digits and _"
	}
	return ""
}

// CheckArtifactName refuses names that could escape a run's artifact store or that no
// file system would take: empty, absolute, "." or ".." segments, backslashes, control
// characters (NUL included), invalid UTF-8, over 1024 bytes or a segment over 255.
func CheckArtifactName(name string) error {
	bad := func(msg string) error {
		return provgraph.InvalidFields("bad artifact name", []provgraph.FieldError{{Path: "name", Message: msg}})
	}
	switch {
	case name == "" || len(name) > 1024:
		return bad("must be 1 to 1024 bytes")
	case !utf8.ValidString(name):
		return bad("must be UTF-8")
	case strings.ContainsFunc(name, unicode.IsControl):
		return bad("must not hold control characters")
	case strings.ContainsRune(name, '\\'):
		return bad(`must use / between directories, not \`)
	case strings.HasPrefix(name, "/"):
		return bad("must be relative")
	}
	for _, seg := range strings.Split(name, "/") {
		switch {
		case seg == "" || seg == "." || seg == "..":
			return bad(`must not hold empty, "." or ".." parts`)
		case len(seg) > 255:
			return bad("each part must be at most 255 bytes")
		}
	}
	return nil
}
