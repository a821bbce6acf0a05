package pager

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"testing"

	"provgraph"
	"provgraph/runs"
)

// fakeList pages a slice as the native list does: page_size runs, a token naming where
// the next page starts, and refusal of a token issued for another page size.
func fakeList(all []runs.Run, calls *int) Lister {
	return func(_ context.Context, p map[string][]string) (runs.RunPage, error) {
		*calls++
		size, _ := strconv.Atoi(p["page_size"][0])
		start := 0
		if tok := url.Values(p).Get("page_token"); tok != "" {
			var sz int
			if _, err := fmt.Sscanf(tok, "%d/%d", &start, &sz); err != nil || sz != size {
				return runs.RunPage{}, provgraph.Errorf(provgraph.Invalid, "bad token")
			}
		}
		end := min(start+size, len(all))
		page := runs.RunPage{Runs: all[start:end]}
		if end < len(all) {
			page.NextPageToken = fmt.Sprintf("%d/%d", end, size)
		}
		return page, nil
	}
}

func ids(rs []runs.Run) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

func TestCollectPagesEveryKeptRunOnce(t *testing.T) {
	var all []runs.Run
	for i := range 1000 {
		all = append(all, runs.Run{ID: strconv.Itoa(i)})
	}
	for _, c := range []struct {
		keep func(runs.Run) bool
		size int
		want int
	}{
		{nil, 7, 1000},
		{nil, 1000, 1000},
		{func(r runs.Run) bool { n, _ := strconv.Atoi(r.ID); return n%3 == 0 }, 7, 334},
		{func(r runs.Run) bool { n, _ := strconv.Atoi(r.ID); return n%3 == 0 }, 500, 334},
		{func(r runs.Run) bool { return r.ID == "999" }, 2, 1},
		{func(runs.Run) bool { return false }, 5, 0},
	} {
		calls := 0
		q := Query{Native: url.Values{"view": {"full"}}, Keep: c.keep, Key: "k", Size: c.size, Param: "page_token"}
		var seen []string
		tok := ""
		for pages := 1; ; pages++ {
			got, next, err := Collect(context.Background(), fakeList(all, &calls), q, tok)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) > c.size || (len(got) == 0 && next != "") {
				t.Fatalf("page %d of size %d: %d runs, next %q", pages, c.size, len(got), next)
			}
			seen = append(seen, ids(got)...)
			if next == "" {
				break
			}
			tok = next
		}
		if len(seen) != c.want || len(slices.Compact(slices.Clone(seen))) != c.want {
			t.Errorf("size %d: %d runs, want %d once each", c.size, len(seen), c.want)
		}
	}
}

func TestCollectBoundsTheScanOnceItHoldsARun(t *testing.T) {
	var all []runs.Run
	for i := range 100000 {
		all = append(all, runs.Run{ID: strconv.Itoa(i)})
	}
	calls := 0
	q := Query{Keep: func(r runs.Run) bool { return r.ID == "0" || r.ID == "99999" }, Key: "k", Size: 10, Param: "page_token"}
	got, next, err := Collect(context.Background(), fakeList(all, &calls), q, "")
	if err != nil || len(got) != 1 || next == "" || calls != ScanBudget {
		t.Fatalf("%d runs, next %q, %d native pages, %v", len(got), next, calls, err)
	}
}

func TestTokensAreForOneQuery(t *testing.T) {
	all := make([]runs.Run, 10)
	for i := range all {
		all[i].ID = strconv.Itoa(i)
	}
	calls := 0
	q := Query{Key: "a", Size: 3, Param: "pageToken"}
	_, next, _ := Collect(context.Background(), fakeList(all, &calls), q, "")
	for _, tok := range []string{"forged", Encode("b", "", 0), Encode("a", "", -1)} {
		_, _, err := Collect(context.Background(), fakeList(all, &calls), q, tok)
		var e *provgraph.Error
		if pe, ok := err.(*provgraph.Error); ok {
			e = pe
		}
		if e == nil || e.Status != 400 || e.Fields[0].Path != "pageToken" {
			t.Errorf("%q: %v", tok, err)
		}
	}
	if got, _, err := Collect(context.Background(), fakeList(all, &calls), q, next); err != nil || !slices.Equal(ids(got), []string{"3", "4", "5"}) {
		t.Errorf("next: %v %v", ids(got), err)
	}
}
