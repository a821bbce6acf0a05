package azureml

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"provgraph"
	"provgraph/registry"
	"provgraph/runs"
)

// Tags provgraph keeps on a run submitted through Azure ML: the client's run id (the
// alias the Azure routes resolve), its experiment, target and parent.
const (
	TagRunID      = "azureml.run_id"
	TagExperiment = "azureml.experiment"
	TagTarget     = "azureml.target"
	TagParent     = "azureml.parent_run_id"
)

// RunIDPattern is Azure's run id pattern (REST reference: ^[a-zA-Z0-9][\w-]{0,255}$).
var RunIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,255}$`)

// experimentPattern bounds experiment names: Azure's rule (letters, digits, '_' and '-',
// at most 255) and so a tag value as it is.
var experimentPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$`)

// Bounds of a definition beyond the body size.
const (
	maxArgs       = 1024
	maxArg        = 8192
	maxProperties = 256
	maxPropKey    = 256
	maxPropValue  = 8192
)

// TagProperty prefixes the native tag a property PATCHed after a submit is kept as: the
// run service stores it with the run, so it outlives the server.
const TagProperty = "azureml.property."

// propertyKey is a property name that fits a native tag's name after TagProperty.
var propertyKey = regexp.MustCompile(`^[A-Za-z0-9._/-]{1,111}$`)

// PropertyTags are the native tags that keep a PATCH's properties: those it changes
// (MergeProperties), each checked to fit a tag.
func PropertyTags(have map[string]string, patch map[string]*string) (map[string]*string, error) {
	merged, changed := MergeProperties(have, patch)
	tags := make(map[string]*string, len(changed))
	for _, k := range changed {
		v := merged[k]
		if !propertyKey.MatchString(k) || len(v) > 256 {
			return nil, invalid("properties."+k, "provgraph keeps a property PATCHed after a submit as a tag: a name of at most 111 of [A-Za-z0-9._/-], a value of at most 256 bytes")
		}
		tags[TagProperty+k] = &v
	}
	return tags, nil
}

// Definition is what a submit carries (definition.json or the snapshotrun body), read
// with its keys in any case: the SDK writes PascalCase, the REST reference camelCase.
type Definition struct {
	// Raw is the definition as sent, kept with the run.
	Raw         json.RawMessage
	Script      string
	Arguments   []string
	Target      string
	Framework   string
	SnapshotID  string
	ParentRunID string
	// Interpreter is Configuration.Environment.Python.InterpreterPath, what a local run
	// runs the script with.
	Interpreter string
}

// fold reads a JSON object with its keys lower-cased, so that PascalCase and camelCase
// read the same.
func fold(raw json.RawMessage) map[string]json.RawMessage {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return nil
	}
	out := make(map[string]json.RawMessage, len(m))
	for k, v := range m {
		out[strings.ToLower(k)] = v
	}
	return out
}

func str(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", true
	}
	var s string
	err := json.Unmarshal(raw, &s)
	return s, err == nil
}

func invalid(path, msg string) error {
	return &provgraph.Error{Code: provgraph.Invalid, Status: 400, Message: path + ": " + msg,
		Fields: []provgraph.FieldError{{Path: path, Message: msg}}}
}

