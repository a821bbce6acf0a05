package kfp

// The pure translation between KFP's wire shapes and provgraph's: statuses, filters,
// sorting, page tokens, the ApiRun document. Nothing here reads a database.

import (
	"bytes"
	"cmp"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"provgraph"
	"provgraph/runs"
)

// kfpSystem is the KFP row of the seed-system tables (runs/systems.go): the one place
// KFP's status names are written.
var kfpSystem = runs.SystemNamed("Kubeflow Pipelines")

// Status is a run state as ApiRun.status writes it.
func Status(s runs.State) string { return kfpSystem.Out[s] }

// StateOf reads an ApiRun.status back onto provgraph's states.
func StateOf(status string) (runs.State, bool) {
	s, ok := kfpSystem.In[status]
	return s, ok
}

// Storage states of a run (ApiRun.storage_state) and of an experiment.
const (
	RunAvailable        = "STORAGESTATE_AVAILABLE"
	RunArchived         = "STORAGESTATE_ARCHIVED"
	ExperimentAvailable = "STORAGESTATE_AVAILABLE"
)

// The protobuf numbers of the storage-state enums, for filters that send numbers.
var (
	runStorageNumbers        = map[int64]string{0: RunAvailable, 1: RunArchived}
	experimentStorageNumbers = map[int64]string{0: "STORAGESTATE_UNSPECIFIED", 1: ExperimentAvailable, 2: "STORAGESTATE_ARCHIVED"}
)

// Timestamp writes a time as KFP does: whole seconds, RFC 3339 with Z.
func Timestamp(t time.Time) string { return t.UTC().Truncate(time.Second).Format(time.RFC3339) }

// Unset is what KFP writes for a time that has not happened (finished_at of a live run).
const Unset = "1970-01-01T00:00:00Z"

// Base64 is the encoding read_artifact answers in: standard and padded, what the client's
// ApiReadArtifactResponse validates.
var Base64 = base64.StdEncoding

// ---- filters ----

// Op is a filter predicate's operation, as filter.proto numbers it (there is no 4).
type Op int

// The operations.
const (
	OpEquals           Op = 1
	OpNotEquals        Op = 2
	OpGreaterThan      Op = 3
	OpGreaterThanEqual Op = 5
	OpLessThan         Op = 6
	OpLessThanEqual    Op = 7
	OpIn               Op = 8
	OpIsSubstring      Op = 9
)

var opNames = map[string]Op{"EQUALS": OpEquals, "NOT_EQUALS": OpNotEquals, "GREATER_THAN": OpGreaterThan,
	"GREATER_THAN_EQUALS": OpGreaterThanEqual, "LESS_THAN": OpLessThan, "LESS_THAN_EQUALS": OpLessThanEqual,
	"IN": OpIn, "IS_SUBSTRING": OpIsSubstring}

// FieldType is how a listed field compares.
type FieldType int

// The field types.
const (
	TextField FieldType = iota
	TimeField
	// StorageField is a storage state: a name, or its enum number.
	StorageField
)

// Fields are the keys a list filters and sorts on, with their types.
type Fields struct {
	Types map[string]FieldType
	// Storage names the storage-state enum's numbers.
	Storage map[int64]string
}

// RunFields are ApiRun's listable fields.
var RunFields = Fields{Types: map[string]FieldType{"id": TextField, "name": TextField, "description": TextField, "status": TextField,
	"storage_state": StorageField, "created_at": TimeField, "scheduled_at": TimeField, "finished_at": TimeField}, Storage: runStorageNumbers}

// ExperimentFields are ApiExperiment's listable fields.
var ExperimentFields = Fields{Types: map[string]FieldType{"id": TextField, "name": TextField, "description": TextField,
	"storage_state": StorageField, "created_at": TimeField}, Storage: experimentStorageNumbers}

// Predicate is one condition of a filter, its value normalised: texts in Texts, times
// and numbers in Numbers (Unix seconds for times); List says the value was a list.
type Predicate struct {
	Op      Op       `json:"op"`
	Key     string   `json:"key"`
	Texts   []string `json:"t,omitempty"`
	Numbers []int64  `json:"n,omitempty"`
	List    bool     `json:"l,omitempty"`
}

// Filter is a conjunction of predicates.
type Filter struct {
	Predicates []Predicate `json:"p"`
}

