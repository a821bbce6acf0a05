package flowserv

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"provgraph"
	"provgraph/registry"
	"provgraph/runs"
)

// Bounds of what a flowserv client sends.
const (
	maxName      = 256
	maxArguments = 1024
	maxMembers   = 256
	maxReason    = 4096
	// groupMarker starts the line of a study's description that holds the group.
	groupMarker = "flowserv-group: "
)

// Parameter is a flowserv parameter declaration as the client reads it (the fields of
// flowserv's Parameter.to_dict that a declaration needs), kept as sent for a group's own.
type Parameter = map[string]any

// Group is what a flowserv group holds beside its study's title: the workflow it belongs
// to, its members, its parameter declarations (the workflow's at creation, then its own)
// and its engine configuration, where public_downloads opens its result downloads.
type Group struct {
	Workflow   string         `json:"workflow"`
	Owner      string         `json:"owner,omitempty"`
	Members    []string       `json:"members"`
	Parameters []Parameter    `json:"parameters"`
	Config     map[string]any `json:"config,omitempty"`
}

// PublicDownloads says whether the group's result files and archives answer without a
// token: only when its config sets public_downloads to true.
func (g Group) PublicDownloads() bool {
	v, _ := g.Config["public_downloads"].(bool)
	return v
}

// StudyDoc is the study document that stores a group: its title is the group's name and
// its description says in prose and, on a line of its own, in JSON what the group is.
func StudyDoc(name string, g Group) ([]byte, error) {
	b, err := json.Marshal(g)
	if err != nil {
		return nil, err
	}
	desc := fmt.Sprintf("flowserv group of workflow %s.\n%s%s", g.Workflow, groupMarker, b)
	if len(desc) > 8192 {
		return nil, invalid("parameters", "the group (members, parameters and config) is over 8 KiB")
	}
	return json.Marshal(map[string]string{"title": name, "description": desc})
}

// FromStudy reads a group back from its study record; ok is false for a study that is no
// flowserv group.
func FromStudy(rec registry.Record) (name string, g Group, ok bool) {
	var doc struct {
		Title       string `json:"title"`
		Description string `json:"description"`
	}
	if json.Unmarshal(rec.Record, &doc) != nil {
		return "", Group{}, false
	}
	for line := range strings.SplitSeq(doc.Description, "\n") {
		if rest, found := strings.CutPrefix(line, groupMarker); found {
			if json.Unmarshal([]byte(rest), &g) != nil || g.Workflow == "" {
				return "", Group{}, false
			}
			return doc.Title, g, true
		}
	}
	return "", Group{}, false
}

// GroupCreate is a create_group body.
type GroupCreate struct {
	Name       string         `json:"name"`
	Members    []string       `json:"members"`
	Parameters []Parameter    `json:"parameters"`
	ID         *string        `json:"id"`
	Config     map[string]any `json:"config"`
}

// DecodeGroupCreate reads and checks a create_group body.
func DecodeGroupCreate(body []byte) (GroupCreate, error) {
	var c GroupCreate
	if err := strictJSON(body, &c); err != nil {
		return c, err
	}
	if strings.TrimSpace(c.Name) == "" || len(c.Name) > maxName {
		return c, invalid("name", fmt.Sprintf("a group needs a name of 1 to %d bytes", maxName))
	}
	if c.ID != nil {
		return c, invalid("id", "provgraph assigns group ids; leave id out")
	}
	if err := checkMembers(c.Members); err != nil {
		return c, err
	}
	seen := map[string]bool{}
	for i, p := range c.Parameters {
		n, _ := p["name"].(string)
		if n == "" || len(n) > maxName {
			return c, invalid(fmt.Sprintf("parameters[%d].name", i), "every parameter declaration needs a name")
		}
		if seen[n] {
			return c, invalid(fmt.Sprintf("parameters[%d].name", i), fmt.Sprintf("parameter %q is declared twice", n))
		}
		seen[n] = true
	}
	if v, ok := c.Config["public_downloads"]; ok {
		if _, isBool := v.(bool); !isBool {
			return c, invalid("config.public_downloads", "must be true or false")
		}
	}
	return c, nil
}

func checkMembers(ms []string) error {
	if len(ms) > maxMembers {
		return invalid("members", fmt.Sprintf("at most %d members", maxMembers))
	}
	for i, m := range ms {
		if strings.TrimSpace(m) == "" || len(m) > maxName {
			return invalid(fmt.Sprintf("members[%d]", i), "a member is a user id of 1 to 256 bytes")
		}
	}
	return nil
}