// ParseDefinition reads a run definition. Only what provgraph acts on is checked; the
// rest is kept as sent.
func ParseDefinition(body []byte) (Definition, error) {
	var d Definition
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' || !json.Valid(body) {
		return d, invalid("definition", "must be a JSON object (a RunDefinition)")
	}
	d.Raw = json.RawMessage(body)
	top := fold(body)
	var ok bool
	if d.SnapshotID, ok = str(top["snapshotid"]); !ok || len(d.SnapshotID) > 256 {
		return d, invalid("SnapshotId", "must be a string of at most 256 bytes")
	}
	if d.ParentRunID, ok = str(top["parentrunid"]); !ok || (d.ParentRunID != "" && !RunIDPattern.MatchString(d.ParentRunID)) {
		return d, invalid("ParentRunId", "must be a run id")
	}
	conf := fold(top["configuration"])
	if conf == nil {
		conf = fold(top["runconfiguration"])
	}
	if conf == nil {
		return d, invalid("Configuration", "is required: the run configuration (script, arguments, target)")
	}
	if d.Script, ok = str(conf["script"]); !ok || len(d.Script) > 1024 || !utf8.ValidString(d.Script) {
		return d, invalid("Configuration.Script", "must be a path of at most 1024 bytes")
	}
	if d.Target, ok = str(conf["target"]); !ok || len(d.Target) > 256 {
		return d, invalid("Configuration.Target", "must be a string of at most 256 bytes")
	}
	if d.Framework, ok = str(conf["framework"]); !ok || len(d.Framework) > 64 {
		return d, invalid("Configuration.Framework", "must be a string of at most 64 bytes")
	}
	if a := conf["arguments"]; len(a) > 0 && string(a) != "null" {
		var args []any
		if json.Unmarshal(a, &args) != nil {
			return d, invalid("Configuration.Arguments", "must be a list")
		}
		if len(args) > maxArgs {
			return d, invalid("Configuration.Arguments", fmt.Sprintf("at most %d arguments", maxArgs))
		}
		for i, v := range args {
			var s string
			switch x := v.(type) {
			case string:
				s = x
			case float64:
				s = strconv.FormatFloat(x, 'f', -1, 64)
			case bool:
				s = strconv.FormatBool(x)
			default:
				return d, invalid(fmt.Sprintf("Configuration.Arguments[%d]", i), "must be a string, number or boolean")
			}
			if len(s) > maxArg {
				return d, invalid(fmt.Sprintf("Configuration.Arguments[%d]", i), fmt.Sprintf("at most %d bytes", maxArg))
			}
			d.Arguments = append(d.Arguments, s)
		}
	}
	if env := fold(conf["environment"]); env != nil {
		if py := fold(env["python"]); py != nil {
			d.Interpreter, _ = str(py["interpreterpath"])
			if len(d.Interpreter) > 1024 {
				return d, invalid("Configuration.Environment.Python.InterpreterPath", "at most 1024 bytes")
			}
		}
	}
	if d.Target == "" {
		d.Target = "local"
	}
	return d, nil
}

// Submit is one submit: what the path and query say and what the definition holds.
type Submit struct {
	RunID      string
	Experiment string
	StudyID    string
	Workspace  string
	Kind       string // job, or local for a local run
	Def        Definition
	// Project is the content address of the project zip a startrun carried, if any.
	Project *Blob
	// Snapshot is the manifest of the snapshot the run was submitted from, if known.
	Snapshot *Blob
}

// Blob is content provgraph keeps, by its SHA-256.
type Blob struct {
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
	Name   string `json:"name"`
}

// Foreign is what provgraph keeps under foreign.azureml.
type Foreign struct {
	RunID      string            `json:"run_id"`
	Experiment string            `json:"experiment"`
	Workspace  string            `json:"workspace,omitempty"`
	Definition json.RawMessage   `json:"definition"`
	Properties map[string]string `json:"properties,omitempty"`
	Project    *Blob             `json:"project,omitempty"`
	Snapshot   *Blob             `json:"snapshot,omitempty"`
}

// Names of the entities a run uses: the project zip of a startrun and the snapshot
// manifest it was submitted from.
const (
	ProjectName  = "azureml/project.zip"
	SnapshotName = "azureml/snapshot.json"
)

// Contents are the files a submit carried, for the run service to record as entities
// the run used: its project zip and its snapshot's manifest, as stored.
func (s Submit) Contents() []runs.Content {
	var out []runs.Content
	if s.Project != nil {
		out = append(out, runs.Content{Name: ProjectName, Role: "project", SHA256: s.Project.SHA256, Size: s.Project.Size, MediaType: "application/zip"})
	}
	if s.Snapshot != nil {
		out = append(out, runs.Content{Name: SnapshotName, Role: "snapshot", SHA256: s.Snapshot.SHA256, Size: s.Snapshot.Size, MediaType: "application/json"})
	}
	return out
}

// CheckNames checks a submit's run id and experiment name.
func CheckNames(runID, experiment string) error {
	if !RunIDPattern.MatchString(runID) {
		return invalid("runId", "must match ^[a-zA-Z0-9][\\w-]{0,255}$")
	}
	if !experimentPattern.MatchString(experiment) {
		return invalid("experimentName", "letters, digits, '_' and '-', at most 255, starting with a letter or digit")
	}
	return nil
}

