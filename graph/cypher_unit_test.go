package graph

import "testing"

func TestUnexplainedPointsIntoTheUsersQuery(t *testing.T) {
	msg := "Invalid input '': expected an expression (line 1, column 19 (offset: 18))\n\"EXPLAIN RETURN 1 +\"\n                  ^"
	want := "Invalid input '': expected an expression (line 1, column 11 (offset: 10))\n\"RETURN 1 +\"\n          ^"
	if got := unexplained(msg); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	if got := unexplained("no query quoted (line 1, column 3 (offset: 2))"); got != "no query quoted (line 1, column 3 (offset: 2))" {
		t.Fatalf("changed a message that quotes nothing: %s", got)
	}
}
