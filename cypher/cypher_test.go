package cypher

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"provgraph"
)

func leaf(op string) Plan { return Plan{Operator: op, Database: "neo4j"} }

func TestJudge(t *testing.T) {
	read := Plan{Operator: "ProduceResults", Database: "neo4j", Children: []Plan{{Operator: "Filter", Database: "neo4j", Children: []Plan{leaf("NodeByLabelScan")}}}}
	if err := Judge(ReadOnly, read, "neo4j"); err != nil {
		t.Fatalf("a read refused: %v", err)
	}
	labels := Plan{Operator: "ProduceResults", Children: []Plan{{Operator: "ProcedureCall", Details: "db.labels() :: (label :: STRING)"}}}
	if err := Judge(ReadOnly, labels, "neo4j"); err != nil {
		t.Fatalf("db.labels refused: %v", err)
	}
	for name, c := range map[string]struct {
		kind Kind
		plan Plan
		say  string
	}{
		"write":          {ReadWrite, read, "read-write"},
		"schema":         {SchemaWrite, read, "schema-write"},
		"unknown kind":   {Unknown, read, "unknown"},
		"show":           {ReadOnly, Plan{Operator: "ProduceResults", Children: []Plan{leaf("ShowTransactions")}}, "ShowTransactions is administration"},
		"terminate":      {ReadOnly, Plan{Operator: "ProduceResults", Children: []Plan{leaf("TerminateTransactions")}}, "TerminateTransactions is administration"},
		"admin":          {ReadOnly, Plan{Operator: "AdministrationCommand", Database: "system"}, "system"},
		"other database": {ReadOnly, Plan{Operator: "ProduceResults", Database: "other", Children: []Plan{leaf("AllNodesScan")}}, `"other"`},
		"load csv deep":  {ReadOnly, Plan{Operator: "ProduceResults", Children: []Plan{{Operator: "Apply", Children: []Plan{leaf("Argument"), leaf("LoadCSV")}}}}, "LOAD CSV"},
		"procedure":      {ReadOnly, Plan{Operator: "ProcedureCall", Details: "dbms.listConfig() :: (name :: STRING)"}, "dbms.listConfig"},
		"quoted proc":    {ReadOnly, Plan{Operator: "ProcedureCall", Details: "`dbms`.`listConfig`() :: ()"}, "dbms.listConfig"},
		"unknown op":     {ReadOnly, Plan{Operator: "ProduceResults", Children: []Plan{leaf("SomethingNew")}}, "SomethingNew"},
		"writing op":     {ReadOnly, Plan{Operator: "ProduceResults", Children: []Plan{leaf("Create")}}, "Create"},
		"transactional":  {ReadOnly, Plan{Operator: "ProduceResults", Children: []Plan{leaf("TransactionForeach")}}, "TransactionForeach"},
	} {
		err := Judge(c.kind, c.plan, "neo4j")
		if provgraph.ErrorCode(err) != provgraph.Forbidden || !strings.Contains(err.Error(), c.say) {
			t.Errorf("%s: got %v, want forbidden naming %q", name, err, c.say)
		}
	}
}

func TestCheckText(t *testing.T) {
	if err := CheckText("MATCH (n) WHERE n.x IN [1, [2]] RETURN {a: (n.y)}"); err != nil {
		t.Fatal(err)
	}
	deep := strings.Repeat("(", MaxNesting) + "1" + strings.Repeat(")", MaxNesting)
	if err := CheckText("RETURN " + deep); err != nil {
		t.Fatalf("%d deep refused: %v", MaxNesting, err)
	}
	for _, bad := range []string{"", "  \n", strings.Repeat("x", MaxQuery+1), "RETURN (" + deep + ")", "RETURN " + strings.Repeat("[", 500)} {
		if err := CheckText(bad); provgraph.ErrorCode(err) != provgraph.Invalid {
			t.Errorf("%.40q: %v", bad, err)
		}
	}
}

func TestCheckParams(t *testing.T) {
	nest := func(n int) any {
		var v any = 1.0
		for range n {
			v = []any{v}
		}
		return v
	}
	if err := CheckParams(map[string]any{"a": nest(MaxParamDepth - 1), "m": map[string]any{"x": "y"}}); err != nil {
		t.Fatal(err)
	}
	big := make([]any, MaxParamValues)
	for name, c := range map[string]struct {
		params map[string]any
		path   string
	}{
		"deep":     {map[string]any{"a": nest(MaxParamDepth)}, "/parameters/a/0/0"},
		"4000":     {map[string]any{"a": nest(4000)}, "/parameters/a"},
		"NaN":      {map[string]any{"m": map[string]any{"x/y": math.NaN()}}, "/parameters/m/x~1y"},
		"Inf":      {map[string]any{"l": []any{1.0, math.Inf(-1)}}, "/parameters/l/1"},
		"too many": {map[string]any{"l": big}, "/parameters"},
	} {
		err := CheckParams(c.params)
		var e *provgraph.Error
		if provgraph.ErrorCode(err) != provgraph.Invalid || !errorsAs(err, &e) || !strings.HasPrefix(e.Fields[0].Path, c.path) {
			t.Errorf("%s: got %v", name, err)
		}
	}
}

func errorsAs(err error, e **provgraph.Error) bool {
	x, ok := err.(*provgraph.Error)
	*e = x
	return ok
}

func TestFinite(t *testing.T) {
	v := Finite(map[string]any{"a": math.NaN(), "b": []any{math.Inf(1), math.Inf(-1), 1.5}, "c": "NaN"})
	got, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"a":"NaN","b":["Infinity","-Infinity",1.5],"c":"NaN"}`; string(got) != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func FuzzCheckText(f *testing.F) {
	f.Add("MATCH (n) RETURN n")
	f.Add("RETURN ((((1))))")
	f.Fuzz(func(t *testing.T, q string) { _ = CheckText(q) })
}