// RunSpec is the native run a submit becomes: native fields filled from what fits them,
// the definition kept as sent under foreign.azureml.
func (s Submit) RunSpec() ([]byte, error) {
	d := s.Def
	props := map[string]string{}
	if d.SnapshotID != "" {
		props["ContentSnapshotId"] = d.SnapshotID
	}
	f := Foreign{RunID: s.RunID, Experiment: s.Experiment, Workspace: s.Workspace, Definition: d.Raw, Properties: props, Project: s.Project, Snapshot: s.Snapshot}
	doc, err := json.Marshal(f)
	if err != nil {
		return nil, err
	}
	name := s.RunID
	spec := map[string]any{
		"name":        name,
		"kind":        s.Kind,
		"description": fmt.Sprintf("Azure ML run %s of experiment %s on target %s", s.RunID, s.Experiment, d.Target),
		"foreign":     map[string]json.RawMessage{"azureml": doc},
	}
	tags := map[string]string{TagRunID: s.RunID, TagExperiment: s.Experiment}
	if len(d.Target) <= 256 && d.Target != "" {
		tags[TagTarget] = d.Target
	}
	if d.ParentRunID != "" {
		tags[TagParent] = d.ParentRunID
	}
	spec["tags"] = tags
	if s.StudyID != "" {
		spec["study_id"] = s.StudyID
	}
	if d.SnapshotID != "" {
		spec["ref"] = map[string]string{"snapshot_id": d.SnapshotID}
	}
	if d.Script != "" {
		interp := d.Interpreter
		if interp == "" {
			interp = "python"
		}
		ex := map[string]any{"command": []string{interp, d.Script}}
		if len(d.Arguments) > 0 {
			ex["args"] = d.Arguments
		}
		spec["executor"] = ex
	}
	return json.Marshal(spec)
}

// foreign is what a run keeps under foreign.azureml (empty for a run made natively).
func foreign(r runs.Run) Foreign {
	var spec struct {
		Foreign struct {
			AzureML json.RawMessage `json:"azureml"`
		} `json:"foreign"`
	}
	var f Foreign
	if len(r.Spec) > 0 && json.Unmarshal(r.Spec, &spec) == nil && len(spec.Foreign.AzureML) > 0 {
		_ = json.Unmarshal(spec.Foreign.AzureML, &f)
	}
	return f
}

// Status is a run's state as Azure ML names it.
func Status(s runs.State) string { return system.Out[s] }

var system = runs.SystemNamed("Azure ML execution API")

// RunDto is a run as the run-history service answers it. runNumber is a JSON integer
// and rootRunId is always there: the SDK raises KeyError without them.
type RunDto struct {
	RunID           string            `json:"runId"`
	RunUUID         string            `json:"runUuid"`
	RootRunID       string            `json:"rootRunId"`
	ParentRunID     *string           `json:"parentRunId"`
	RunNumber       int64             `json:"runNumber"`
	ExperimentID    string            `json:"experimentId,omitempty"`
	Name            string            `json:"name,omitempty"`
	DisplayName     string            `json:"displayName,omitempty"`
	Description     string            `json:"description,omitempty"`
	Status          string            `json:"status"`
	CreatedUtc      string            `json:"createdUtc"`
	StartTimeUtc    *string           `json:"startTimeUtc"`
	EndTimeUtc      *string           `json:"endTimeUtc"`
	UserID          string            `json:"userId,omitempty"`
	CreatedBy       map[string]string `json:"createdBy,omitempty"`
	Target          string            `json:"target,omitempty"`
	RunType         string            `json:"runType"`
	DataContainerID string            `json:"dataContainerId"`
	Properties      map[string]string `json:"properties"`
	Tags            map[string]string `json:"tags"`
	ScriptName      string            `json:"scriptName,omitempty"`
	RunDefinition   json.RawMessage   `json:"runDefinition,omitempty"`
	CancelURI       string            `json:"cancelUri,omitempty"`
	Hidden          bool              `json:"hidden"`
	Error           *ErrorResponse    `json:"error,omitempty"`
}

// RunDetailsDto is a run's details (GET …/runs/{id}/details).
type RunDetailsDto struct {
	RunID          string            `json:"runId"`
	RunUUID        string            `json:"runUuid"`
	Target         string            `json:"target,omitempty"`
	Status         string            `json:"status"`
	StartTimeUtc   *string           `json:"startTimeUtc"`
	EndTimeUtc     *string           `json:"endTimeUtc"`
	Properties     map[string]string `json:"properties"`
	InputDatasets  []any             `json:"inputDatasets"`
	OutputDatasets []any             `json:"outputDatasets"`
	RunDefinition  json.RawMessage   `json:"runDefinition,omitempty"`
	LogFiles       map[string]string `json:"logFiles"`
	Error          *ErrorResponse    `json:"error,omitempty"`
}

func stamp(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := t.UTC().Format(time.RFC3339Nano)
	return &s
}

// RunNumber is a run's number: Azure numbers a workspace's runs, provgraph has no
// counter, so it is the run's creation time in milliseconds, which orders runs as Azure's
// numbers do and is a JSON integer.
func RunNumber(r runs.Run) int64 { return r.CreatedAt.UnixMilli() }

