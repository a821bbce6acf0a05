package kfp

// KFP's documents (ApiRun, ApiExperiment, …) and how provgraph's runs and studies read
// as them. Pure: no I/O.

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"provgraph"
	"provgraph/registry"
	"provgraph/runs"
)

// ResourceKey names what a reference points to.
type ResourceKey struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// ResourceReference is ApiResourceReference.
type ResourceReference struct {
	Key          ResourceKey `json:"key"`
	Name         string      `json:"name,omitempty"`
	Relationship string      `json:"relationship,omitempty"`
}

// The enums' names, by protobuf number, for clients that send numbers.
var (
	resourceTypes = []string{"UNKNOWN_RESOURCE_TYPE", "EXPERIMENT", "JOB", "PIPELINE", "PIPELINE_VERSION", "NAMESPACE"}
	relationships = []string{"UNKNOWN_RELATIONSHIP", "OWNER", "CREATOR"}
	metricFormats = []string{"UNSPECIFIED", "RAW", "PERCENTAGE"}
)

// enumName reads a protojson enum: its name, or its number.
func enumName(raw json.RawMessage, names []string) (string, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return names[0], true
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if slices.Contains(names, s) {
			return s, true
		}
		if n, err := strconv.Atoi(s); err == nil && n >= 0 && n < len(names) {
			return names[n], true
		}
		return "", false
	}
	var n int
	if json.Unmarshal(raw, &n) == nil && n >= 0 && n < len(names) {
		return names[n], true
	}
	return "", false
}

// Parameter is ApiParameter.
type Parameter struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// RunIn is what create_run sends: the ApiRun fields a create reads. Output-only fields
// (id, status, times, metrics) are ignored, as KFP does.
type RunIn struct {
	Name               string          `json:"name"`
	Description        string          `json:"description"`
	PipelineSpec       json.RawMessage `json:"pipeline_spec"`
	ResourceReferences []struct {
		Key struct {
			Type json.RawMessage `json:"type"`
			ID   string          `json:"id"`
		} `json:"key"`
		Name         string          `json:"name"`
		Relationship json.RawMessage `json:"relationship"`
	} `json:"resource_references"`
	ServiceAccount string `json:"service_account"`
}

// PipelineSpec is the part of ApiPipelineSpec a create reads.
type PipelineSpec struct {
	PipelineID       string      `json:"pipeline_id"`
	PipelineName     string      `json:"pipeline_name"`
	WorkflowManifest string      `json:"workflow_manifest"`
	PipelineManifest string      `json:"pipeline_manifest"`
	Parameters       []Parameter `json:"parameters"`
}

// Stored is what provgraph keeps of a KFP run under foreign.kfp: what has no native
// field, as sent.
type Stored struct {
	PipelineSpec json.RawMessage `json:"pipeline_spec,omitempty"`
	// References are the references sent besides the experiment's.
	References     []ResourceReference `json:"resource_references,omitempty"`
	ServiceAccount string              `json:"service_account,omitempty"`
	Experiment     string              `json:"experiment_name,omitempty"`
}

// Create is a read create_run request: the experiment it names ("" for the default one)
// and how to complete the native spec once the experiment is known.
type Create struct {
	Name, Description string
	Experiment        string
	Spec              PipelineSpec
	Stored            Stored
}

