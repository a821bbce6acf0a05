package tes

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"provgraph"
	"provgraph/runs"
)

// The TES 1.1 task, field for field: nothing else is ever written, since py-tes refuses
// any field its models do not define, at every level. Collections are pointers so that
// what a client sent comes back key by key, an empty list as an empty list.
type Task struct {
	ID           string             `json:"id,omitempty"`
	State        string             `json:"state,omitempty"`
	Name         string             `json:"name,omitempty"`
	Description  string             `json:"description,omitempty"`
	Inputs       *[]Input           `json:"inputs,omitempty"`
	Outputs      *[]Output          `json:"outputs,omitempty"`
	Resources    *Resources         `json:"resources,omitempty"`
	Executors    *[]Executor        `json:"executors,omitempty"`
	Volumes      *[]string          `json:"volumes,omitempty"`
	Tags         *map[string]string `json:"tags,omitempty"`
	Logs         *[]TaskLog         `json:"logs,omitempty"`
	CreationTime string             `json:"creation_time,omitempty"`
}

// Input is a tesInput.
type Input struct {
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`
	URL         string `json:"url,omitempty"`
	Path        string `json:"path"`
	Type        string `json:"type,omitempty"`
	Content     string `json:"content,omitempty"`
	Streamable  *bool  `json:"streamable,omitempty"`
}

// Output is a tesOutput.
type Output struct {
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`
	URL         string `json:"url"`
	Path        string `json:"path"`
	PathPrefix  string `json:"path_prefix,omitempty"`
	Type        string `json:"type,omitempty"`
}

// Resources is a tesResources. cpu_cores is an integer, which protojson clients may send
// as a string.
type Resources struct {
	CPUCores                *Int32             `json:"cpu_cores,omitempty"`
	RAMGb                   *float64           `json:"ram_gb,omitempty"`
	DiskGb                  *float64           `json:"disk_gb,omitempty"`
	Preemptible             *bool              `json:"preemptible,omitempty"`
	Zones                   *[]string          `json:"zones,omitempty"`
	BackendParameters       *map[string]string `json:"backend_parameters,omitempty"`
	BackendParametersStrict *bool              `json:"backend_parameters_strict,omitempty"`
}

// Executor is a tesExecutor.
type Executor struct {
	Image       string             `json:"image"`
	Command     []string           `json:"command"`
	Workdir     string             `json:"workdir,omitempty"`
	Stdin       string             `json:"stdin,omitempty"`
	Stdout      string             `json:"stdout,omitempty"`
	Stderr      string             `json:"stderr,omitempty"`
	Env         *map[string]string `json:"env,omitempty"`
	IgnoreError *bool              `json:"ignore_error,omitempty"`
}

// TaskLog is a tesTaskLog: one attempt of the task.
type TaskLog struct {
	Logs       []ExecutorLog     `json:"logs"`
	Metadata   map[string]string `json:"metadata,omitempty"`
	StartTime  string            `json:"start_time,omitempty"`
	EndTime    string            `json:"end_time,omitempty"`
	Outputs    []OutputFileLog   `json:"outputs"`
	SystemLogs []string          `json:"system_logs,omitempty"`
}

// ExecutorLog is a tesExecutorLog. provgraph keeps no executor output, so there are none.
type ExecutorLog struct {
	StartTime string `json:"start_time,omitempty"`
	EndTime   string `json:"end_time,omitempty"`
	ExitCode  int32  `json:"exit_code"`
}

// OutputFileLog is a tesOutputFileLog.
type OutputFileLog struct {
	URL       string `json:"url"`
	Path      string `json:"path"`
	SizeBytes string `json:"size_bytes"`
}

// Int32 is a JSON integer that may arrive as a string (protojson's encoding).
type Int32 int32

// UnmarshalJSON reads 4 or "4".
func (n *Int32) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	v, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return &json.UnmarshalTypeError{Value: "number " + s, Type: reflect.TypeFor[int32]()}
	}
	*n = Int32(v)
	return nil
}

// Views, as TES names them.
const (
	Minimal = "MINIMAL"
	Basic   = "BASIC"
	Full    = "FULL"
)

// ParseView reads ?view=: MINIMAL when absent.
func ParseView(s string) (string, error) {
	switch v := strings.ToUpper(s); v {
	case "":
		return Minimal, nil
	case Minimal, Basic, Full:
		return v, nil
	}
	return "", invalid("view", "must be MINIMAL, BASIC or FULL")
}