// ToRunDto reads a run (native full view) as a RunDto. cancelBase is the execution
// service's experiment URL the run's cancelUri is under.
func ToRunDto(r runs.Run, cancelBase string) RunDto {
	f := foreign(r)
	id := f.RunID
	if id == "" {
		id = r.Tags[TagRunID]
	}
	props := map[string]string{}
	for k, v := range f.Properties {
		props[k] = v
	}
	for k, v := range r.Tags {
		if p, ok := strings.CutPrefix(k, TagProperty); ok {
			props[p] = v
		}
	}
	d := RunDto{
		RunID: id, RunUUID: r.ID, RootRunID: id, RunNumber: RunNumber(r), ExperimentID: r.StudyID,
		Name: r.Name, DisplayName: id, Description: r.Description, Status: Status(r.State),
		CreatedUtc: *stamp(&r.CreatedAt), StartTimeUtc: stamp(r.StartedAt), EndTimeUtc: stamp(r.EndedAt),
		UserID: r.CreatedBy, Target: r.Tags[TagTarget], RunType: "azureml.scriptrun",
		DataContainerID: "dcid." + id, Properties: props, Tags: map[string]string{}, RunDefinition: f.Definition,
	}
	if r.CreatedBy != "" {
		d.CreatedBy = map[string]string{"userName": r.CreatedBy, "userObjectId": r.CreatedBy}
	}
	if p := r.Tags[TagParent]; p != "" {
		d.ParentRunID = &p
		// The root of a child of a child is not known without reading the parent; Azure's
		// SDK reads rootRunId only to name the tree, so the parent stands for it.
		d.RootRunID = p
	}
	if r.Kind == "local" {
		d.RunType = "azureml.scriptrun"
	}
	if def, err := ParseDefinition(f.Definition); err == nil {
		d.ScriptName = def.Script
	}
	for k, v := range r.Tags {
		if !strings.HasPrefix(k, "azureml.") {
			d.Tags[k] = v
		}
	}
	if cancelBase != "" && !r.State.Terminal() {
		d.CancelURI = cancelBase + "/runId/" + id + "/cancel"
	}
	if (r.State == runs.Failed || r.State == runs.Errored) && r.Message != "" {
		code := "UserError"
		if r.State == runs.Errored {
			code = "ServiceError"
		}
		d.Error = &ErrorResponse{Error: RootError{Code: code, Message: r.Message, Details: []any{}}}
	}
	return d
}

// ToDetails reads a run as its RunDetailsDto.
func ToDetails(r runs.Run) RunDetailsDto {
	d := ToRunDto(r, "")
	return RunDetailsDto{RunID: d.RunID, RunUUID: d.RunUUID, Target: d.Target, Status: d.Status, StartTimeUtc: d.StartTimeUtc,
		EndTimeUtc: d.EndTimeUtc, Properties: d.Properties, InputDatasets: []any{}, OutputDatasets: []any{},
		RunDefinition: d.RunDefinition, LogFiles: map[string]string{}, Error: d.Error}
}

// MergeProperties merges a PATCH's properties into a run's: it says what the merge would
// change. A null value (the SDK's ContentSnapshotId of a run without a snapshot) changes
// nothing.
func MergeProperties(have map[string]string, patch map[string]*string) (map[string]string, []string) {
	out := map[string]string{}
	for k, v := range have {
		out[k] = v
	}
	var changed []string
	for k, v := range patch {
		if v == nil {
			continue
		}
		if old, ok := out[k]; !ok || old != *v {
			changed = append(changed, k)
		}
		out[k] = *v
	}
	sort.Strings(changed)
	return out, changed
}

// Query is a runs:query request.
type Query struct {
	TopLevel bool
	Top      int
	Token    string
}

// MaxTop bounds a runs:query page.
const MaxTop = 500

