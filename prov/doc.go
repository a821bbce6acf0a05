// Package prov is provgraph's PROV document model and its serializations.
//
// A Document holds nodes (entities, activities and agents, each a provgraph record)
// and binary relations between them, named after the PROV-O properties. Three
// streaming encoders write it out:
//
//   - Turtle (text/turtle), see NewTurtle;
//   - JSON-LD (application/ld+json) with an embedded context, never fetched, see
//     NewJSONLD and Context;
//   - PROV-JSON (application/json), the W3C member submission read by the python
//     prov package and ProvStore, see NewPROVJSON.
//
// Turtle and JSON-LD describe the same RDF graph: for every node its PROV class,
// its provgraph kind (pg:<Kind>) and extra PROV types, rdfs:label, pg:version and
// the PROV-O time properties; for every relation the binary PROV-O property and,
// where PROV-O has one, its qualified form (prov:qualifiedUsage and so on).
//
// # Identifiers
//
// A record's IRI is base + EscapeID(id). EscapeID percent-encodes every byte that
// is not an ASCII letter or digit or one of -._~!$&'()*+,;=:@/ (so '/' in ids stays
// a path separator, and '%', '#', '?', spaces, quotes, brackets and all non-ASCII
// bytes are percent-encoded). The mapping is one-to-one (UnescapeID inverts it) and
// its output is a valid URI, a valid Turtle IRIREF and a PROV qualified-name local
// part that the python prov package accepts without warnings. PROV-JSON writes the
// same IRI as the qualified name "id:" + EscapeID(id) with the prefix id bound to
// base.
//
// # Qualified relations and roles
//
// Qualified influence nodes (prov:Usage, prov:Generation, ...) are not blank nodes:
// each has a deterministic IRI, the subject record's IRI plus a fragment naming
// the influence class and a hash of the relation, e.g.
// <…/local/01JD…#usage-3f2a9c0d1e4b5a66> (see QualifiedIRI; with a base that
// already has a fragment, '/' replaces '#'). Exporting the same relation twice, in
// two chunks or two exports, yields the same node, so merged exports do not
// accumulate duplicates, and the RDF has no blank nodes at all.
//
// A Relation.Role containing '/' is a record id (every provgraph id has one) and
// the role is that record's IRI, typed prov:Role; any other role is a plain name
// whose IRI is NS + "role/" + EscapeID(name). See RoleIRI.
//
// # Streaming
//
// Every encoder accepts any number of Encode calls (chunks) followed by Close,
// which must be called, also after an error. A chunk is validated before anything
// of it is written; an invalid chunk writes nothing. Turtle and JSON-LD write each
// chunk at once, so memory is bounded by the chunk; within a chunk the output is
// sorted, so equal input gives byte-equal output. PROV-JSON groups records by type
// in one JSON object, so it cannot write a chunk in place: it encodes each chunk
// into per-type spools, which stay in memory up to a limit and then spill to
// temporary files, and writes the document at Close. Memory stays flat; the cost
// is temporary disk space. See NewPROVJSON.
//
// # Judges
//
// The golden files in testdata/ are judged by tools we did not write (rdflib,
// the python prov package, pyshacl) in scripts/judges; package provtest runs the
// same judges on any export from other packages' tests.
package prov