// MaxFilter bounds a filter's JSON and its predicates and values.
const (
	MaxFilter       = 64 << 10
	MaxPredicates   = 32
	MaxFilterValues = 1000
)

// ParseFilter reads KFP's filter JSON in both spellings that occur: the SDK's (numeric
// op, camelCase value keys) and protobuf's (op names, snake_case keys). An empty string
// is no filter.
func ParseFilter(s string, fields Fields) (Filter, error) {
	var f Filter
	if strings.TrimSpace(s) == "" {
		return f, nil
	}
	if len(s) > MaxFilter {
		return f, invalid("filter", fmt.Sprintf("a filter is at most %d bytes", MaxFilter))
	}
	var doc struct {
		Predicates []map[string]json.RawMessage `json:"predicates"`
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return f, invalid("filter", "the filter is not a JSON Filter {\"predicates\": [{\"op\", \"key\", <value>}]}: "+strings.TrimPrefix(err.Error(), "json: "))
	}
	if dec.More() {
		return f, invalid("filter", "the filter holds more than one JSON value")
	}
	if len(doc.Predicates) > MaxPredicates {
		return f, invalid("filter", fmt.Sprintf("a filter holds at most %d predicates", MaxPredicates))
	}
	for i, raw := range doc.Predicates {
		p, err := parsePredicate(raw, fields)
		if err != nil {
			return Filter{}, invalid("filter", fmt.Sprintf("predicate %d: %s", i, err))
		}
		f.Predicates = append(f.Predicates, p)
	}
	return f, nil
}

// snake reads a camelCase value key as protobuf's snake_case one.
func snake(k string) string {
	var b strings.Builder
	for _, r := range k {
		if r >= 'A' && r <= 'Z' {
			b.WriteByte('_')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

func parsePredicate(raw map[string]json.RawMessage, fields Fields) (Predicate, error) {
	var p Predicate
	var value json.RawMessage
	var valueKey string
	for k, v := range raw {
		switch sk := snake(k); sk {
		case "op":
			op, err := parseOp(v)
			if err != nil {
				return p, err
			}
			p.Op = op
		case "key":
			if err := json.Unmarshal(v, &p.Key); err != nil {
				return p, fmt.Errorf("key must be a string")
			}
		case "int_value", "long_value", "string_value", "timestamp_value", "int_values", "long_values", "string_values":
			if valueKey != "" {
				return p, fmt.Errorf("give one value, not %s and %s", valueKey, sk)
			}
			valueKey, value = sk, v
		default:
			return p, fmt.Errorf("unknown field %q", k)
		}
	}
	if p.Op == 0 {
		return p, fmt.Errorf("op is required (EQUALS, NOT_EQUALS, GREATER_THAN, GREATER_THAN_EQUALS, LESS_THAN, LESS_THAN_EQUALS, IN, IS_SUBSTRING)")
	}
	ft, ok := fields.Types[p.Key]
	if !ok {
		return p, fmt.Errorf("cannot filter on %q (%s)", p.Key, strings.Join(fields.names(), ", "))
	}
	if valueKey == "" {
		return p, fmt.Errorf("a value is required (string_value, int_value, long_value, timestamp_value or a list for IN)")
	}
	p.List = strings.HasSuffix(valueKey, "_values")
	switch {
	case p.Op == OpIn && !p.List:
		return p, fmt.Errorf("IN takes a list value (string_values, int_values, long_values)")
	case p.Op != OpIn && p.List:
		return p, fmt.Errorf("only IN takes a list value")
	case p.Op == OpIsSubstring && valueKey != "string_value":
		return p, fmt.Errorf("IS_SUBSTRING takes a string_value")
	}
	var vals []json.RawMessage
	if p.List {
		var l struct {
			Values []json.RawMessage `json:"values"`
		}
		if err := json.Unmarshal(value, &l); err != nil {
			return p, fmt.Errorf("%s must be {\"values\": [...]}", valueKey)
		}
		if len(l.Values) > MaxFilterValues {
			return p, fmt.Errorf("at most %d values", MaxFilterValues)
		}
		vals = l.Values
	} else {
		vals = []json.RawMessage{value}
	}
	isText := strings.HasPrefix(valueKey, "string_")
	isTime := valueKey == "timestamp_value"
	for _, v := range vals {
		switch {
		case isText:
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return p, fmt.Errorf("%s must hold strings", valueKey)
			}
			if ft == TimeField {
				return p, fmt.Errorf("%s is a time: compare it with a timestamp_value or a number of seconds", p.Key)
			}
			p.Texts = append(p.Texts, s)
		case isTime:
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return p, fmt.Errorf("timestamp_value must be an RFC 3339 string")
			}
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return p, fmt.Errorf("timestamp_value must be an RFC 3339 time")
			}
			if ft != TimeField {
				return p, fmt.Errorf("%s is not a time", p.Key)
			}
			p.Numbers = append(p.Numbers, t.Unix())
		default: // int or long, a JSON number or (protojson int64) a string
			n, err := parseInt(v)
			if err != nil {
				return p, fmt.Errorf("%s must hold whole numbers", valueKey)
			}
			switch ft {
			case TextField:
				return p, fmt.Errorf("%s is text: compare it with a string_value", p.Key)
			case StorageField:
				name, ok := fields.Storage[n]
				if !ok {
					return p, fmt.Errorf("%d is not a storage state", n)
				}
				p.Texts = append(p.Texts, name)
			default:
				p.Numbers = append(p.Numbers, n)
			}
		}
	}
	if ft == StorageField {
		for _, s := range p.Texts {
			if !slices.Contains(enumValues(fields.Storage), s) {
				return p, fmt.Errorf("%q is not a storage state (%s)", s, strings.Join(enumValues(fields.Storage), ", "))
			}
		}
	}
	return p, nil
}