// ParseQuery reads a runs:query body: the filter the SDK sends (top-level runs only) or
// none, its order (newest first) or none, and top.
func ParseQuery(body []byte) (Query, error) {
	q := Query{Top: 100}
	if len(bytes.TrimSpace(body)) == 0 {
		return q, nil
	}
	m := fold(body)
	if m == nil {
		return q, invalid("", "the body must be a QueryParamsDto object")
	}
	for k := range m {
		switch k {
		case "filter", "orderby", "top", "continuationtoken", "skip":
		default:
			return q, invalid(k, "unknown query parameter (filter, orderBy, top, continuationToken)")
		}
	}
	filter, ok := str(m["filter"])
	if !ok {
		return q, invalid("filter", "must be a string")
	}
	switch norm := strings.ToLower(strings.Join(strings.Fields(strings.Trim(strings.TrimSpace(filter), "()")), " ")); norm {
	case "":
	case "parentrunid eq null":
		q.TopLevel = true
	default:
		return q, invalid("filter", "only (ParentRunId eq null) is supported")
	}
	var order string
	if v := m["orderby"]; len(v) > 0 && string(v) != "null" {
		var list []string
		if json.Unmarshal(v, &list) == nil {
			order = strings.Join(list, ",")
		} else if order, ok = str(v); !ok {
			return q, invalid("orderBy", "must be a string")
		}
	}
	switch strings.ToLower(strings.Join(strings.Fields(order), " ")) {
	case "", "starttimeutc desc", "createdutc desc", "runnumber desc":
	default:
		return q, invalid("orderBy", "only StartTimeUtc desc (newest first) is supported")
	}
	if v := m["top"]; len(v) > 0 && string(v) != "null" {
		var n int
		if json.Unmarshal(v, &n) != nil || n < 1 || n > MaxTop {
			return q, invalid("top", fmt.Sprintf("must be a whole number from 1 to %d", MaxTop))
		}
		q.Top = n
	}
	if v := m["skip"]; len(v) > 0 && string(v) != "null" && string(v) != "0" {
		return q, invalid("skip", "use continuationToken")
	}
	if q.Token, ok = str(m["continuationtoken"]); !ok || len(q.Token) > 4096 {
		return q, invalid("continuationToken", "must be a token this server issued")
	}
	return q, nil
}

// Cancel events: the run-history event the SDK posts to cancel a run without a cancelUri.
const CanceledEvent = "Microsoft.MachineLearning.Run.Canceled"

// ErrorResponse is Azure's error body.
type ErrorResponse struct {
	Error       RootError         `json:"error"`
	Correlation map[string]string `json:"correlation,omitempty"`
	Environment string            `json:"environment,omitempty"`
	Location    string            `json:"location,omitempty"`
	Time        string            `json:"time,omitempty"`
}

// RootError is the error inside an ErrorResponse.
type RootError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Target  string `json:"target,omitempty"`
	Details []any  `json:"details"`
}

var errorCodes = map[provgraph.Code]string{
	provgraph.Invalid: "ValidationError", provgraph.NotFound: "UserError", provgraph.Conflict: "UserError",
	provgraph.Forbidden: "UserError", provgraph.Unauthorized: "UserError", provgraph.TooLarge: "UserError",
	provgraph.TooMany: "RequestThrottled", provgraph.Unavailable: "TransientError", provgraph.Internal: "ServiceError",
}

var statuses = map[provgraph.Code]int{
	provgraph.Invalid: 400, provgraph.NotFound: 404, provgraph.Conflict: 409, provgraph.Forbidden: 403,
	provgraph.TooLarge: 413, provgraph.TooMany: 429, provgraph.Unavailable: 503, provgraph.Unauthorized: 401, provgraph.Internal: 500,
}

// ToError is a provgraph error as Azure's status and ErrorResponse; the offending fields
// are its details.
func ToError(e *provgraph.Error) (int, ErrorResponse) {
	status := statuses[e.Code]
	if e.Status != 0 {
		status = e.Status
	}
	if status == 0 {
		status = 500
	}
	if e.Code == provgraph.Invalid && status == 422 {
		status = 400
	}
	code, ok := errorCodes[e.Code]
	if !ok {
		code = "ServiceError"
	}
	out := ErrorResponse{Error: RootError{Code: code, Message: e.Message, Details: []any{}}}
	for _, f := range e.Fields {
		out.Error.Details = append(out.Error.Details, RootError{Code: code, Message: f.Message, Target: f.Path, Details: []any{}})
	}
	if len(e.Fields) == 1 {
		out.Error.Target = e.Fields[0].Path
	}
	return status, out
}

// ExperimentDto is an experiment as the run-history service answers it.
type ExperimentDto struct {
	ExperimentID string            `json:"experimentId"`
	Name         string            `json:"name"`
	Description  string            `json:"description,omitempty"`
	CreatedUtc   string            `json:"createdUtc"`
	Tags         map[string]string `json:"tags"`
}

// ToExperiment reads the study of an experiment as its ExperimentDto: its id is the
// study's.
func ToExperiment(rec registry.Record, name string) ExperimentDto {
	var doc struct {
		Description string `json:"description"`
	}
	_ = json.Unmarshal(rec.Record, &doc)
	return ExperimentDto{ExperimentID: rec.ID, Name: name, Description: doc.Description, CreatedUtc: *stamp(&rec.CreatedAt), Tags: map[string]string{}}
}