// NewGroup is the group a create makes: the workflow's parameters, then the group's own
// (which replace a workflow parameter of the same name), its owner first among members.
func NewGroup(workflow string, wfParams []Parameter, c GroupCreate, owner string) Group {
	g := Group{Workflow: workflow, Owner: owner, Members: []string{owner}, Config: c.Config}
	for _, m := range c.Members {
		if !slices.Contains(g.Members, m) {
			g.Members = append(g.Members, m)
		}
	}
	own := map[string]bool{}
	for _, p := range c.Parameters {
		own[p["name"].(string)] = true
	}
	for _, p := range wfParams {
		if !own[p["name"].(string)] {
			g.Parameters = append(g.Parameters, p)
		}
	}
	g.Parameters = append(g.Parameters, c.Parameters...)
	if g.Parameters == nil {
		g.Parameters = []Parameter{}
	}
	return g
}

// WorkflowParameters declares a workflow template's annotations as flowserv parameters:
// the required ones first, strings all.
func WorkflowParameters(rec registry.Record) []Parameter {
	var doc struct {
		Annotations struct {
			Required []string `json:"required"`
			Optional []string `json:"optional"`
		} `json:"annotations"`
	}
	_ = json.Unmarshal(rec.Record, &doc)
	out := []Parameter{}
	for i, n := range append(slices.Clone(doc.Annotations.Required), doc.Annotations.Optional...) {
		out = append(out, Parameter{"name": n, "label": n, "dtype": "string", "index": i, "isRequired": i < len(doc.Annotations.Required)})
	}
	return out
}

// Workflow is a workflow template as flowserv's WorkflowHandle.
func Workflow(rec registry.Record) map[string]any {
	var doc struct {
		DisplayName string `json:"display_name"`
		Description string `json:"description"`
	}
	_ = json.Unmarshal(rec.Record, &doc)
	w := map[string]any{"id": rec.ID, "name": doc.DisplayName, "parameters": WorkflowParameters(rec), "parameterGroups": []any{}}
	if doc.Description != "" {
		w["description"] = doc.Description
	}
	return w
}

// Argument is one run argument as the client sends it.
type Argument struct {
	Name  string          `json:"name"`
	Value json.RawMessage `json:"value"`
}

// DecodeArguments reads a start_run body ({"arguments": [{name, value}, …]}) and checks it
// against the group's parameters: every argument has a name and a value, none twice;
// when the group declares parameters, none is unknown and none required is missing.
func DecodeArguments(body []byte, params []Parameter) ([]Argument, error) {
	var req struct {
		Arguments []map[string]json.RawMessage `json:"arguments"`
	}
	if err := strictJSON(body, &req); err != nil {
		return nil, err
	}
	if len(req.Arguments) > maxArguments {
		return nil, invalid("arguments", fmt.Sprintf("at most %d arguments", maxArguments))
	}
	declared := map[string]bool{}
	for _, p := range params {
		n, _ := p["name"].(string)
		declared[n] = true
	}
	args := make([]Argument, 0, len(req.Arguments))
	seen := map[string]bool{}
	for i, raw := range req.Arguments {
		at := fmt.Sprintf("arguments[%d]", i)
		var a Argument
		if err := json.Unmarshal(raw["name"], &a.Name); err != nil || a.Name == "" || len(a.Name) > maxName {
			if err := json.Unmarshal(raw["id"], &a.Name); err != nil || a.Name == "" || len(a.Name) > maxName {
				return nil, invalid(at+".name", "every argument names its parameter")
			}
		}
		v, ok := raw["value"]
		if !ok || string(v) == "null" {
			return nil, invalid(at+".value", fmt.Sprintf("argument %q has no value", a.Name))
		}
		a.Value = v
		if seen[a.Name] {
			return nil, invalid(at+".name", fmt.Sprintf("argument %q is given twice", a.Name))
		}
		seen[a.Name] = true
		if len(params) > 0 && !declared[a.Name] {
			return nil, invalid(at+".name", fmt.Sprintf("%q is not a parameter of the group", a.Name))
		}
		args = append(args, a)
	}
	for _, p := range params {
		n, _ := p["name"].(string)
		if req, _ := p["isRequired"].(bool); req && !seen[n] {
			return nil, invalid("arguments", fmt.Sprintf("parameter %q is required", n))
		}
	}
	return args, nil
}

// nativeValue is an argument's value as a run parameter: strings, numbers and booleans as
// they are, a file argument as its file id, anything else as its JSON text.
func nativeValue(v json.RawMessage) any {
	var x any
	_ = json.Unmarshal(v, &x)
	switch t := x.(type) {
	case string, float64, bool:
		return t
	case map[string]any:
		if t["type"] == "$file" {
			if fv, ok := t["value"].(map[string]any); ok {
				if id, ok := fv["fileId"].(string); ok {
					return id
				}
			}
		}
	}
	return string(v)
}