// ReadRun reads and checks a create_run body.
func ReadRun(body []byte) (Create, error) {
	var in RunIn
	if len(strings.TrimSpace(string(body))) == 0 {
		return Create{}, invalid("", "the body must be an ApiRun")
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return Create{}, invalid("", "the body is not an ApiRun: "+strings.TrimPrefix(err.Error(), "json: "))
	}
	c := Create{Name: in.Name, Description: in.Description}
	if strings.TrimSpace(in.Name) == "" {
		return c, invalid("name", "a run needs a name")
	}
	if len(in.PipelineSpec) == 0 || string(in.PipelineSpec) == "null" {
		return c, invalid("pipeline_spec", "a run needs a pipeline_spec with a workflow_manifest or a pipeline_id")
	}
	if err := json.Unmarshal(in.PipelineSpec, &c.Spec); err != nil {
		return c, invalid("pipeline_spec", "pipeline_spec is not an ApiPipelineSpec: "+strings.TrimPrefix(err.Error(), "json: "))
	}
	if c.Spec.WorkflowManifest == "" && c.Spec.PipelineID == "" && c.Spec.PipelineManifest == "" {
		return c, invalid("pipeline_spec", "pipeline_spec needs a workflow_manifest or a pipeline_id")
	}
	seen := map[string]bool{}
	for i, p := range c.Spec.Parameters {
		if p.Name == "" {
			return c, invalid(fmt.Sprintf("pipeline_spec.parameters[%d].name", i), "a parameter needs a name")
		}
		if seen[p.Name] {
			return c, invalid(fmt.Sprintf("pipeline_spec.parameters[%d].name", i), fmt.Sprintf("parameter %q is given twice", p.Name))
		}
		seen[p.Name] = true
	}
	c.Stored = Stored{PipelineSpec: in.PipelineSpec, ServiceAccount: in.ServiceAccount}
	for i, ref := range in.ResourceReferences {
		typ, ok1 := enumName(ref.Key.Type, resourceTypes)
		rel, ok2 := enumName(ref.Relationship, relationships)
		if !ok1 || !ok2 {
			return c, invalid(fmt.Sprintf("resource_references[%d]", i), "unknown resource type or relationship")
		}
		if typ == "EXPERIMENT" {
			if c.Experiment != "" {
				return c, invalid(fmt.Sprintf("resource_references[%d]", i), "a run belongs to one experiment")
			}
			if ref.Key.ID == "" {
				return c, invalid(fmt.Sprintf("resource_references[%d].key.id", i), "the experiment reference needs an id")
			}
			c.Experiment = ref.Key.ID
			continue
		}
		c.Stored.References = append(c.Stored.References, ResourceReference{Key: ResourceKey{Type: typ, ID: ref.Key.ID}, Name: ref.Name, Relationship: rel})
	}
	return c, nil
}

// Native is the native run spec of a create, in the experiment (study) given.
func (c Create) Native(experimentID, experimentName string) ([]byte, error) {
	stored := c.Stored
	stored.Experiment = experimentName
	kfp, err := json.Marshal(stored)
	if err != nil {
		return nil, err
	}
	spec := map[string]any{"name": c.Name, "kind": "pipeline", "study_id": experimentID, "foreign": map[string]json.RawMessage{"kfp": kfp}}
	if c.Description != "" {
		spec["description"] = c.Description
	}
	if len(c.Spec.Parameters) > 0 {
		params := map[string]any{}
		for _, p := range c.Spec.Parameters {
			params[p.Name] = p.Value
		}
		spec["parameters"] = params
	}
	if name := c.Spec.planName(); name != "" {
		spec["ref"] = map[string]any{"pipeline": map[string]any{"name": name}}
	}
	return json.Marshal(spec)
}

// planName is the name of what the run runs: the pipeline's, or the workflow's.
func (p PipelineSpec) planName() string {
	name := p.PipelineName
	if name == "" {
		name = p.PipelineID
	}
	if name == "" && p.WorkflowManifest != "" {
		var wf struct {
			Metadata struct {
				Name         string `json:"name"`
				GenerateName string `json:"generateName"`
			} `json:"metadata"`
		}
		if json.Unmarshal([]byte(p.WorkflowManifest), &wf) == nil {
			name = wf.Metadata.Name
			if name == "" {
				name = strings.TrimRight(wf.Metadata.GenerateName, "-")
			}
		}
	}
	if strings.TrimSpace(name) == "" || len(name) > 256 {
		return ""
	}
	return name
}

// Metric is ApiRunMetric.
type Metric struct {
	Name        string   `json:"name"`
	NodeID      string   `json:"node_id"`
	NumberValue *float64 `json:"number_value,omitempty"`
	Format      string   `json:"format,omitempty"`
}

// Run is ApiRun as provgraph answers it.
type Run struct {
	ID                 string              `json:"id"`
	Name               string              `json:"name"`
	StorageState       string              `json:"storage_state"`
	Description        string              `json:"description,omitempty"`
	PipelineSpec       json.RawMessage     `json:"pipeline_spec"`
	ResourceReferences []ResourceReference `json:"resource_references"`
	ServiceAccount     string              `json:"service_account,omitempty"`
	CreatedAt          string              `json:"created_at"`
	ScheduledAt        string              `json:"scheduled_at"`
	FinishedAt         string              `json:"finished_at"`
	Status             string              `json:"status"`
	Error              string              `json:"error,omitempty"`
	Metrics            []Metric            `json:"metrics,omitempty"`
}

// RunDetail is ApiRunDetail.
type RunDetail struct {
	Run Run `json:"run"`
}

