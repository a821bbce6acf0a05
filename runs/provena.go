package runs

// Provena compatibility: Provena clients POST a ModelRunRecord to
// /model_run/register_complete in one of two shapes, and expect Provena's response and
// FastAPI's 422 body back. FromProvena turns either request shape into our flat model-run
// JSON (which Provena's current ModelRunRecord already is, give or take dataset_type), so
// the normal pipeline (schema, CheckShape, Check) runs on it unchanged; the loc function
// it returns carries our JSON pointers back into the client's own shape for the 422 body.
//
// The two request shapes:
//
//	RRAP (the original, rrap_mds_is_prov_api):
//	  {"workflow_definition": {"id": W},
//	   "inputs":  {"datasets": {"<key>": {"template": {"id": T}, "dataset_type": "DATA_STORE", "dataset": {"id": D}}}},
//	   "outputs": {"datasets": {...}},
//	   "associations": {"modeller": {"id": P}, "requesting_organisation": {"id": O}},
//	   "start_time": 1, "end_time": 1}
//	flat (Provena's current ModelRunRecord):
//	  {"workflow_template_id": W,
//	   "inputs":  [{"dataset_template_id": T, "dataset_id": D, "dataset_type": "DATA_STORE", "resources": {...}}],
//	   "outputs": [...],
//	   "associations": {"modeller_id": P, "requesting_organisation_id": O},
//	   "display_name": "...", "description": "...", "annotations": {...}, "study_id": S,
//	   "model_version": "...", "start_time": 1, "end_time": 1}
//
// The response shapes, from Provena's ProvenaInterfaces (ProvenanceAPI.py, SharedTypes.py):
//
//	Status                        {success: bool, details: str}
//	ProvenanceRecordInfo          {id: str, prov_json: str, record: ModelRunRecord}
//	SyncRegisterModelRunResponse  {status: Status, record_info: ProvenanceRecordInfo}
//
// (The RRAP API documented the same operation as returning RegisterModelRunResponse
// "including the handle id and record information"; current Provena answers the async
// variant with {status, session_id} and the synchronous one with record_info. We register
// synchronously, so we answer with record_info and never invent a session_id.)

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"provgraph"
	"provgraph/schemas"
)

// ProvenaResponse is Provena's answer to a successful registration
// (SyncRegisterModelRunResponse); RecordInfo is omitted when Status.Success is false.
type ProvenaResponse struct {
	Status     ProvenaStatus      `json:"status"`
	RecordInfo *ProvenaRecordInfo `json:"record_info,omitempty"`
}

// ProvenaStatus is Provena's Status: whether it worked, and a sentence saying so.
type ProvenaStatus struct {
	Success bool   `json:"success"`
	Details string `json:"details"`
}

// ProvenaRecordInfo is Provena's ProvenanceRecordInfo: the minted id (a handle in
// Provena), the PROV document serialised as a JSON string, and the record as registered
// (our flat shape, which is Provena's current ModelRunRecord).
type ProvenaRecordInfo struct {
	ID       string          `json:"id"`
	ProvJSON string          `json:"prov_json"`
	Record   json.RawMessage `json:"record"`
}

// ProvenaValidationError is FastAPI's 422 body: {"detail": [{"loc", "msg", "type"}]}.
type ProvenaValidationError struct {
	Detail []ProvenaDetail `json:"detail"`
}

// ProvenaDetail is one entry of FastAPI's 422 body. Loc starts with "body"; its other
// elements are strings (object keys) and ints (array indexes).
type ProvenaDetail struct {
	Loc  []any  `json:"loc"`
	Msg  string `json:"msg"`
	Type string `json:"type"`
}

// ProvenaDetails renders field errors as FastAPI's 422 body. loc is the function
// FromProvena returned with those errors (or with the flat document the errors are about);
// nil maps pointers in our flat shape literally. A missing field gets pydantic's
// "value_error.missing", anything else "value_error".
func ProvenaDetails(errs []provgraph.FieldError, loc func(string) []any) ProvenaValidationError {
	if loc == nil {
		loc = flatLoc
	}
	out := ProvenaValidationError{Detail: make([]ProvenaDetail, 0, len(errs))}
	for _, e := range errs {
		typ := "value_error"
		if e.Message == "is required" {
			typ = "value_error.missing"
		}
		out.Detail = append(out.Detail, ProvenaDetail{Loc: loc(e.Path), Msg: e.Message, Type: typ})
	}
	return out
}

