// Package cypher decides what user Cypher sent to POST /api/v1/cypher may do. The decision
// is the database's own: the query is planned with EXPLAIN, and Judge reads that plan. A
// query runs only if Neo4j says it is read-only, every operator of its plan is one that
// reads the graph, and every procedure it calls is on our list. Text is never trusted to
// tell what a query does; the few checks made on text (size, nesting, parameters) only
// refuse, before the database spends time on what would be refused anyway.
package cypher

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"provgraph"
)

// Rows is the answer to a user's query: its columns, its rows as plain JSON values, and
// whether the row limit cut it.
type Rows struct {
	Columns   []string         `json:"columns"`
	Rows      []map[string]any `json:"rows"`
	Truncated bool             `json:"truncated"`
}

// Bounds of what a query and its parameters may be.
const (
	MaxQuery = 64 << 10
	// MaxNesting bounds brackets within brackets: Neo4j's parser takes seconds on a few
	// hundred, which would only end in the time limit.
	MaxNesting = 64
	// MaxParamDepth bounds lists and maps within each other: Neo4j's Bolt reader recurses
	// on them, and a few thousand levels overflow its stack and drop the connection.
	MaxParamDepth = 32
	// MaxParamValues bounds the values in all parameters together.
	MaxParamValues = 100_000
)

// Procedures users may call: they describe the graph and change nothing.
var procedures = []string{"db.labels", "db.relationshiptypes", "db.propertykeys", "db.schema.visualization", "db.schema.nodetypeproperties", "db.schema.reltypeproperties"}

// CheckText refuses, before planning, a query that is empty, too long or nested too deep.
// Brackets inside strings and comments count too: that can only refuse more.
func CheckText(query string) error {
	if strings.TrimSpace(query) == "" || len(query) > MaxQuery {
		return invalid("/query", "give a query of at most 64 KiB")
	}
	depth, deepest := 0, 0
	for i := 0; i < len(query); i++ {
		switch query[i] {
		case '(', '[', '{':
			depth++
			deepest = max(deepest, depth)
		case ')', ']', '}':
			depth = max(depth-1, 0)
		}
	}
	if deepest > MaxNesting {
		return invalid("/query", fmt.Sprintf("brackets are nested %d deep; at most %d are allowed", deepest, MaxNesting))
	}
	return nil
}

// CheckParams refuses parameters nested too deep, too many values, or numbers JSON
// cannot carry back (NaN, ±Infinity). Parameters are plain JSON values.
func CheckParams(params map[string]any) error {
	count := 0
	var walk func(v any, path string, depth int) error
	walk = func(v any, path string, depth int) error {
		count++
		if count > MaxParamValues {
			return invalid("/parameters", fmt.Sprintf("more than %d values", MaxParamValues))
		}
		switch x := v.(type) {
		case float64:
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return invalid(path, "a number must be finite")
			}
		case map[string]any:
			if depth == MaxParamDepth {
				return invalid(path, fmt.Sprintf("nested deeper than %d", MaxParamDepth))
			}
			for _, k := range sortedKeys(x) {
				if err := walk(x[k], path+"/"+escape(k), depth+1); err != nil {
					return err
				}
			}
		case []any:
			if depth == MaxParamDepth {
				return invalid(path, fmt.Sprintf("nested deeper than %d", MaxParamDepth))
			}
			for i, e := range x {
				if err := walk(e, fmt.Sprintf("%s/%d", path, i), depth+1); err != nil {
					return err
				}
			}
		}
		return nil
	}
	for _, k := range sortedKeys(params) {
		if err := walk(params[k], "/parameters/"+escape(k), 1); err != nil {
			return err
		}
	}
	return nil
}

// Kind is what Neo4j says a planned query does.
type Kind string

// The kinds a plan can have; only ReadOnly runs.
const (
	ReadOnly    Kind = "read-only"
	ReadWrite   Kind = "read-write"
	WriteOnly   Kind = "write-only"
	SchemaWrite Kind = "schema-write"
	Unknown     Kind = "unknown"
)

// Plan is one operator of an EXPLAIN plan, as Neo4j names it, with its children.
type Plan struct {
	Operator string // e.g. "NodeByLabelScan"
	Database string // the database it runs on, from "NodeByLabelScan@neo4j"
	Details  string // for a ProcedureCall, the procedure's signature
	Children []Plan
}

// Judge accepts a planned query only if it reads the graph of database and nothing else.
func Judge(kind Kind, plan Plan, database string) error {
	if kind != ReadOnly {
		return forbidden(fmt.Sprintf("Neo4j plans this query as %s; only queries that read the graph are allowed", kind))
	}
	return judge(plan, database)
}

func judge(p Plan, database string) error {
	switch {
	case p.Database != "" && p.Database != database:
		return forbidden(fmt.Sprintf("this query runs on the database %q; queries read provgraph's database only", p.Database))
	case strings.HasPrefix(p.Operator, "Show") || strings.HasPrefix(p.Operator, "Terminate") || p.Operator == "AdministrationCommand":
		return forbidden(fmt.Sprintf("%s is administration, which is not allowed", p.Operator))
	case p.Operator == "LoadCSV":
		return forbidden("LOAD CSV is not allowed: queries read the graph, nothing else")
	case p.Operator == "ProcedureCall":
		name := procedureName(p.Details)
		if !slices.Contains(procedures, strings.ToLower(name)) {
			return forbidden(fmt.Sprintf("procedure %s is not allowed; these are: %s", name, strings.Join(procedures, ", ")))
		}
	case !readOperators[p.Operator]:
		return forbidden(fmt.Sprintf("the plan uses the operator %s, which is not among those that only read the graph", p.Operator))
	}
	for _, c := range p.Children {
		if err := judge(c, database); err != nil {
			return err
		}
	}
	return nil
}