// stored reads foreign.kfp and the native parameters from a run's spec.
func stored(r runs.Run) (Stored, map[string]any) {
	var doc struct {
		Parameters map[string]any `json:"parameters"`
		Foreign    struct {
			KFP Stored `json:"kfp"`
		} `json:"foreign"`
	}
	_ = json.Unmarshal(r.Spec, &doc)
	return doc.Foreign.KFP, doc.Parameters
}

// ExperimentName is the name the run's experiment had when the run was created through
// KFP, or "" (a run created natively).
func ExperimentName(r runs.Run) string {
	s, _ := stored(r)
	return s.Experiment
}

// ToRun reads a run (in the full view) as an ApiRun, in the experiment named.
func ToRun(r runs.Run, experimentName string, ms []runs.Metric) Run {
	st, params := stored(r)
	out := Run{ID: r.ID, Name: r.Name, Description: r.Description, StorageState: RunAvailable, ServiceAccount: st.ServiceAccount,
		CreatedAt: Timestamp(r.CreatedAt), ScheduledAt: Timestamp(r.CreatedAt), FinishedAt: Unset, Status: Status(r.State),
		PipelineSpec: st.PipelineSpec, ResourceReferences: []ResourceReference{}}
	if r.Archived {
		out.StorageState = RunArchived
	}
	if r.EndedAt != nil {
		out.FinishedAt = Timestamp(*r.EndedAt)
	}
	if r.State.Terminal() && r.State != runs.Succeeded {
		out.Error = r.Message
	}
	if len(out.PipelineSpec) == 0 {
		// A run created natively: its parameters, by name.
		names := make([]string, 0, len(params))
		for k := range params {
			names = append(names, k)
		}
		slices.Sort(names)
		ps := make([]Parameter, len(names))
		for i, k := range names {
			ps[i] = Parameter{Name: k, Value: fmt.Sprint(params[k])}
		}
		out.PipelineSpec, _ = json.Marshal(map[string]any{"parameters": ps})
	}
	if r.StudyID != "" {
		out.ResourceReferences = append(out.ResourceReferences, ResourceReference{Key: ResourceKey{Type: "EXPERIMENT", ID: r.StudyID}, Name: experimentName, Relationship: "OWNER"})
	}
	out.ResourceReferences = append(out.ResourceReferences, st.References...)
	for _, m := range ms {
		v := m.Value
		f := m.Format
		if f == "" {
			f = "UNSPECIFIED"
		}
		out.Metrics = append(out.Metrics, Metric{Name: m.Name, NodeID: m.NodeID, NumberValue: &v, Format: f})
	}
	return out
}

// RunRow is a run as lists filter and sort it.
func RunRow(r runs.Run, a Run) Row {
	finished := time.Unix(0, 0).UTC()
	if r.EndedAt != nil {
		finished = *r.EndedAt
	}
	return Row{ID: r.ID, Object: a,
		Text:  map[string]string{"id": r.ID, "name": r.Name, "description": r.Description, "status": a.Status, "storage_state": a.StorageState},
		Times: map[string]time.Time{"created_at": r.CreatedAt, "scheduled_at": r.CreatedAt, "finished_at": finished}}
}

// Experiment is ApiExperiment.
type Experiment struct {
	ID                 string              `json:"id"`
	Name               string              `json:"name"`
	Description        string              `json:"description,omitempty"`
	CreatedAt          string              `json:"created_at"`
	ResourceReferences []ResourceReference `json:"resource_references"`
	StorageState       string              `json:"storage_state"`
}

// DefaultDescription is the study description of an experiment created without one: a
// study must have one.
const DefaultDescription = "A Kubeflow Pipelines experiment."

// ExperimentIn is what create_experiment sends.
type ExperimentIn struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// ReadExperiment reads a create_experiment body as a study document.
func ReadExperiment(body []byte) (ExperimentIn, []byte, error) {
	var in ExperimentIn
	if err := json.Unmarshal(body, &in); err != nil || len(strings.TrimSpace(string(body))) == 0 {
		msg := "the body must be an ApiExperiment"
		if err != nil {
			msg += ": " + strings.TrimPrefix(err.Error(), "json: ")
		}
		return in, nil, invalid("", msg)
	}
	if strings.TrimSpace(in.Name) == "" {
		return in, nil, invalid("name", "an experiment needs a name")
	}
	desc := in.Description
	if strings.TrimSpace(desc) == "" {
		desc = DefaultDescription
	}
	doc, err := json.Marshal(map[string]string{"title": in.Name, "description": desc})
	return in, doc, err
}