// FromProvena reads a Provena ModelRunRecord in either shape (told apart by
// workflow_definition, RRAP, or workflow_template_id, flat) and returns it as JSON of our
// flat model-run shape. Values pass through as sent (times stay epoch seconds or RFC 3339,
// a wrongly typed id stays wrongly typed) so that the model-run schema judges them; what
// FromProvena itself checks is the wrapping of the RRAP shape, that dataset_type is
// "DATA_STORE" where given (it is then dropped), and that no key repeats.
//
// If errs is empty, flat is the document and loc maps a JSON pointer into flat (as our
// schema and rules report them, e.g. "/inputs/1/dataset_id", "" for the root) to a FastAPI
// loc in the client's shape. If errs is not empty, flat is nil, the errors' paths are
// pointers into the client's own document, and loc maps those. Either way loc is what
// ProvenaDetails wants; pointers it does not know become ["body", their segments...].
func FromProvena(raw []byte) (flat []byte, loc func(pointer string) []any, errs []provgraph.FieldError) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil || top == nil {
		return nil, plainLoc, []provgraph.FieldError{{Path: "", Message: "body is not a JSON object"}}
	}
	if ptr, dup := schemas.DuplicateKey(raw); dup {
		return nil, plainLoc, []provgraph.FieldError{{Path: ptr, Message: "key appears more than once"}}
	}
	_, rrap := top["workflow_definition"]
	_, current := top["workflow_template_id"]
	switch {
	case rrap && current:
		return nil, plainLoc, []provgraph.FieldError{{Path: "", Message: "give workflow_definition (RRAP shape) or workflow_template_id (current shape), not both"}}
	case rrap:
		return fromRRAP(top)
	case current:
		return fromFlat(top)
	}
	return nil, plainLoc, []provgraph.FieldError{{Path: "/workflow_template_id", Message: "is required (or workflow_definition, in the RRAP shape)"}}
}

// fromFlat checks and drops dataset_type; everything else is already our shape.
func fromFlat(top map[string]json.RawMessage) ([]byte, func(string) []any, []provgraph.FieldError) {
	var errs []provgraph.FieldError
	for _, side := range []string{"inputs", "outputs"} {
		var items []json.RawMessage
		if json.Unmarshal(top[side], &items) != nil {
			continue // absent or not an array: the schema says so
		}
		for i, item := range items {
			var d map[string]json.RawMessage
			if json.Unmarshal(item, &d) != nil || d == nil {
				continue
			}
			if t, ok := d["dataset_type"]; ok {
				if !isDataStore(t) {
					errs = append(errs, provgraph.FieldError{Path: fmt.Sprintf("/%s/%d/dataset_type", side, i), Message: `must be "DATA_STORE"`})
				}
				delete(d, "dataset_type")
				items[i] = mustMarshal(d)
			}
		}
		if items != nil {
			top[side] = mustMarshal(items)
		}
	}
	if len(errs) > 0 {
		return nil, flatLoc, errs
	}
	return mustMarshal(top), flatLoc, nil
}

// rrapFields are the top-level keys of the RRAP shape; the last five are not in the RRAP
// ModelRunRecord but are taken as in the flat shape if a client adds them.
var rrapFields = []string{"workflow_definition", "inputs", "outputs", "associations", "start_time", "end_time",
	"display_name", "description", "annotations", "study_id", "model_version"}

