package ica

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"provgraph"
	"provgraph/runs"
)

// CreateRequest is ICA's CreateTaskRunRequest.
type CreateRequest struct {
	Name        string     `json:"name"`
	Description string     `json:"description,omitempty"`
	ACL         []string   `json:"acl,omitempty"`
	Execution   *Execution `json:"execution"`
}

// Execution is what a task run runs. Credentials are read so that a request carrying
// them is accepted, and never kept nor echoed.
type Execution struct {
	Image            *Image       `json:"image"`
	Command          string       `json:"command,omitempty"`
	Args             []string     `json:"args,omitempty"`
	Inputs           []Mount      `json:"inputs,omitempty"`
	Outputs          []Mount      `json:"outputs,omitempty"`
	SystemFiles      *Mount       `json:"systemFiles,omitempty"`
	Environment      *Environment `json:"environment,omitempty"`
	WorkingDirectory string       `json:"workingDirectory,omitempty"`
	RetryLimit       *int         `json:"retryLimit,omitempty"`
	RetryCount       *int         `json:"retryCount,omitempty"`
}

// Image names a container image.
type Image struct {
	Name        string          `json:"name"`
	Tag         string          `json:"tag,omitempty"`
	Digest      string          `json:"digest,omitempty"`
	Credentials json.RawMessage `json:"credentials,omitempty"`
}

// Mount is an input, output or the system files: where, from what store.
type Mount struct {
	StorageProvider string          `json:"storageProvider,omitempty"`
	Credentials     json.RawMessage `json:"credentials,omitempty"`
	Path            string          `json:"path,omitempty"`
	URL             string          `json:"url,omitempty"`
	URN             string          `json:"urn,omitempty"`
	Mode            string          `json:"mode,omitempty"`
	Type            string          `json:"type,omitempty"`
	ServiceURL      string          `json:"serviceUrl,omitempty"`
}

// Environment is the run's variables and resources.
type Environment struct {
	Variables           map[string]string `json:"variables,omitempty"`
	Resources           *Resources        `json:"resources,omitempty"`
	InputStreamSettings *struct {
		AccessPattern  string   `json:"accessPattern,omitempty"`
		CacheSizeGB    *float64 `json:"cacheSizeGB,omitempty"`
		BlockSizeMB    *float64 `json:"blockSizeMB,omitempty"`
		PrefetchBlocks *float64 `json:"prefetchBlocks,omitempty"`
	} `json:"inputStreamSettings,omitempty"`
}

// Resources is what a task run asks for.
type Resources struct {
	Type     string   `json:"type,omitempty"`
	Size     string   `json:"size,omitempty"`
	CPUCores *float64 `json:"cpuCores,omitempty"`
	MemoryGb *float64 `json:"memoryGb,omitempty"`
	Hardware []string `json:"hardware,omitempty"`
	Tier     string   `json:"tier,omitempty"`
}

// TaskRun is ICA's TaskRun; a TaskRunSummary is one without execution and logs.
type TaskRun struct {
	ID             string     `json:"id"`
	Href           string     `json:"href"`
	Name           string     `json:"name"`
	Description    string     `json:"description,omitempty"`
	Status         string     `json:"status"`
	StatusDetails  string     `json:"statusDetails,omitempty"`
	TypeOfResource string     `json:"typeOfResource,omitempty"`
	SizeOfResource string     `json:"sizeOfResource,omitempty"`
	TierOfResource string     `json:"tierOfResource,omitempty"`
	Execution      *Execution `json:"execution,omitempty"`
	Logs           []Log      `json:"logs,omitempty"`
	ACL            []string   `json:"acl"`
	CreatedBy      string     `json:"createdBy,omitempty"`
	TimeCreated    string     `json:"timeCreated"`
	TimeModified   string     `json:"timeModified"`
}

// Log is one attempt of a task run.
type Log struct {
	StartTime string `json:"startTime,omitempty"`
	EndTime   string `json:"endTime,omitempty"`
	Error     string `json:"error,omitempty"`
}

func invalid(path, msg string) error {
	return &provgraph.Error{Code: provgraph.Invalid, Status: 400, Message: path + ": " + msg,
		Fields: []provgraph.FieldError{{Path: path, Message: msg}}}
}

