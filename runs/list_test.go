package runs

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestRunQueryTokens(t *testing.T) {
	tk := Tokens{Key: []byte("secret")}
	params, _ := url.ParseQuery("state=RUNNING,pending&state=FAILED&tag=team:reef&sort=name%20desc&page_size=10")
	q, err := tk.ParseRunQuery(params)
	if err != nil || len(q.States) != 3 || q.Tags[0] != "team=reef" || q.Sort != "name" || !q.Desc || q.PageSize != 10 {
		t.Fatalf("%+v %v", q, err)
	}
	tok := tk.Next(q, Run{ID: "x/01", Name: "b", CreatedAt: time.Now()})
	params.Set("page_token", tok)
	if q2, err := tk.ParseRunQuery(params); err != nil || q2.After == nil || q2.After.Value != "b" {
		t.Fatalf("round trip: %+v %v", q2.After, err)
	}
	// Another filter, a forged body, another key: refused.
	other, _ := url.ParseQuery(params.Encode())
	other.Set("page_size", "11")
	body, sig, _ := strings.Cut(tok, ".")
	for name, c := range map[string]struct {
		tk     Tokens
		params url.Values
	}{
		"other filter": {tk, other},
		"forged":       {tk, url.Values{"page_token": {strings.ToUpper(body[:4]) + body[4:] + "." + sig}, "state": params["state"], "tag": params["tag"], "sort": params["sort"], "page_size": params["page_size"]}},
		"other key":    {Tokens{Key: []byte("other")}, params},
		"garbage":      {tk, url.Values{"page_token": {"%%%"}}},
	} {
		if _, err := c.tk.ParseRunQuery(c.params); err == nil || !strings.Contains(err.Error(), "page_token") {
			t.Errorf("%s: %v", name, err)
		}
	}
	for _, bad := range []string{"state=DONE", "sort=size", "page_size=0", "archived=maybe", "created_after=yesterday", "tag=novalue", "colour=red"} {
		p, _ := url.ParseQuery(bad)
		if _, err := tk.ParseRunQuery(p); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