func fromRRAP(top map[string]json.RawMessage) ([]byte, func(string) []any, []provgraph.FieldError) {
	var errs []provgraph.FieldError
	fail := func(path, msg string) { errs = append(errs, provgraph.FieldError{Path: path, Message: msg}) }
	out := map[string]json.RawMessage{}
	for _, k := range sortedKeys(top) {
		if !slices.Contains(rrapFields, k) {
			fail("/"+escape(k), "is not a field of the RRAP model run record")
		}
	}
	for _, k := range []string{"start_time", "end_time", "display_name", "description", "annotations", "study_id", "model_version"} {
		if v, ok := top[k]; ok {
			out[k] = v
		}
	}
	if id, ok := resourceID(top["workflow_definition"], "/workflow_definition", fail); ok {
		out["workflow_template_id"] = id
	}
	keys := map[string][]string{}
	for _, side := range []string{"inputs", "outputs"} {
		raw, ok := top[side]
		if !ok {
			continue // the schema reports /inputs as required
		}
		list, ks := rrapDatasets(raw, "/"+side, fail)
		out[side], keys[side] = mustMarshal(list), ks
	}
	if raw, ok := top["associations"]; ok {
		var a map[string]json.RawMessage
		if json.Unmarshal(raw, &a) != nil || a == nil {
			fail("/associations", "must be an object with modeller and requesting_organisation")
		} else {
			assoc := map[string]json.RawMessage{}
			for _, k := range sortedKeys(a) {
				switch k {
				case "modeller":
					if id, ok := resourceID(a[k], "/associations/modeller", fail); ok {
						assoc["modeller_id"] = id
					}
				case "requesting_organisation":
					if id, ok := resourceID(a[k], "/associations/requesting_organisation", fail); ok {
						assoc["requesting_organisation_id"] = id
					}
				default:
					fail("/associations/"+escape(k), "is not a field of the RRAP associations")
				}
			}
			out["associations"] = mustMarshal(assoc)
		}
	}
	// The RRAP record has neither display name nor description, and our schema requires
	// both, non-blank: derive them, saying where they came from. Errors about them then
	// point at the body, since the client never sent them.
	_, ownName := top["display_name"]
	_, ownDescription := top["description"]
	if !ownName {
		name := "Model run"
		var wf string
		if json.Unmarshal(out["workflow_template_id"], &wf) == nil && strings.TrimSpace(wf) != "" {
			name = truncate("Model run of workflow template "+wf, 256)
		}
		out["display_name"] = mustMarshal(name)
	}
	if !ownDescription {
		out["description"] = mustMarshal("Registered through Provena's RRAP model run record, which carries no description; this one was derived.")
	}
	if len(errs) > 0 {
		slices.SortStableFunc(errs, func(a, b provgraph.FieldError) int { return strings.Compare(a.Path, b.Path) })
		return nil, plainLoc, errs
	}
	loc := func(pointer string) []any {
		segs := segments(pointer)
		body := []any{"body"}
		if len(segs) == 0 {
			return body
		}
		rest := func(from int) []any { return strs(segs[from:]) }
		switch head := segs[0]; head {
		case "workflow_template_id":
			return slices.Concat(body, []any{"workflow_definition", "id"}, rest(1))
		case "display_name", "description":
			if (head == "display_name" && !ownName) || (head == "description" && !ownDescription) {
				return body
			}
		case "associations":
			if len(segs) >= 2 {
				switch segs[1] {
				case "modeller_id":
					return slices.Concat(body, []any{"associations", "modeller", "id"}, rest(2))
				case "requesting_organisation_id":
					return slices.Concat(body, []any{"associations", "requesting_organisation", "id"}, rest(2))
				}
			}
		case "inputs", "outputs":
			if len(segs) < 2 {
				break
			}
			i, err := strconv.Atoi(segs[1])
			if err != nil || !isIndex(segs[1]) || i >= len(keys[head]) {
				break
			}
			at := []any{head, "datasets", keys[head][i]}
			if len(segs) == 2 {
				return slices.Concat(body, at)
			}
			switch segs[2] {
			case "dataset_id":
				return slices.Concat(body, at, []any{"dataset", "id"}, rest(3))
			case "dataset_template_id":
				return slices.Concat(body, at, []any{"template", "id"}, rest(3))
			default: // dataset_type, resources and anything unknown keep their names
				return slices.Concat(body, at, rest(2))
			}
		}
		return slices.Concat(body, rest(0))
	}
	return mustMarshal(out), loc, nil
}