// DecodeCreate reads a CreateTaskRunRequest: a name, and an execution with an image name.
func DecodeCreate(body []byte) (CreateRequest, error) {
	var c CreateRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		field := ""
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			field = te.Field
		}
		return c, invalid(field, strings.TrimPrefix(err.Error(), "json: "))
	}
	if dec.More() {
		return c, invalid("", "one JSON object, nothing after it")
	}
	var errs []provgraph.FieldError
	bad := func(p, msg string, args ...any) {
		errs = append(errs, provgraph.FieldError{Path: p, Message: fmt.Sprintf(msg, args...)})
	}
	text := func(p, s string, max int) {
		if len(s) > max || !utf8.ValidString(s) {
			bad(p, "at most %d bytes of UTF-8", max)
		}
	}
	if strings.TrimSpace(c.Name) == "" {
		bad("name", "is required")
	}
	text("name", c.Name, 256)
	text("description", c.Description, 8192)
	if len(c.ACL) > 256 {
		bad("acl", "at most 256 entries")
	}
	for i, a := range c.ACL {
		text(fmt.Sprintf("acl[%d]", i), a, 256)
	}
	e := c.Execution
	if e == nil {
		bad("execution", "is required")
	} else {
		if e.Image == nil || strings.TrimSpace(e.Image.Name) == "" {
			bad("execution.image.name", "is required")
		} else if len(e.Image.Name)+len(e.Image.Tag)+len(e.Image.Digest) > 1000 {
			bad("execution.image", "the image reference is over 1000 bytes")
		}
		text("execution.command", e.Command, 8192)
		if len(e.Args) > 1000 {
			bad("execution.args", "at most 1000 arguments")
		}
		for i, a := range e.Args {
			text(fmt.Sprintf("execution.args[%d]", i), a, 8192)
		}
		if len(e.Inputs) > 1000 || len(e.Outputs) > 1000 {
			bad("execution", "at most 1000 inputs and 1000 outputs")
		}
		text("execution.workingDirectory", e.WorkingDirectory, 1024)
		if e.RetryLimit != nil && *e.RetryLimit < 0 {
			bad("execution.retryLimit", "must not be negative")
		}
		if env := e.Environment; env != nil {
			if len(env.Variables) > 256 {
				bad("execution.environment.variables", "at most 256 variables")
			}
			if r := env.Resources; r != nil {
				if r.CPUCores != nil && (*r.CPUCores < 0 || *r.CPUCores > 4096) {
					bad("execution.environment.resources.cpuCores", "must be from 0 to 4096")
				}
				if r.MemoryGb != nil && (*r.MemoryGb < 0 || *r.MemoryGb > 65536) {
					bad("execution.environment.resources.memoryGb", "must be from 0 to 65536")
				}
			}
		}
	}
	if len(errs) > 0 {
		slices.SortFunc(errs, func(a, b provgraph.FieldError) int { return strings.Compare(a.Path, b.Path) })
		return c, &provgraph.Error{Code: provgraph.Invalid, Status: 400, Message: "the task run is not valid: " + errs[0].Path + " " + errs[0].Message, Fields: errs}
	}
	e.strip()
	return c, nil
}

// strip drops every credential.
func (e *Execution) strip() {
	if e.Image != nil {
		e.Image.Credentials = nil
	}
	for i := range e.Inputs {
		e.Inputs[i].Credentials = nil
	}
	for i := range e.Outputs {
		e.Outputs[i].Credentials = nil
	}
	if e.SystemFiles != nil {
		e.SystemFiles.Credentials = nil
	}
}

var envKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// stored is what an ICA task run keeps under foreign.ica.
type stored struct {
	Execution *Execution `json:"execution,omitempty"`
	ACL       []string   `json:"acl,omitempty"`
}

// RunSpec is the native run a task run becomes, its execution and acl kept under
// foreign.ica (without credentials).
func (c CreateRequest) RunSpec() ([]byte, error) {
	doc, err := json.Marshal(stored{Execution: c.Execution, ACL: c.ACL})
	if err != nil {
		return nil, err
	}
	spec := map[string]any{"name": c.Name, "kind": "task", "foreign": map[string]json.RawMessage{"ica": doc}}
	if c.Description != "" {
		spec["description"] = c.Description
	}
	e := c.Execution
	image := e.Image.Name
	switch {
	case e.Image.Digest != "":
		image += "@" + e.Image.Digest
	case e.Image.Tag != "":
		image += ":" + e.Image.Tag
	}
	ex := map[string]any{"image": image}
	if e.Command != "" {
		ex["command"] = []string{e.Command}
	}
	if len(e.Args) > 0 {
		ex["args"] = e.Args
	}
	if e.WorkingDirectory != "" {
		ex["workdir"] = e.WorkingDirectory
	}
	if env := e.Environment; env != nil {
		fits := len(env.Variables) > 0
		for k, v := range env.Variables {
			fits = fits && len(k) <= 256 && envKey.MatchString(k) && len(v) <= 8192
		}
		if fits {
			ex["env"] = env.Variables
		}
		if r := env.Resources; r != nil {
			res := map[string]any{}
			if r.CPUCores != nil && *r.CPUCores > 0 {
				res["cpu_cores"] = *r.CPUCores
			}
			if r.MemoryGb != nil && *r.MemoryGb > 0 {
				res["ram_gb"] = *r.MemoryGb
			}
			if len(res) > 0 {
				ex["resources"] = res
			}
		}
	}
	spec["executor"] = ex
	return json.Marshal(spec)
}