// procedureName reads the name from a ProcedureCall's details, "db.labels() :: (…)".
func procedureName(details string) string {
	name, _, _ := strings.Cut(details, "(")
	return strings.ReplaceAll(strings.TrimSpace(name), "`", "")
}

// readOperators are the operators of Neo4j 5's planner that read and compute and do
// nothing else. Anything not listed is refused, so an operator a new version adds is
// refused until it is looked at. Procedure calls, LOAD CSV and administration are judged
// above.
var readOperators = set(
	// leaves: scans and seeks
	"AllNodesScan", "NodeByLabelScan", "NodeByIdSeek", "NodeByElementIdSeek",
	"IntersectionNodeByLabelsScan", "UnionNodeByLabelsScan", "SubtractionNodeByLabelsScan",
	"NodeIndexSeek", "NodeUniqueIndexSeek", "MultiNodeIndexSeek", "AssertingMultiNodeIndexSeek",
	"NodeIndexSeekByRange", "NodeUniqueIndexSeekByRange", "NodeIndexContainsScan",
	"NodeIndexEndsWithScan", "NodeIndexScan",
	"DirectedAllRelationshipsScan", "UndirectedAllRelationshipsScan",
	"DirectedRelationshipTypeScan", "UndirectedRelationshipTypeScan",
	"DirectedUnionRelationshipTypesScan", "UndirectedUnionRelationshipTypesScan",
	"DirectedRelationshipByIdSeek", "UndirectedRelationshipByIdSeek",
	"DirectedRelationshipByElementIdSeek", "UndirectedRelationshipByElementIdSeek",
	"DirectedRelationshipIndexSeek", "UndirectedRelationshipIndexSeek",
	"DirectedRelationshipUniqueIndexSeek", "UndirectedRelationshipUniqueIndexSeek",
	"DirectedRelationshipIndexSeekByRange", "UndirectedRelationshipIndexSeekByRange",
	"DirectedRelationshipUniqueIndexSeekByRange", "UndirectedRelationshipUniqueIndexSeekByRange",
	"DirectedRelationshipIndexScan", "UndirectedRelationshipIndexScan",
	"DirectedRelationshipIndexContainsScan", "UndirectedRelationshipIndexContainsScan",
	"DirectedRelationshipIndexEndsWithScan", "UndirectedRelationshipIndexEndsWithScan",
	"NodeCountFromCountStore", "RelationshipCountFromCountStore",
	"Argument", "ArgumentTracker", "EmptyRow", "Input",
	// traversal
	"Expand(All)", "Expand(Into)", "OptionalExpand(All)", "OptionalExpand(Into)",
	"VarLengthExpand(All)", "VarLengthExpand(Into)", "VarLengthExpand(Pruning)",
	"VarLengthExpand(Pruning,BFS,All)", "VarLengthExpand(Pruning,BFS,Into)",
	"BFSPruningVarLengthExpand(All)", "BFSPruningVarLengthExpand(Into)",
	"ShortestPath", "StatefulShortestPath(All)", "StatefulShortestPath(Into)",
	"Repeat(Trail)", "Repeat(Walk)", "NullifyMetadata", "ProjectEndpoints",
	"TriadicSelection", "TriadicBuild", "TriadicFilter",
	// row operators
	"ProduceResults", "Projection", "Filter", "Limit", "ExhaustiveLimit", "Skip",
	"Sort", "PartialSort", "Top", "Top1WithTies", "PartialTop",
	"Distinct", "OrderedDistinct", "Aggregation", "EagerAggregation", "OrderedAggregation",
	"Unwind", "PartitionedUnwind", "Union", "Eager", "CacheProperties", "Optional", "Anti",
	"AssertSameNode", "AssertSameRelationship", "EmptyResult",
	// joins and subqueries
	"Apply", "SemiApply", "AntiSemiApply", "ConditionalApply", "AntiConditionalApply",
	"SelectOrSemiApply", "SelectOrAntiSemiApply", "LetSemiApply", "LetAntiSemiApply",
	"LetSelectOrSemiApply", "LetSelectOrAntiSemiApply", "RollUpApply",
	"CartesianProduct", "NodeHashJoin", "ValueHashJoin", "NodeLeftOuterHashJoin",
	"NodeRightOuterHashJoin", "SubqueryForeach",
)

// Finite gives a value JSON can carry: NaN and ±Infinity, which JSON numbers cannot
// express, become the strings "NaN", "Infinity" and "-Infinity", wherever they are.
func Finite(v any) any {
	switch x := v.(type) {
	case float64:
		switch {
		case math.IsNaN(x):
			return "NaN"
		case math.IsInf(x, 1):
			return "Infinity"
		case math.IsInf(x, -1):
			return "-Infinity"
		}
	case []any:
		for i, e := range x {
			x[i] = Finite(e)
		}
	case map[string]any:
		for k, e := range x {
			x[k] = Finite(e)
		}
	}
	return v
}

func set(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func escape(k string) string {
	return strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
}

func invalid(path, msg string) error {
	return provgraph.InvalidFields("this query is not allowed", []provgraph.FieldError{{Path: path, Message: msg}})
}

func forbidden(msg string) error {
	return &provgraph.Error{Code: provgraph.Forbidden, Message: "this query is not allowed: " + msg,
		Fields: []provgraph.FieldError{{Path: "/query", Message: msg}}}
}