// Bounds of a task beyond the body size.
const (
	maxExecutors = 64
	maxFiles     = 1000
	maxTags      = 64
	maxName      = 256
	maxText      = 8192
)

func invalid(path, msg string) error {
	return &provgraph.Error{Code: provgraph.Invalid, Status: 400, Message: path + ": " + msg,
		Fields: []provgraph.FieldError{{Path: path, Message: msg}}}
}

// Decode reads a task as a client creates it: every field TES defines, none other, and
// what TES requires (executors with an image and a command; absolute paths).
func Decode(body []byte) (Task, error) {
	var t Task
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		return Task{}, invalid(jsonPath(err), strings.TrimPrefix(err.Error(), "json: "))
	}
	if dec.More() {
		return Task{}, invalid("", "one JSON object, nothing after it")
	}
	return t, t.check()
}

// jsonPath names the field a decoding error is about, as far as encoding/json says.
func jsonPath(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return te.Field
	}
	if msg := err.Error(); strings.Contains(msg, "unknown field") {
		return strings.Trim(msg[strings.LastIndex(msg, " ")+1:], `"`)
	}
	return ""
}

func (t Task) check() error {
	var errs []provgraph.FieldError
	bad := func(p, msg string, args ...any) {
		errs = append(errs, provgraph.FieldError{Path: p, Message: fmt.Sprintf(msg, args...)})
	}
	text := func(p, s string, max int) {
		if len(s) > max || !utf8.ValidString(s) {
			bad(p, "at most %d bytes of UTF-8", max)
		}
	}
	abs := func(p, s string, required bool) {
		switch {
		case s == "" && required:
			bad(p, "is required")
		case s != "" && !path.IsAbs(s):
			bad(p, "must be an absolute path")
		}
		text(p, s, 4096)
	}
	if t.ID != "" || t.State != "" || t.Logs != nil || t.CreationTime != "" {
		bad("", "id, state, logs and creation_time are the server's: leave them out")
	}
	text("name", t.Name, maxName)
	text("description", t.Description, maxText)
	if t.Executors == nil || len(*t.Executors) == 0 {
		bad("executors", "at least one executor is required")
	} else if len(*t.Executors) > maxExecutors {
		bad("executors", "at most %d executors", maxExecutors)
	} else {
		for i, e := range *t.Executors {
			p := fmt.Sprintf("executors[%d]", i)
			if strings.TrimSpace(e.Image) == "" {
				bad(p+".image", "is required")
			}
			text(p+".image", e.Image, 1024)
			if len(e.Command) == 0 {
				bad(p+".command", "is required")
			} else if len(e.Command) > 256 {
				bad(p+".command", "at most 256 arguments")
			}
			for j, c := range e.Command {
				text(fmt.Sprintf("%s.command[%d]", p, j), c, maxText)
			}
			text(p+".workdir", e.Workdir, 1024)
			abs(p+".stdin", e.Stdin, false)
			abs(p+".stdout", e.Stdout, false)
			abs(p+".stderr", e.Stderr, false)
			if e.Env != nil && len(*e.Env) > 256 {
				bad(p+".env", "at most 256 variables")
			}
		}
	}
	if t.Inputs != nil {
		if len(*t.Inputs) > maxFiles {
			bad("inputs", "at most %d inputs", maxFiles)
		}
		for i, in := range *t.Inputs {
			p := fmt.Sprintf("inputs[%d]", i)
			abs(p+".path", in.Path, true)
			switch {
			case in.URL == "" && in.Content == "":
				bad(p, "give url or content")
			case in.URL != "" && in.Content != "":
				bad(p, "give url or content, not both")
			}
			text(p+".url", in.URL, 4096)
			text(p+".content", in.Content, 128<<10)
			if in.Type != "" && in.Type != "FILE" && in.Type != "DIRECTORY" {
				bad(p+".type", "must be FILE or DIRECTORY")
			}
		}
	}
	if t.Outputs != nil {
		if len(*t.Outputs) > maxFiles {
			bad("outputs", "at most %d outputs", maxFiles)
		}
		for i, o := range *t.Outputs {
			p := fmt.Sprintf("outputs[%d]", i)
			abs(p+".path", o.Path, true)
			if o.URL == "" {
				bad(p+".url", "is required")
			}
			text(p+".url", o.URL, 4096)
			if o.Type != "" && o.Type != "FILE" && o.Type != "DIRECTORY" {
				bad(p+".type", "must be FILE or DIRECTORY")
			}
		}
	}
	if t.Volumes != nil {
		if len(*t.Volumes) > 256 {
			bad("volumes", "at most 256 volumes")
		}
		for i, v := range *t.Volumes {
			abs(fmt.Sprintf("volumes[%d]", i), v, true)
		}
	}
	if r := t.Resources; r != nil {
		if r.CPUCores != nil && *r.CPUCores < 0 {
			bad("resources.cpu_cores", "must not be negative")
		}
		for p, v := range map[string]*float64{"resources.ram_gb": r.RAMGb, "resources.disk_gb": r.DiskGb} {
			if v != nil && (*v < 0 || math.IsInf(*v, 0)) {
				bad(p, "must not be negative")
			}
		}
		if r.Zones != nil && len(*r.Zones) > 64 {
			bad("resources.zones", "at most 64 zones")
		}
	}
	if t.Tags != nil {
		if len(*t.Tags) > maxTags {
			bad("tags", "at most %d tags", maxTags)
		}
		for k, v := range *t.Tags {
			text("tags."+k, k, 256)
			text("tags."+k, v, 4096)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	slices.SortFunc(errs, func(a, b provgraph.FieldError) int { return strings.Compare(a.Path, b.Path) })
	return &provgraph.Error{Code: provgraph.Invalid, Status: 400, Message: "the task is not a valid TES task: " + errs[0].Path + " " + errs[0].Message, Fields: errs}
}

var (
	nativeTagKey = regexp.MustCompile(`^[A-Za-z0-9._/-]{1,128}$`)
	nativeEnvKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// nativeTag says whether a TES tag fits a native tag as it is, so that the native list
// can filter on it.
func nativeTag(k, v string) bool {
	return nativeTagKey.MatchString(k) && utf8.RuneCountInString(v) <= 256
}

// RunSpec is the native run a task becomes: the native fields filled from what fits them
// (so the native API and the PROV export show the same run), and the whole task kept
// under foreign.tes for TES to answer with.
func (t Task) RunSpec() ([]byte, error) {
	doc, err := json.Marshal(t)
	if err != nil {
		return nil, err
	}
	spec := map[string]any{"kind": "task", "foreign": map[string]json.RawMessage{"tes": doc}}
	exec := (*t.Executors)[0]
	spec["name"] = t.Name
	if strings.TrimSpace(t.Name) == "" {
		spec["name"] = exec.Image // a task needs no name, a run does
	}
	if t.Description != "" {
		spec["description"] = t.Description
	}
	ex := map[string]any{"image": exec.Image, "command": exec.Command}
	if exec.Workdir != "" {
		ex["workdir"] = exec.Workdir
	}
	if exec.Env != nil && len(*exec.Env) > 0 && envFits(*exec.Env) {
		ex["env"] = *exec.Env
	}
	if r := t.Resources; r != nil {
		res := map[string]any{}
		// Only what the native schema takes: the rest stays in the TES document.
		if r.CPUCores != nil && *r.CPUCores > 0 && *r.CPUCores <= 4096 {
			res["cpu_cores"] = int32(*r.CPUCores)
		}
		if r.RAMGb != nil && *r.RAMGb > 0 && *r.RAMGb <= 65536 {
			res["ram_gb"] = *r.RAMGb
		}
		if r.DiskGb != nil && *r.DiskGb > 0 && *r.DiskGb <= 1048576 {
			res["disk_gb"] = *r.DiskGb
		}
		if r.Preemptible != nil {
			res["preemptible"] = *r.Preemptible
		}
		if r.Zones != nil && len(*r.Zones) > 0 && !slices.ContainsFunc(*r.Zones, func(z string) bool { return len(z) > 128 }) {
			res["zones"] = *r.Zones
		}
		if len(res) > 0 {
			ex["resources"] = res
		}
	}
	spec["executor"] = ex
	if t.Tags != nil {
		tags := map[string]string{}
		for k, v := range *t.Tags {
			if nativeTag(k, v) {
				tags[k] = v
			}
		}
		if len(tags) > 0 {
			spec["tags"] = tags
		}
	}
	return json.Marshal(spec)
}

func envFits(env map[string]string) bool {
	for k, v := range env {
		if len(k) > 256 || !nativeEnvKey.MatchString(k) || len(v) > 8192 {
			return false
		}
	}
	return true
}

// nativeExecutor is the executor of a run created natively.
type nativeExecutor struct {
	Image     string            `json:"image"`
	Command   []string          `json:"command"`
	Args      []string          `json:"args"`
	Env       map[string]string `json:"env"`
	Workdir   string            `json:"workdir"`
	Resources *struct {
		CPUCores    *float64  `json:"cpu_cores"`
		RAMGb       *float64  `json:"ram_gb"`
		DiskGb      *float64  `json:"disk_gb"`
		Preemptible *bool     `json:"preemptible"`
		Zones       *[]string `json:"zones"`
	} `json:"resources"`
}

// submitted is the task as it was created: the TES document a TES client sent, or the
// TES reading of a run created through another API.
func submitted(r runs.Run) Task {
	var spec struct {
		Foreign struct {
			TES json.RawMessage `json:"tes"`
		} `json:"foreign"`
		Executor *nativeExecutor `json:"executor"`
	}
	if len(r.Spec) > 0 {
		_ = json.Unmarshal(r.Spec, &spec)
	}
	if len(spec.Foreign.TES) > 0 {
		var t Task
		if json.Unmarshal(spec.Foreign.TES, &t) == nil {
			return t
		}
	}
	t := Task{Name: r.Name, Description: r.Description}
	if len(r.Tags) > 0 {
		tags := r.Tags
		t.Tags = &tags
	}
	if e := spec.Executor; e != nil && e.Image != "" {
		ex := Executor{Image: e.Image, Command: append(slices.Clone(e.Command), e.Args...), Workdir: e.Workdir}
		if ex.Command == nil {
			ex.Command = []string{}
		}
		if len(e.Env) > 0 {
			ex.Env = &e.Env
		}
		t.Executors = &[]Executor{ex}
		if rs := e.Resources; rs != nil {
			res := &Resources{RAMGb: rs.RAMGb, DiskGb: rs.DiskGb, Preemptible: rs.Preemptible, Zones: rs.Zones}
			if rs.CPUCores != nil {
				n := Int32(math.Ceil(*rs.CPUCores)) // TES counts whole cores
				res.CPUCores = &n
			}
			t.Resources = res
		}
	}
	return t
}

// State is a run's state as TES writes it.
func State(s runs.State) string { return system.Out[s] }

// States are the native states a TES state filter selects: those TES writes with that
// name and the one it reads it as.
func States(name string) ([]runs.State, bool) {
	out := system.Selects(name)
	return out, len(out) > 0
}

var system = runs.SystemNamed("GA4GH TES")

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// View is a run as a TES task in a view: MINIMAL is id and state; BASIC what was
// submitted with creation_time and logs, but not input contents nor system logs; FULL
// everything. r must be the native full view for BASIC and FULL.
func View(r runs.Run, view string) Task {
	t := Task{ID: r.ID, State: State(r.State)}
	if view == Minimal {
		return t
	}
	s := submitted(r)
	s.ID, s.State, s.CreationTime = t.ID, t.State, stamp(r.CreatedAt)
	if view != Full && s.Inputs != nil {
		ins := slices.Clone(*s.Inputs)
		for i := range ins {
			ins[i].Content = ""
		}
		s.Inputs = &ins
	}
	logs := taskLogs(r, view == Full)
	s.Logs = &logs
	return s
}

// taskLogs are a task's attempts: the earlier ones of a retried run, then the current one
// once it started or ended. An attempt that ended without starting (canceled while
// queued) starts and ends at the same time.
func taskLogs(r runs.Run, full bool) []TaskLog {
	logs := []TaskLog{}
	add := func(attempt int, executor string, started, ended *time.Time) {
		if started == nil && ended == nil {
			return
		}
		if started == nil {
			started = ended
		}
		l := TaskLog{Logs: []ExecutorLog{}, Outputs: []OutputFileLog{}, StartTime: stamp(*started)}
		if ended != nil {
			l.EndTime = stamp(*ended)
		}
		if executor != "" {
			l.Metadata = map[string]string{"executor": executor}
		}
		if full {
			l.SystemLogs = []string{}
			for _, e := range r.Events {
				if max(e.Attempt, 1) == attempt {
					l.SystemLogs = append(l.SystemLogs, eventLine(e))
				}
			}
		}
		logs = append(logs, l)
	}
	for _, a := range r.Attempts {
		add(a.Attempt, a.Executor, a.StartedAt, a.EndedAt)
	}
	add(max(r.Attempt, 1), r.Executor, r.StartedAt, r.EndedAt)
	return logs
}

func eventLine(e runs.Event) string {
	line := fmt.Sprintf("%s %s %s", stamp(e.At), e.Op, e.To)
	if e.From != "" {
		line = fmt.Sprintf("%s %s %s → %s", stamp(e.At), e.Op, e.From, e.To)
	}
	line += " by " + e.Actor
	if e.Reason != "" {
		line += ": " + e.Reason
	}
	return line
}
