package runs

import (
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
)

// Paging bounds of run lists.
const (
	DefaultRunPageSize = 50
	MaxRunPageSize     = 1000
)

// RunSortFields are what run lists sort by.
var RunSortFields = []string{"created_at", "name", "state"}

// RunQuery selects one page of runs.
type RunQuery struct {
	States             []State
	NamePrefix         string
	NameContains       string
	Tags               []string // "key=value", all must match
	StudyID            string
	WorkflowTemplateID string
	CreatedAfter       *time.Time
	CreatedBefore      *time.Time
	Archived           string // "false" (default), "true" or "any"
	Sort               string
	Desc               bool
	PageSize           int
	After              *RunCursor
}

// RunCursor is where the next page starts: the sort value and id of the last run.
type RunCursor struct {
	Value string `json:"v"`
	ID    string `json:"i"`
}

// RunPage is one page of runs.
type RunPage struct {
	Runs          []Run  `json:"runs"`
	NextPageToken string `json:"next_page_token,omitempty"`
}

// Tokens signs page tokens so that a forged or altered one is refused, and a token is
// refused with any other filter, sort or page size than the one it was issued for.
type Tokens struct{ Key []byte }

type runToken struct {
	Fingerprint string `json:"f"`
	RunCursor
}

// ParseRunQuery reads a run list query from URL parameters. Several states are given as
// state=A&state=B or state=A,B; tags as tag=key:value (repeatable).
func (tk Tokens) ParseRunQuery(params map[string][]string) (RunQuery, error) {
	q := RunQuery{Sort: "created_at", PageSize: DefaultRunPageSize, Archived: "false"}
	var errs []provgraph.FieldError
	bad := func(key, msg string) { errs = append(errs, provgraph.FieldError{Path: key, Message: msg}) }
	one := func(key string, vals []string) (string, bool) {
		if len(vals) != 1 {
			bad(key, "give this parameter once")
			return "", false
		}
		return vals[0], true
	}
	var token string
	for key, vals := range params {
		switch key {
		case "state":
			for _, v := range vals {
				for _, s := range strings.Split(v, ",") {
					st, ok := ParseState(s)
					if !ok {
						bad(key, fmt.Sprintf("%q is not a state (%s)", s, strings.Join(statesNames(States()), ", ")))
						continue
					}
					q.States = append(q.States, st)
				}
			}
		case "tag":
			for _, v := range vals {
				k, val, ok := strings.Cut(v, ":")
				if !ok || k == "" {
					bad(key, "give tag=key:value")
					continue
				}
				q.Tags = append(q.Tags, k+"="+val)
			}
		case "name_prefix", "name", "study_id", "workflow_template_id", "archived", "sort", "page_size", "page_token", "created_after", "created_before", "view":
			v, ok := one(key, vals)
			if !ok {
				continue
			}
			switch key {
			case "name_prefix":
				q.NamePrefix = v
			case "name":
				q.NameContains = v
			case "study_id":
				q.StudyID = v
			case "workflow_template_id":
				q.WorkflowTemplateID = v
			case "archived":
				if !slices.Contains([]string{"false", "true", "any"}, v) {
					bad(key, "must be false, true or any")
				}
				q.Archived = v
			case "sort":
				field, dir, _ := strings.Cut(strings.TrimSpace(v), " ")
				if !slices.Contains(RunSortFields, field) {
					bad(key, "sort by one of "+strings.Join(RunSortFields, ", "))
					continue
				}
				switch strings.ToLower(strings.TrimSpace(dir)) {
				case "", "asc":
				case "desc":
					q.Desc = true
				default:
					bad(key, `direction must be "asc" or "desc"`)
				}
				q.Sort = field
			case "page_size":
				n, err := strconv.Atoi(v)
				if err != nil || n < 1 || n > MaxRunPageSize {
					bad(key, fmt.Sprintf("must be a whole number from 1 to %d", MaxRunPageSize))
					continue
				}
				q.PageSize = n
			case "page_token":
				token = v
			case "created_after", "created_before":
				t, err := time.Parse(time.RFC3339Nano, v)
				if err != nil {
					bad(key, "must be an RFC 3339 time")
					continue
				}
				t = t.UTC()
				if key == "created_after" {
					q.CreatedAfter = &t
				} else {
					q.CreatedBefore = &t
				}
			}
		default:
			bad(key, "unknown parameter")
		}
	}
	slices.Sort(q.States)
	q.States = slices.Compact(q.States)
	slices.Sort(q.Tags)
	if len(errs) > 0 {
		slices.SortFunc(errs, func(a, b provgraph.FieldError) int { return strings.Compare(a.Path, b.Path) })
		return q, &provgraph.Error{Code: provgraph.Invalid, Status: 400, Message: "invalid list parameters", Fields: errs}
	}
	if token != "" {
		c, err := tk.decode(q, token)
		if err != nil {
			return q, err
		}
		q.After = &c
	}
	return q, nil
}

// fingerprint identifies everything but the position.
func (q RunQuery) fingerprint() string {
	h := sha256.New()
	fmt.Fprintf(h, "%v\x00%s\x00%s\x00%v\x00%s\x00%s\x00%v\x00%v\x00%s\x00%s\x00%t\x00%d",
		q.States, q.NamePrefix, q.NameContains, q.Tags, q.StudyID, q.WorkflowTemplateID, q.CreatedAfter, q.CreatedBefore, q.Archived, q.Sort, q.Desc, q.PageSize)
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:12])
}

// SortValue is a run's value of the query's sort field, as a token holds it.
func (q RunQuery) SortValue(r Run) string {
	switch q.Sort {
	case "name":
		return r.Name
	case "state":
		return string(r.State)
	}
	return r.CreatedAt.UTC().Format(time.RFC3339Nano)
}

// Next is the token of the page after the one ending with last.
func (tk Tokens) Next(q RunQuery, last Run) string {
	body, _ := json.Marshal(runToken{Fingerprint: q.fingerprint(), RunCursor: RunCursor{Value: q.SortValue(last), ID: last.ID}})
	mac := hmac.New(sha256.New, tk.Key)
	mac.Write(body)
	return base64.RawURLEncoding.EncodeToString(body) + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func (tk Tokens) decode(q RunQuery, s string) (RunCursor, error) {
	bad := func(msg string) error {
		return &provgraph.Error{Code: provgraph.Invalid, Status: 400, Message: msg, Fields: []provgraph.FieldError{{Path: "page_token", Message: msg}}}
	}
	b64, sig, ok := strings.Cut(s, ".")
	body, err1 := base64.RawURLEncoding.DecodeString(b64)
	got, err2 := base64.RawURLEncoding.DecodeString(sig)
	mac := hmac.New(sha256.New, tk.Key)
	mac.Write(body)
	if !ok || err1 != nil || err2 != nil || len(tk.Key) == 0 || !hmac.Equal(got, mac.Sum(nil)) {
		return RunCursor{}, bad("page_token is not a token this server issued")
	}
	var t runToken
	if err := json.Unmarshal(body, &t); err != nil || t.ID == "" {
		return RunCursor{}, bad("page_token is not a token this server issued")
	}
	if t.Fingerprint != q.fingerprint() {
		return RunCursor{}, bad("page_token belongs to a list with other filters, sort or page size")
	}
	return t.RunCursor, nil
}