// ToExperiment reads a study record as an ApiExperiment.
func ToExperiment(rec registry.Record) Experiment {
	var doc struct {
		Title       string `json:"title"`
		Description string `json:"description"`
	}
	_ = json.Unmarshal(rec.Record, &doc)
	return Experiment{ID: rec.ID, Name: doc.Title, Description: doc.Description, CreatedAt: Timestamp(rec.CreatedAt),
		ResourceReferences: []ResourceReference{}, StorageState: ExperimentAvailable}
}

// ExperimentRow is an experiment as lists filter and sort it.
func ExperimentRow(rec registry.Record) Row {
	e := ToExperiment(rec)
	return Row{ID: e.ID, Object: e, Text: map[string]string{"id": e.ID, "name": e.Name, "description": e.Description, "storage_state": e.StorageState},
		Times: map[string]time.Time{"created_at": rec.CreatedAt}}
}

// ---- metrics ----

// MetricIn is one metric of a report.
type MetricIn struct {
	Name        string          `json:"name"`
	NodeID      string          `json:"node_id"`
	NumberValue *float64        `json:"number_value"`
	Format      json.RawMessage `json:"format"`
}

// MetricResult is ReportRunMetricsResponse.ReportRunMetricResult.
type MetricResult struct {
	Name    string `json:"metric_name"`
	NodeID  string `json:"metric_node_id"`
	Status  string `json:"status"`
	Message string `json:"message,omitempty"`
}

// The statuses of a reported metric.
const (
	MetricOK        = "OK"
	MetricDuplicate = "DUPLICATE_REPORTING"
	MetricInvalid   = "INVALID_ARGUMENT"
)

// KFP's server rule for metric names.
var metricName = regexp.MustCompile(`^[a-zA-Z]([-_a-zA-Z0-9]{0,62}[a-zA-Z0-9])?$`)

// CheckMetric says what KFP finds wrong with a metric, or "", and the metric natively.
func CheckMetric(m MetricIn) (runs.Metric, string) {
	format, ok := enumName(m.Format, metricFormats)
	switch {
	case !metricName.MatchString(m.Name):
		return runs.Metric{}, "name must match ^[a-zA-Z]([-_a-zA-Z0-9]{0,62}[a-zA-Z0-9])?$"
	case m.NodeID == "":
		return runs.Metric{}, "node_id is required"
	case len(m.NodeID) > 128:
		return runs.Metric{}, "node_id is at most 128 characters"
	case m.NumberValue == nil:
		return runs.Metric{}, "number_value is required"
	case !ok:
		return runs.Metric{}, "format must be UNSPECIFIED, RAW or PERCENTAGE"
	}
	if format == "UNSPECIFIED" {
		format = ""
	}
	return runs.Metric{Name: m.Name, NodeID: m.NodeID, Value: *m.NumberValue, Format: format}, ""
}

// MetricStatus names a native report outcome in KFP's terms.
func MetricStatus(native string) string {
	switch native {
	case runs.MetricOK:
		return MetricOK
	case runs.MetricDuplicate:
		return MetricDuplicate
	case runs.MetricInvalid:
		return MetricInvalid
	}
	return "INTERNAL_ERROR"
}

// ---- errors ----

// ErrorBody is grpc-gateway's error body (googleRpcStatus, with the older "error" too).
type ErrorBody struct {
	Error   string `json:"error"`
	Code    int    `json:"code"`
	Message string `json:"message"`
	Details []any  `json:"details"`
}

// GRPC maps a provgraph error code onto an HTTP status and a gRPC code, as grpc-gateway
// does: invalid input is 400 (never the native 422).
func GRPC(c provgraph.Code) (status, code int) {
	switch c {
	case provgraph.Invalid:
		return 400, 3 // INVALID_ARGUMENT
	case provgraph.NotFound:
		return 404, 5 // NOT_FOUND
	case provgraph.Conflict:
		return 409, 10 // ABORTED
	case provgraph.Unauthorized:
		return 401, 16 // UNAUTHENTICATED
	case provgraph.Forbidden:
		return 403, 7 // PERMISSION_DENIED
	case provgraph.TooLarge:
		return 413, 8 // RESOURCE_EXHAUSTED
	case provgraph.TooMany:
		return 429, 8
	case provgraph.Unavailable:
		return 503, 14 // UNAVAILABLE
	}
	return 500, 13 // INTERNAL
}
