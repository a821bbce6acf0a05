// Package pager pages a foreign API's run lists over the native ones when the foreign
// filters are not all native: it reads native pages, keeps the runs a predicate passes,
// and answers a page token of its own that names a native page and how far into it the
// next page starts. The native token inside is the server's signed one, so a forged
// position only skips runs the caller could list anyway.
package pager

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"

	"provgraph"
	"provgraph/runs"
)

// Lister reads one native page of runs (runs.Runs.List).
type Lister func(ctx context.Context, params map[string][]string) (runs.RunPage, error)

// Query is one foreign list: the native parameters it is read with, the predicate the
// facade applies on top (nil keeps every run), and what identifies it for its tokens.
type Query struct {
	Native url.Values
	Keep   func(runs.Run) bool
	// Key names everything of the foreign query but the position (filters, size, sort):
	// a token is refused with any other.
	Key  string
	Size int
	// Param is the foreign name of the token parameter, for errors.
	Param string
}

// ScanBudget bounds the native pages one answer reads once it holds a run: a filter that
// matches rarely answers a short page with a next token rather than scanning everything.
const ScanBudget = 20

type token struct {
	Native string `json:"n,omitempty"`
	Skip   int    `json:"s,omitempty"`
	Key    string `json:"k"`
}

// Fingerprint hashes the parts of a query that a token must match.
func Fingerprint(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s\x00", len(p), p)
	}
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:12])
}

// Encode is the token of the position skip runs into the native page named native.
func Encode(key, native string, skip int) string {
	b, _ := json.Marshal(token{Native: native, Skip: skip, Key: key})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decode(q Query, s string) (token, error) {
	bad := func(msg string) error {
		return &provgraph.Error{Code: provgraph.Invalid, Status: 400, Message: msg, Fields: []provgraph.FieldError{{Path: q.Param, Message: msg}}}
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	var t token
	if err != nil || len(b) > 4096 || json.Unmarshal(b, &t) != nil || t.Skip < 0 || t.Skip > runs.MaxRunPageSize {
		return token{}, bad(q.Param + " is not a token this server issued")
	}
	if t.Key != q.Key {
		return token{}, bad(q.Param + " belongs to a list with other filters or page size")
	}
	return t, nil
}

// NativeSize is the native page size a query reads with: the foreign size when every
// filter is native, else at least 200 so that a selective filter takes few round trips.
func NativeSize(size int, filtered bool) int {
	n := size
	if filtered && n < 200 {
		n = 200
	}
	return min(n, runs.MaxRunPageSize)
}

// Collect reads the page of q that starts at tok ("" for the first): at most q.Size runs,
// and the token of the next page, "" when nothing follows.
func Collect(ctx context.Context, list Lister, q Query, tok string) ([]runs.Run, string, error) {
	var at token
	if tok != "" {
		var err error
		if at, err = decode(q, tok); err != nil {
			return nil, "", err
		}
	}
	got := []runs.Run{}
	native, skip := at.Native, at.Skip
	for scanned := 0; ; scanned++ {
		params := url.Values{}
		for k, v := range q.Native {
			params[k] = v
		}
		params.Set("page_size", strconv.Itoa(NativeSize(q.Size, q.Keep != nil)))
		if native != "" {
			params.Set("page_token", native)
		}
		page, err := list(ctx, params)
		if err != nil {
			return nil, "", err
		}
		for i := min(skip, len(page.Runs)); i < len(page.Runs); i++ {
			r := page.Runs[i]
			if q.Keep != nil && !q.Keep(r) {
				continue
			}
			got = append(got, r)
			if len(got) < q.Size {
				continue
			}
			switch {
			case i+1 < len(page.Runs):
				return got, Encode(q.Key, native, i+1), nil
			case page.NextPageToken != "":
				return got, Encode(q.Key, page.NextPageToken, 0), nil
			}
			return got, "", nil
		}
		if page.NextPageToken == "" {
			return got, "", nil
		}
		native, skip = page.NextPageToken, 0
		if len(got) > 0 && scanned+1 >= ScanBudget {
			return got, Encode(q.Key, native, 0), nil
		}
	}
}