func enumValues(m map[int64]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}

func (f Fields) names() []string {
	var out []string
	for k := range f.Types {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func parseOp(v json.RawMessage) (Op, error) {
	var name string
	if json.Unmarshal(v, &name) == nil {
		if op, ok := opNames[strings.ToUpper(name)]; ok {
			return op, nil
		}
		if n, err := strconv.Atoi(name); err == nil {
			v = json.RawMessage(strconv.Itoa(n))
		} else {
			return 0, fmt.Errorf("unknown op %q", name)
		}
	}
	var n int
	if err := json.Unmarshal(v, &n); err != nil {
		return 0, fmt.Errorf("op must be a name or a number")
	}
	for _, op := range opNames {
		if int(op) == n {
			return op, nil
		}
	}
	return 0, fmt.Errorf("unknown op %d", n)
}

func parseInt(v json.RawMessage) (int64, error) {
	var s string
	if json.Unmarshal(v, &s) == nil {
		return strconv.ParseInt(s, 10, 64)
	}
	var n int64
	d := json.NewDecoder(bytes.NewReader(v))
	d.UseNumber()
	var num json.Number
	if err := d.Decode(&num); err != nil {
		return 0, err
	}
	n, err := num.Int64()
	return n, err
}

// Row is one listed item's fields: strings for text and storage fields, times for times.
type Row struct {
	ID     string
	Text   map[string]string
	Times  map[string]time.Time
	Object any // what the list answers with
}

// Match says whether a row meets every predicate.
func (f Filter) Match(r Row) bool {
	for _, p := range f.Predicates {
		if !p.match(r) {
			return false
		}
	}
	return true
}

func (p Predicate) match(r Row) bool {
	if t, ok := r.Times[p.Key]; ok || len(p.Numbers) > 0 {
		got := t.Unix()
		if !ok {
			got = 0
		}
		return compare(p.Op, got, p.Numbers, func(a, b int64) int { return cmp.Compare(a, b) })
	}
	got := r.Text[p.Key]
	if p.Op == OpIsSubstring {
		return strings.Contains(strings.ToLower(got), strings.ToLower(p.Texts[0]))
	}
	return compare(p.Op, got, p.Texts, strings.Compare)
}

func compare[T any](op Op, got T, want []T, c func(a, b T) int) bool {
	if op == OpIn {
		return slices.ContainsFunc(want, func(w T) bool { return c(got, w) == 0 })
	}
	d := c(got, want[0])
	switch op {
	case OpEquals:
		return d == 0
	case OpNotEquals:
		return d != 0
	case OpGreaterThan:
		return d > 0
	case OpGreaterThanEqual:
		return d >= 0
	case OpLessThan:
		return d < 0
	case OpLessThanEqual:
		return d <= 0
	}
	return false
}

// NameHint is a substring every name the filter lets through holds, for narrowing the
// native query: the value of a name EQUALS or IS_SUBSTRING predicate, or "".
func (f Filter) NameHint() string {
	for _, p := range f.Predicates {
		if p.Key == "name" && (p.Op == OpEquals || p.Op == OpIsSubstring) && len(p.Texts) == 1 {
			return p.Texts[0]
		}
	}
	return ""
}

// Archived says which runs the filter can let through by storage state, as the native
// list's archived parameter: "true", "false" or "any".
func (f Filter) Archived() string {
	for _, p := range f.Predicates {
		if p.Key != "storage_state" || len(p.Texts) != 1 {
			continue
		}
		switch {
		case (p.Op == OpEquals && p.Texts[0] == RunArchived) || (p.Op == OpNotEquals && p.Texts[0] == RunAvailable):
			return "true"
		case (p.Op == OpEquals && p.Texts[0] == RunAvailable) || (p.Op == OpNotEquals && p.Texts[0] == RunArchived):
			return "false"
		}
	}
	return "any"
}

// NativeList says whether provgraph's run list can answer a KFP run list itself, sorting,
// paging and counting in the database: sorted by created_at or name, filtered on storage
// state alone. It answers the native list's sort and archived parameters.
func NativeList(f Filter, s Sort) (sort, archived string, ok bool) {
	if s.Field != "created_at" && s.Field != "name" {
		return "", "", false
	}
	allowed := map[string]bool{RunAvailable: true, RunArchived: true}
	for _, p := range f.Predicates {
		if p.Key != "storage_state" || (p.Op != OpEquals && p.Op != OpNotEquals) || len(p.Texts) != 1 {
			return "", "", false
		}
		for st := range allowed {
			if (st == p.Texts[0]) != (p.Op == OpEquals) {
				delete(allowed, st)
			}
		}
	}
	switch {
	case len(allowed) == 2:
		archived = "any"
	case allowed[RunAvailable]:
		archived = "false"
	case allowed[RunArchived]:
		archived = "true"
	default:
		return "", "", false // nothing passes: the general path answers that
	}
	sort = s.Field
	if s.Desc {
		sort += " desc"
	}
	return sort, archived, true
}

// ---- sorting ----

// Sort is a list order.
type Sort struct {
	Field string `json:"f"`
	Desc  bool   `json:"d,omitempty"`
}

// ParseSort reads sort_by: "field", "field asc" or "field desc"; created_at ascending
// when empty.
func ParseSort(s string, fields Fields) (Sort, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Sort{Field: "created_at"}, nil
	}
	parts := strings.Fields(s)
	if len(parts) > 2 {
		return Sort{}, invalid("sort_by", `sort_by is "field", "field asc" or "field desc"`)
	}
	if _, ok := fields.Types[parts[0]]; !ok {
		return Sort{}, invalid("sort_by", fmt.Sprintf("cannot sort by %q (%s)", parts[0], strings.Join(fields.names(), ", ")))
	}
	out := Sort{Field: parts[0]}
	if len(parts) == 2 {
		switch strings.ToLower(parts[1]) {
		case "asc":
		case "desc":
			out.Desc = true
		default:
			return Sort{}, invalid("sort_by", `the direction is "asc" or "desc"`)
		}
	}
	return out, nil
}

// compare orders two rows by the sort field, then by id, so pages neither repeat nor skip.
func (s Sort) compare(a, b Row) int {
	var d int
	if ta, ok := a.Times[s.Field]; ok {
		d = ta.Compare(b.Times[s.Field])
	} else {
		d = strings.Compare(a.Text[s.Field], b.Text[s.Field])
	}
	if d == 0 {
		d = strings.Compare(a.ID, b.ID)
	}
	if s.Desc {
		d = -d
	}
	return d
}

// ---- pages ----

// Page sizes: 0 means the default, more than the most is clamped.
const (
	DefaultPageSize = 20
	MaxPageSize     = 200
)

// ParsePageSize reads page_size.
func ParsePageSize(s string) (int, error) {
	if s == "" {
		return DefaultPageSize, nil
	}
	n, err := strconv.Atoi(s)
	switch {
	case err != nil || n < 0:
		return 0, invalid("page_size", "page_size must be a whole number, 0 or more")
	case n == 0:
		return DefaultPageSize, nil
	case n > MaxPageSize:
		return MaxPageSize, nil
	}
	return n, nil
}

// Tokens signs page tokens; a token is refused with another list, filter or sort than
// the one it was issued for, or when altered.
type Tokens struct {
	Key func() []byte
}

type cursor struct {
	Fingerprint string `json:"f"`
	Value       string `json:"v"`
	ID          string `json:"i"`
}

// Query is what a list asks for, but the position and page size.
type Query struct {
	List   string // "runs" or "experiments"
	Scope  string // the experiment a run list is limited to
	Filter Filter
	Sort   Sort
}

func (q Query) fingerprint() string {
	b, _ := json.Marshal(q)
	h := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(h[:12])
}

func (tk Tokens) sign(body []byte) []byte {
	mac := hmac.New(sha256.New, tk.Key())
	mac.Write(body)
	return mac.Sum(nil)
}

// Next is the token of the page after last.
func (tk Tokens) Next(q Query, last Row) string {
	body, _ := json.Marshal(cursor{Fingerprint: q.fingerprint(), Value: sortValue(q.Sort, last), ID: last.ID})
	return base64.RawURLEncoding.EncodeToString(body) + "." + base64.RawURLEncoding.EncodeToString(tk.sign(body))
}

func sortValue(s Sort, r Row) string {
	if t, ok := r.Times[s.Field]; ok {
		return t.UTC().Format(time.RFC3339Nano)
	}
	return r.Text[s.Field]
}

// position reads a token back into the row it stands after (only the sort field and id).
func (tk Tokens) position(q Query, token string) (*Row, error) {
	if token == "" {
		return nil, nil
	}
	bad := invalid("page_token", "page_token is not a token this server issued for this list")
	b64, sig, ok := strings.Cut(token, ".")
	body, err1 := base64.RawURLEncoding.DecodeString(b64)
	got, err2 := base64.RawURLEncoding.DecodeString(sig)
	if !ok || err1 != nil || err2 != nil || len(tk.Key()) == 0 || !hmac.Equal(got, tk.sign(body)) {
		return nil, bad
	}
	var c cursor
	if err := json.Unmarshal(body, &c); err != nil || c.ID == "" {
		return nil, bad
	}
	if c.Fingerprint != q.fingerprint() {
		return nil, invalid("page_token", "page_token belongs to a list with another filter, sort or experiment")
	}
	r := &Row{ID: c.ID, Text: map[string]string{}, Times: map[string]time.Time{}}
	if q.Sort.Field != "" {
		if ft, _ := fieldType(q); ft == TimeField {
			t, err := time.Parse(time.RFC3339Nano, c.Value)
			if err != nil {
				return nil, bad
			}
			r.Times[q.Sort.Field] = t
		} else {
			r.Text[q.Sort.Field] = c.Value
		}
	}
	return r, nil
}

func fieldType(q Query) (FieldType, bool) {
	f := RunFields
	if q.List == "experiments" {
		f = ExperimentFields
	}
	t, ok := f.Types[q.Sort.Field]
	return t, ok
}

// Paged is one page of a list.
type Paged struct {
	Rows  []Row
	Total int
	Next  string
}

// Page filters rows, sorts them, and cuts the page after the token's position: total
// counts every row the filter lets through.
func (tk Tokens) Page(q Query, rows []Row, size int, token string) (Paged, error) {
	after, err := tk.position(q, token)
	if err != nil {
		return Paged{}, err
	}
	var kept []Row
	for _, r := range rows {
		if q.Filter.Match(r) {
			kept = append(kept, r)
		}
	}
	slices.SortFunc(kept, q.Sort.compare)
	out := Paged{Total: len(kept)}
	start := 0
	if after != nil {
		start, _ = slices.BinarySearchFunc(kept, *after, func(r Row, a Row) int {
			if q.Sort.compare(r, a) <= 0 {
				return -1
			}
			return 1
		})
	}
	end := min(start+size, len(kept))
	out.Rows = kept[start:end]
	if end < len(kept) && len(out.Rows) > 0 {
		out.Next = tk.Next(q, out.Rows[len(out.Rows)-1])
	}
	return out, nil
}

// ---- errors ----

func invalid(field, msg string) error {
	return &provgraph.Error{Code: provgraph.Invalid, Status: 400, Message: msg, Fields: []provgraph.FieldError{{Path: field, Message: msg}}}
}