// nativeExecutor is the executor of a run, as the native spec holds it.
type nativeExecutor struct {
	Image     string            `json:"image"`
	Command   []string          `json:"command"`
	Args      []string          `json:"args"`
	Env       map[string]string `json:"env"`
	Workdir   string            `json:"workdir"`
	Resources *struct {
		CPUCores *float64 `json:"cpu_cores"`
		RAMGb    *float64 `json:"ram_gb"`
	} `json:"resources"`
}

// created is what the task run was created with: the ICA request, or the ICA reading
// of a run created through another API.
func created(r runs.Run) stored {
	var spec struct {
		Foreign struct {
			ICA json.RawMessage `json:"ica"`
		} `json:"foreign"`
		Executor *nativeExecutor `json:"executor"`
	}
	if len(r.Spec) > 0 {
		_ = json.Unmarshal(r.Spec, &spec)
	}
	if len(spec.Foreign.ICA) > 0 {
		var s stored
		if json.Unmarshal(spec.Foreign.ICA, &s) == nil {
			return s
		}
	}
	e := spec.Executor
	if e == nil || e.Image == "" {
		return stored{}
	}
	x := &Execution{Image: &Image{Name: e.Image}, WorkingDirectory: e.Workdir}
	cmd := append(slices.Clone(e.Command), e.Args...)
	if len(cmd) > 0 {
		x.Command, x.Args = cmd[0], cmd[1:]
	}
	if len(e.Env) > 0 || e.Resources != nil {
		x.Environment = &Environment{Variables: e.Env}
		if rs := e.Resources; rs != nil {
			x.Environment.Resources = &Resources{CPUCores: rs.CPUCores, MemoryGb: rs.RAMGb}
		}
	}
	return stored{Execution: x}
}

// Status is a run's state as ICA writes it.
func Status(s runs.State) string { return system.Out[s] }

// States are the native states an ICA status filter selects: those ICA writes with that
// name and the one it reads it as.
func States(name string) ([]runs.State, bool) {
	out := system.Selects(name)
	return out, len(out) > 0
}

var system = runs.SystemNamed("Illumina ICA task runs")

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// Href is where a task run is.
func Href(id string) string { return Prefix + "/" + id }

// View is a run as an ICA TaskRun (summary: without execution and logs). r must be the
// native full view.
func View(r runs.Run, summary bool) TaskRun {
	s := created(r)
	t := TaskRun{ID: r.ID, Href: Href(r.ID), Name: r.Name, Description: r.Description, Status: Status(r.State),
		StatusDetails: r.Message, ACL: s.ACL, CreatedBy: r.CreatedBy, TimeCreated: stamp(r.CreatedAt), TimeModified: stamp(r.UpdatedAt)}
	if t.ACL == nil {
		t.ACL = []string{}
	}
	if x := s.Execution; x != nil && x.Environment != nil && x.Environment.Resources != nil {
		res := x.Environment.Resources
		t.TypeOfResource, t.SizeOfResource, t.TierOfResource = res.Type, res.Size, res.Tier
	}
	if summary {
		return t
	}
	t.Execution = s.Execution
	t.Logs = []Log{}
	add := func(started, ended *time.Time, state runs.State, message string) {
		if started == nil && ended == nil {
			return
		}
		l := Log{}
		if started != nil {
			l.StartTime = stamp(*started)
		}
		if ended != nil {
			l.EndTime = stamp(*ended)
		}
		if state == runs.Failed || state == runs.Errored {
			l.Error = message
		}
		t.Logs = append(t.Logs, l)
	}
	for _, a := range r.Attempts {
		add(a.StartedAt, a.EndedAt, a.State, a.Message)
	}
	add(r.StartedAt, r.EndedAt, r.State, r.Message)
	return t
}
