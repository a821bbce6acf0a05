package registry

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"provgraph"
)

// Page size bounds for every list.
const (
	DefaultPageSize = 50
	MaxPageSize     = 1000
)

// SortFields are the fields a list may be sorted by.
var SortFields = []string{"created_at", "updated_at", "name"}

// ListQuery selects one page of records of one kind.
type ListQuery struct {
	Kind         Kind
	NameContains string
	Filters      map[string]string // by Filter.Param
	SortField    string
	Desc         bool
	PageSize     int
	After        *Cursor
	Viewer       Viewer // lists only what it may read
}

// Cursor is the keyset position after which the next page starts.
type Cursor struct {
	Value string `json:"v"` // the sort key of the last row, as text
	ID    string `json:"i"`
}

// Page is one page of a list.
type Page struct {
	Records       []Record `json:"records"`
	NextPageToken string   `json:"next_page_token,omitempty"`
}

type token struct {
	Fingerprint string `json:"f"`
	Cursor
}

// ParseListQuery reads a list query from URL parameters.
func ParseListQuery(k Kind, params map[string][]string) (ListQuery, error) {
	q := ListQuery{Kind: k, SortField: "created_at", PageSize: DefaultPageSize, Filters: map[string]string{}}
	var errs []provgraph.FieldError
	var pageToken string
	for key, vals := range params {
		if len(vals) != 1 {
			errs = append(errs, provgraph.FieldError{Path: key, Message: "give this parameter once"})
			continue
		}
		v := vals[0]
		switch key {
		case "name":
			q.NameContains = v
		case "page_size":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > MaxPageSize {
				errs = append(errs, provgraph.FieldError{Path: key, Message: fmt.Sprintf("must be a whole number from 1 to %d", MaxPageSize)})
				continue
			}
			q.PageSize = n
		case "sort":
			field, dir, _ := strings.Cut(strings.TrimSpace(v), " ")
			if !slices.Contains(SortFields, field) {
				errs = append(errs, provgraph.FieldError{Path: key, Message: "sort by one of " + strings.Join(SortFields, ", ")})
				continue
			}
			switch strings.ToLower(strings.TrimSpace(dir)) {
			case "", "asc":
			case "desc":
				q.Desc = true
			default:
				errs = append(errs, provgraph.FieldError{Path: key, Message: `direction must be "asc" or "desc"`})
				continue
			}
			q.SortField = field
		case "page_token":
			pageToken = v
		default:
			if _, ok := k.FilterByParam(key); !ok {
				errs = append(errs, provgraph.FieldError{Path: key, Message: "unknown parameter"})
				continue
			}
			q.Filters[key] = v
		}
	}
	if len(errs) > 0 {
		slices.SortFunc(errs, func(a, b provgraph.FieldError) int { return strings.Compare(a.Path, b.Path) })
		return q, &provgraph.Error{Code: provgraph.Invalid, Message: "invalid list parameters", Fields: errs, Status: 400}
	}
	if pageToken != "" {
		c, err := q.decodeToken(pageToken)
		if err != nil {
			return q, err
		}
		q.After = &c
	}
	return q, nil
}

// fingerprint identifies everything but the position, so a token is refused when the
// caller changed the filter or sort between pages.
func (q ListQuery) fingerprint() string {
	keys := make([]string, 0, len(q.Filters))
	for k := range q.Filters {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%t\x00%d", q.Kind.Name, q.NameContains, q.SortField, q.Desc, q.PageSize)
	for _, k := range keys {
		fmt.Fprintf(h, "\x00%s=%s", k, q.Filters[k])
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// NextToken encodes the position after the last record of a page.
func (q ListQuery) NextToken(last Record) string {
	var v string
	switch q.SortField {
	case "name":
		v = last.Name
	case "updated_at":
		v = last.UpdatedAt.UTC().Format(time.RFC3339Nano)
	default:
		v = last.CreatedAt.UTC().Format(time.RFC3339Nano)
	}
	b, _ := json.Marshal(token{Fingerprint: q.fingerprint(), Cursor: Cursor{Value: v, ID: last.ID}})
	return base64.RawURLEncoding.EncodeToString(b)
}

func (q ListQuery) decodeToken(s string) (Cursor, error) {
	bad := func(msg string) error {
		return &provgraph.Error{Code: provgraph.Invalid, Message: msg, Status: 400,
			Fields: []provgraph.FieldError{{Path: "page_token", Message: msg}}}
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) > 4096 {
		return Cursor{}, bad("page_token is not a token this server issued")
	}
	var t token
	if err := json.Unmarshal(b, &t); err != nil || t.ID == "" {
		return Cursor{}, bad("page_token is not a token this server issued")
	}
	if t.Fingerprint != q.fingerprint() {
		return Cursor{}, bad("page_token belongs to a list with other filters, sort or page size")
	}
	if q.SortField != "name" {
		if _, err := time.Parse(time.RFC3339Nano, t.Value); err != nil {
			return Cursor{}, bad("page_token is not a token this server issued")
		}
	}
	return t.Cursor, nil
}