// rrapDatasets turns {"datasets": {"<key>": {...}}} into our list, ordered by key (byte
// order), and returns the keys in that order so loc can map an index back to its key.
func rrapDatasets(raw json.RawMessage, at string, fail func(path, msg string)) ([]map[string]json.RawMessage, []string) {
	list := []map[string]json.RawMessage{}
	var info map[string]json.RawMessage
	if json.Unmarshal(raw, &info) != nil || info == nil {
		fail(at, `must be an object with "datasets"`)
		return list, nil
	}
	for _, k := range sortedKeys(info) {
		if k != "datasets" {
			fail(at+"/"+escape(k), "is not a field of the RRAP "+strings.TrimPrefix(at, "/"))
		}
	}
	rawSets, ok := info["datasets"]
	if !ok {
		fail(at+"/datasets", "is required")
		return list, nil
	}
	var sets map[string]json.RawMessage
	if json.Unmarshal(rawSets, &sets) != nil || sets == nil {
		fail(at+"/datasets", "must be an object of templated datasets by key")
		return list, nil
	}
	keys := sortedKeys(sets)
	for _, key := range keys {
		here := at + "/datasets/" + escape(key)
		var td map[string]json.RawMessage
		if json.Unmarshal(sets[key], &td) != nil || td == nil {
			fail(here, "must be an object with template, dataset_type and dataset")
			list = append(list, map[string]json.RawMessage{})
			continue
		}
		d := map[string]json.RawMessage{}
		for _, k := range sortedKeys(td) {
			switch k {
			case "template":
				if id, ok := resourceID(td[k], here+"/template", fail); ok {
					d["dataset_template_id"] = id
				}
			case "dataset":
				if id, ok := resourceID(td[k], here+"/dataset", fail); ok {
					d["dataset_id"] = id
				}
			case "dataset_type":
				if !isDataStore(td[k]) {
					fail(here+"/dataset_type", `must be "DATA_STORE"`)
				}
			case "resources":
				d["resources"] = td[k]
			default:
				fail(here+"/"+escape(k), "is not a field of an RRAP templated dataset")
			}
		}
		list = append(list, d)
	}
	return list, keys
}

// resourceID reads an RRAP resource reference {"id": ...}; ok is false when raw is absent
// or wrong (the latter reported). The id itself passes through for the schema to judge.
func resourceID(raw json.RawMessage, at string, fail func(path, msg string)) (json.RawMessage, bool) {
	if raw == nil {
		return nil, false
	}
	var r map[string]json.RawMessage
	if json.Unmarshal(raw, &r) != nil || r == nil {
		fail(at, `must be an object with an "id"`)
		return nil, false
	}
	for _, k := range sortedKeys(r) {
		if k != "id" {
			fail(at+"/"+escape(k), `is not a field of a resource reference (only "id" is)`)
		}
	}
	id, ok := r["id"]
	if !ok {
		fail(at+"/id", "is required")
	}
	return id, ok
}

func isDataStore(raw json.RawMessage) bool {
	var s string
	return json.Unmarshal(raw, &s) == nil && s == "DATA_STORE"
}

// flatLoc maps a pointer into the flat shape: array indexes under inputs and outputs
// become ints, everything else stays a string.
func flatLoc(pointer string) []any {
	segs := segments(pointer)
	loc := append([]any{"body"}, strs(segs)...)
	if len(segs) >= 2 && (segs[0] == "inputs" || segs[0] == "outputs") && isIndex(segs[1]) {
		if i, err := strconv.Atoi(segs[1]); err == nil {
			loc[2] = i
		}
	}
	return loc
}

// plainLoc maps a pointer segment by segment, all strings (the RRAP shape has no arrays).
func plainLoc(pointer string) []any {
	return append([]any{"body"}, strs(segments(pointer))...)
}

// segments splits a JSON pointer into unescaped tokens; "" is the root. A string that is
// not a pointer (no leading "/") is taken as one token.
func segments(pointer string) []string {
	if pointer == "" {
		return nil
	}
	if !strings.HasPrefix(pointer, "/") {
		return []string{pointer}
	}
	segs := strings.Split(pointer[1:], "/")
	for i, s := range segs {
		segs[i] = strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
	}
	return segs
}

func strs(segs []string) []any {
	out := make([]any, len(segs))
	for i, s := range segs {
		out[i] = s
	}
	return out
}

// isIndex reports whether s is an array index as JSON pointers write them: digits, no
// leading zero, small enough to be an int.
func isIndex(s string) bool {
	if s == "" || len(s) > 9 || (len(s) > 1 && s[0] == '0') {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

// mustMarshal marshals values built from decoded JSON, which cannot fail.
func mustMarshal(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("runs: marshalling decoded JSON: %v", err))
	}
	return b
}

