// Package cypher vets the Cypher users send to POST /api/v1/cypher. The real guarantee is
// the database's: the query runs in a read transaction with a timeout. This check refuses,
// with a clear message, what a read transaction would still allow and we do not: loading
// data from outside (LOAD CSV), switching databases (USE), administration (SHOW, and
// procedures other than a few that describe the graph).
package cypher

import (
	"regexp"
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

// MaxQuery bounds the text of a query.
const MaxQuery = 64 << 10

// Procedures users may call: they describe the graph and change nothing.
var allowed = []string{"db.labels", "db.relationshiptypes", "db.propertykeys", "db.schema.visualization", "db.schema.nodetypeproperties", "db.schema.reltypeproperties"}

var (
	comment    = regexp.MustCompile(`(?s)/\*.*?\*/|//[^\n]*`)
	literal    = regexp.MustCompile(`'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"`)
	loadCSV    = regexp.MustCompile(`(?i)\bLOAD\s+CSV\b`)
	use        = regexp.MustCompile(`(?i)(^|[^\w.])USE\s+[\w.` + "`" + `]`)
	show       = regexp.MustCompile(`(?i)(^|[^\w.])SHOW\s+\w`)
	call       = regexp.MustCompile(`(?i)\bCALL\s+([\w.` + "`" + `]+)`)
	periodicTx = regexp.MustCompile(`(?i)\bIN\s+TRANSACTIONS\b`)
)

// Check refuses a query we will not run, naming why.
func Check(query string) error {
	bad := func(msg string) error {
		return provgraph.InvalidFields("this query is not allowed", []provgraph.FieldError{{Path: "/query", Message: msg}})
	}
	if strings.TrimSpace(query) == "" || len(query) > MaxQuery {
		return bad("give a query of at most 64 KiB")
	}
	// Comments and string literals cannot hide a clause, nor make a harmless one look bad.
	text := literal.ReplaceAllString(comment.ReplaceAllString(query, " "), "''")
	switch {
	case loadCSV.MatchString(text):
		return bad("LOAD CSV is not allowed: queries read the graph, nothing else")
	case use.MatchString(text):
		return bad("USE is not allowed: queries read provgraph's database only")
	case show.MatchString(text):
		return bad("SHOW commands are administration, which is not allowed")
	case periodicTx.MatchString(text):
		return bad("CALL { … } IN TRANSACTIONS writes in batches, which is not allowed")
	}
	for _, m := range call.FindAllStringSubmatch(text, -1) {
		name := strings.ToLower(strings.ReplaceAll(m[1], "`", ""))
		if name == "" || name == "{" {
			continue
		}
		if !slices.Contains(allowed, name) {
			return bad("procedure " + m[1] + " is not allowed; these are: " + strings.Join(allowed, ", "))
		}
	}
	return nil
}
