package main

import (
	"slices"
	"strings"
	"testing"

	"provgraph/auth"
)

// Over HTTP: a writer restricts its dataset to its group; readers outside the group find
// it nowhere and are refused Cypher; members and admins see it; only its creator or an
// admin may change the list, and bad lists change nothing.
func TestRestrictedRecordOverHTTP(t *testing.T) {
	m := mustMain(t, nil)
	admin := client{t: t, base: m.URL, token: testAdmin}
	f := mustFixture(admin)
	owner := tokenClient(t, m, auth.Writer, "owner", "reef-team")
	colleague := tokenClient(t, m, auth.Writer, "colleague", "reef-team")
	member := tokenClient(t, m, auth.Reader, "member", "reef-team")
	outsider := tokenClient(t, m, auth.Reader, "outsider", "other")
	outsideWriter := tokenClient(t, m, auth.Writer, "outside writer")

	secret := owner.mustCreate("datasets", map[string]any{"display_name": "Embargoed survey", "name": "embargoed", "description": "d",
		"location": "s3://bucket/embargoed", "license": "https://creativecommons.org/licenses/by/4.0/", "publisher_id": f.org,
		"created_date": "2024-01-01", "published_date": "2024-02-01"})
	access := "/api/v1/access/" + secret
	for _, c := range []struct {
		who    client
		body   any
		status int
		field  string
	}{
		{outsider, map[string]any{"read_groups": []string{"reef-team"}}, 403, ""},          // readers may not
		{outsideWriter, map[string]any{"read_groups": []string{"reef-team"}}, 403, ""},     // not the creator
		{colleague, map[string]any{"read_groups": []string{"reef-team"}}, 403, ""},         // nor a colleague
		{owner, map[string]any{"read_groups": []string{"elsewhere"}}, 422, "/read_groups"}, // would lock the owner out
		{owner, map[string]any{"read_groups": []string{"a b"}}, 422, "/read_groups/0"},
		{owner, map[string]any{"read_groups": "reef-team"}, 422, "/read_groups"},
		{owner, map[string]any{}, 422, "/read_groups"},
		{owner, map[string]any{"read_groups": []string{}, "write_groups": []string{}}, 422, "/read_groups"},
	} {
		r := c.who.do("PUT", access, c.body)
		if r.Status != c.status || (c.field != "" && !slices.Contains(r.ErrorFields(t), c.field)) {
			t.Fatalf("PUT %v: %d %s, want %d naming %q", c.body, r.Status, r.Body, c.status, c.field)
		}
	}
	if r := outsider.do("GET", "/api/v1/datasets/"+secret, nil); r.Status != 200 {
		t.Fatalf("refused PUTs restricted it: %d", r.Status)
	}
	if r := owner.do("PUT", access, map[string]any{"read_groups": []string{"reef-team"}}); r.Status != 200 || !strings.Contains(string(r.Body), `"read_groups":["reef-team"]`) {
		t.Fatalf("restrict: %d %s", r.Status, r.Body)
	}

	reads := []string{"/api/v1/datasets/" + secret, "/api/v1/datasets/" + secret + "/history", access,
		"/api/v1/lineage/" + secret, "/api/v1/prov/" + secret, "/id/" + secret}
	for _, c := range []struct {
		name string
		who  client
		sees bool
	}{{"outsider", outsider, false}, {"member", member, true}, {"admin", admin, true}} {
		for _, path := range reads {
			r := c.who.do("GET", path, nil)
			if seen := r.Status == 200 || r.Status == 303; seen != c.sees || (!seen && r.Status != 404) {
				t.Errorf("%s GET %s: %d", c.name, path, r.Status)
			}
		}
		r := c.who.do("GET", "/api/v1/datasets?name=Embargoed", nil)
		if listed := strings.Contains(string(r.Body), secret); r.Status != 200 || listed != c.sees {
			t.Errorf("%s list: %d, listed %v", c.name, r.Status, listed)
		}
		r = c.who.do("POST", "/api/v1/cypher", map[string]any{"query": "MATCH (n:Record) RETURN count(n) AS n"})
		if want := map[bool]int{true: 200, false: 403}[c.sees]; r.Status != want {
			t.Errorf("%s Cypher: %d %s, want %d", c.name, r.Status, r.Body, want)
		}
	}
	// A restricted workflow template's CSV header is as hidden as the template.
	wf := owner.mustCreate("workflow-templates", map[string]any{"display_name": "Embargoed run", "software_id": f.model,
		"input_templates": []any{map[string]any{"template_id": f.inTemplate}}})
	if r := owner.do("PUT", "/api/v1/access/"+wf, map[string]any{"read_groups": []string{"reef-team"}}); r.Status != 200 {
		t.Fatalf("restrict the workflow template: %d %s", r.Status, r.Body)
	}
	for who, want := range map[*client]int{&outsider: 404, &member: 200} {
		if r := who.do("GET", "/api/v1/workflow-templates/"+wf+"/csv-template", nil); r.Status != want {
			t.Errorf("CSV template: %d, want %d", r.Status, want)
		}
	}
	// A registration by a writer outside the group cannot name it.
	r := outsideWriter.do("POST", "/api/v1/model-runs", runDoc(f, secret, "uses the embargoed survey"))
	if r.Status != 422 || !slices.Contains(r.ErrorFields(t), "/inputs/0/dataset_id") {
		t.Fatalf("outsider's run naming it: %d %s", r.Status, r.Body)
	}
	if r := owner.do("PUT", access, map[string]any{"read_groups": []string{}}); r.Status != 200 {
		t.Fatalf("lift: %d %s", r.Status, r.Body)
	}
	if r := outsider.do("GET", "/api/v1/datasets/"+secret, nil); r.Status != 200 {
		t.Fatalf("after lifting: %d", r.Status)
	}
}