// ProvenaRecord is a registered model run's record as Provena's ModelRunRecord has it:
// every input and output with dataset_type "DATA_STORE" (Provena's only dataset type,
// which provgraph does not store), and times as epoch seconds (Provena's are ints; ours
// may have been sent as RFC 3339). A record it cannot read is returned as it is.
func ProvenaRecord(record json.RawMessage) json.RawMessage {
	var doc map[string]json.RawMessage
	if json.Unmarshal(record, &doc) != nil || doc == nil {
		return record
	}
	for _, side := range []string{"inputs", "outputs"} {
		var items []map[string]json.RawMessage
		if json.Unmarshal(doc[side], &items) != nil {
			continue
		}
		for _, d := range items {
			if d != nil {
				d["dataset_type"] = mustMarshal("DATA_STORE")
			}
		}
		if items != nil {
			doc[side] = mustMarshal(items)
		}
	}
	for _, k := range []string{"start_time", "end_time"} {
		var s string
		if json.Unmarshal(doc[k], &s) != nil {
			continue
		}
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			doc[k] = mustMarshal(t.Unix())
		}
	}
	return mustMarshal(doc)
}

// ProvenaRefusal is Provena's answer to a registration that err refused, given the flat
// document registered and the loc FromProvena returned with it: FastAPI's 422
// {"detail": [{loc, msg, type}]} when the record is ill-formed (a field missing, of the
// wrong type or too long), 400 {"detail": "…"} when it is well-formed but names records
// that do not exist or do not fit (ids, templates, deferred resources, annotations).
// Provena's model takes any string as an id and refuses a malformed one when it looks the
// id up, with 400; so does this, for a string id that fails our schema's id rule (no
// provgraph id could match it). ok is false when err is not a refusal of the record.
func ProvenaRefusal(err error, flat []byte, loc func(string) []any) (status int, body any, ok bool) {
	var e *provgraph.Error
	if !errors.As(err, &e) || e.Code != provgraph.Invalid {
		return 0, nil, false
	}
	if loc == nil {
		loc = flatLoc
	}
	if errors.Is(err, ErrSchema) {
		ids := stringIDs(flat)
		if len(e.Fields) == 0 || slices.ContainsFunc(e.Fields, func(f provgraph.FieldError) bool { return !ids[f.Path] }) {
			return 422, ProvenaDetails(e.Fields, loc), true
		}
	}
	return 400, map[string]string{"detail": provenaDetail(e, loc)}, true
}

// provenaDetail is the sentence of a 400: Provena's own words for a failed id or template
// check, and every violation with where it is in the client's document.
func provenaDetail(e *provgraph.Error, loc func(string) []any) string {
	if len(e.Fields) == 0 {
		return e.Message
	}
	head := "Failed to validate the model run record, error: "
	parts := make([]string, 0, len(e.Fields))
	for _, f := range e.Fields {
		if strings.HasSuffix(f.Path, "_id") || f.Path == "/inputs" || f.Path == "/outputs" {
			head = "Failed to validate an entity's ID in the record, error: "
		}
		var at []string
		for _, seg := range loc(f.Path) {
			if seg != "body" {
				at = append(at, fmt.Sprint(seg))
			}
		}
		if len(at) == 0 {
			parts = append(parts, f.Message)
			continue
		}
		parts = append(parts, strings.Join(at, ".")+": "+f.Message)
	}
	return head + strings.Join(parts, "; ")
}

// stringIDs are the pointers of the ids in a flat model run (templates, datasets, agents,
// study) whose values are strings.
func stringIDs(flat []byte) map[string]bool {
	var doc struct {
		WorkflowTemplateID any `json:"workflow_template_id"`
		StudyID            any `json:"study_id"`
		Associations       struct {
			ModellerID any `json:"modeller_id"`
			OrgID      any `json:"requesting_organisation_id"`
		} `json:"associations"`
		Inputs, Outputs []struct {
			TemplateID any `json:"dataset_template_id"`
			DatasetID  any `json:"dataset_id"`
		}
	}
	out := map[string]bool{}
	if json.Unmarshal(flat, &doc) != nil {
		return out
	}
	add := func(ptr string, v any) {
		if _, ok := v.(string); ok {
			out[ptr] = true
		}
	}
	add("/workflow_template_id", doc.WorkflowTemplateID)
	add("/study_id", doc.StudyID)
	add("/associations/modeller_id", doc.Associations.ModellerID)
	add("/associations/requesting_organisation_id", doc.Associations.OrgID)
	for side, list := range map[string][]struct {
		TemplateID any `json:"dataset_template_id"`
		DatasetID  any `json:"dataset_id"`
	}{"inputs": doc.Inputs, "outputs": doc.Outputs} {
		for i, d := range list {
			add(fmt.Sprintf("/%s/%d/dataset_template_id", side, i), d.TemplateID)
			add(fmt.Sprintf("/%s/%d/dataset_id", side, i), d.DatasetID)
		}
	}
	return out
}