// RunSpec is the native run a start_run makes: a workflow run of the group's study and its
// workflow template, the arguments as parameters and, as sent, under foreign.flowserv.
func RunSpec(groupID, groupName string, g Group, args []Argument) ([]byte, error) {
	params := map[string]any{}
	for _, a := range args {
		params[a.Name] = nativeValue(a.Value)
	}
	name := groupName + " run"
	for len(name) > maxName { // on a rune boundary: the name stays text
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	spec := map[string]any{
		"name": name, "kind": "workflow", "study_id": groupID,
		"ref":     map[string]string{"workflow_template_id": g.Workflow},
		"tags":    map[string]string{"flowserv.group": groupID},
		"foreign": map[string]any{"flowserv": map[string]any{"group_id": groupID, "arguments": args}},
	}
	if len(params) > 0 {
		spec["parameters"] = params
	}
	return json.Marshal(spec)
}

// sent is what start_run kept with a run (native full view).
func sent(r runs.Run) (groupID string, args []Argument) {
	var spec struct {
		Foreign struct {
			Flowserv struct {
				GroupID   string     `json:"group_id"`
				Arguments []Argument `json:"arguments"`
			} `json:"flowserv"`
		} `json:"foreign"`
	}
	_ = json.Unmarshal(r.Spec, &spec)
	return spec.Foreign.Flowserv.GroupID, spec.Foreign.Flowserv.Arguments
}

// State is a run's state as flowserv writes it.
func State(s runs.State) string { return system.Out[s] }

// States are the native states a ?state= filter selects (nil for none: the client sends
// "None" when it has no filter).
func States(name string) ([]runs.State, error) {
	if name == "" || name == "None" {
		return nil, nil
	}
	out := system.Selects(name)
	if len(out) == 0 {
		return nil, invalid("state", "not a flowserv state (PENDING, RUNNING, CANCELED, ERROR, SUCCESS)")
	}
	return out, nil
}

var system = runs.SystemNamed("flowserv")

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// Descriptor is a run as a listing shows it.
func Descriptor(r runs.Run) map[string]any {
	return map[string]any{"id": r.ID, "state": State(r.State), "createdAt": stamp(r.CreatedAt)}
}

// Handle is a run as flowserv's RunHandle: r is the native full view, g the run's group,
// files its artifacts (read only for a SUCCESS run).
func Handle(r runs.Run, g Group, files []runs.Artifact) map[string]any {
	h := Descriptor(r)
	h["workflowId"] = r.WorkflowTemplateID
	groupID, args := sent(r)
	if groupID == "" {
		groupID = r.StudyID
	}
	if groupID != "" {
		h["groupId"] = groupID
	}
	if args == nil {
		args = []Argument{}
	}
	h["arguments"] = args
	params := g.Parameters
	if params == nil {
		params = []Parameter{}
	}
	h["parameters"] = params
	state := State(r.State)
	if state != "PENDING" {
		switch {
		case r.StartedAt != nil:
			h["startedAt"] = stamp(*r.StartedAt)
		case r.EndedAt != nil: // a PENDING run canceled starts and stops at once
			h["startedAt"] = stamp(*r.EndedAt)
		}
	}
	end := func() {
		if r.EndedAt != nil {
			h["finishedAt"] = stamp(*r.EndedAt)
		}
	}
	switch state {
	case "CANCELED", "ERROR":
		end()
		h["messages"] = Messages(r)
	case "SUCCESS":
		end()
		fs := make([]map[string]any, len(files))
		for i, a := range files {
			fs[i] = map[string]any{"id": a.ID, "name": a.Name, "format": map[string]any{"type": a.MediaType}}
		}
		h["files"] = fs
	}
	return h
}

// Messages are why a run ended: for a canceled run the reason its cancel gave, else its
// message, else the reason of the operation that ended it.
func Messages(r runs.Run) []string {
	if r.State == runs.Canceled {
		for i := len(r.Events) - 1; i >= 0; i-- {
			if e := r.Events[i]; e.Op == runs.OpCancel && e.Reason != "" {
				return []string{e.Reason}
			}
		}
	}
	if r.Message != "" {
		return []string{r.Message}
	}
	for i := len(r.Events) - 1; i >= 0; i-- {
		if e := r.Events[i]; e.To == r.State && e.Reason != "" {
			return []string{e.Reason}
		}
	}
	return []string{}
}

// strictJSON decodes one JSON object, refusing unknown fields and trailing data.
func strictJSON(body []byte, v any) error {
	if len(strings.TrimSpace(string(body))) == 0 {
		body = []byte("{}")
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return invalid("", "the body is not the JSON object expected: "+err.Error())
	}
	if dec.More() {
		return invalid("", "the body holds more than one JSON value")
	}
	return nil
}

func invalid(field, msg string) error {
	return &provgraph.Error{Code: provgraph.Invalid, Status: 400, Message: msg, Fields: []provgraph.FieldError{{Path: field, Message: msg}}}
}
