#!/usr/bin/env python3
"""Independent judges of one provgraph PROV export, written in three formats.

    judge_prov.py TURTLE JSONLD PROVJSON

Exits 0 when every judge passes; otherwise prints one line per finding and exits 1
(2 on bad usage). The judges are tools we did not write (rdflib, the python `prov`
package, pyshacl) plus our own SHACL shapes for what PROV validators do not check:

1. rdflib parses the Turtle and the JSON-LD (whose context must be inline: no
   network, ever) into isomorphic graphs.
2. python `prov` reads the PROV-JSON with every ProvWarning turned into an error;
   its entities, activities, agents, labels, activity times and relations
   (from, to) match the RDF graph exactly.
3. python `prov` reads the Turtle as PROV-O and finds the same entities,
   activities and agents.
4. pyshacl validates the RDF graph against SHAPES: every dateTime well-typed,
   start <= end for every activity, used/generated/associated things typed as
   the right PROV class, no entity used or invalidated before it was generated,
   usage and generation inside their activity's lifetime. (rdflib compares
   dateTimes at microsecond resolution.)

The export must be self-contained: every record that a relation, a role or a
plan mentions is in it (the class checks and python prov's reading of a role
record need its statements). The pytest file test_prov_golden.py imports these
functions; Go tests call this script through provgraph/prov/provtest.
"""
import json
import sys
import warnings
from collections import Counter

import rdflib
from rdflib import RDF, Literal, Namespace, URIRef
from rdflib.compare import graph_diff, isomorphic

PROV = Namespace("http://www.w3.org/ns/prov#")
XSD = Namespace("http://www.w3.org/2001/XMLSchema#")
RDFS = Namespace("http://www.w3.org/2000/01/rdf-schema#")

# The 13 binary relations provgraph writes, by PROV-N keyword.
RELATIONS = [
    "used", "wasGeneratedBy", "wasAssociatedWith", "wasAttributedTo", "actedOnBehalfOf",
    "wasDerivedFrom", "wasRevisionOf", "wasInformedBy", "wasInfluencedBy", "hadMember",
    "wasInvalidatedBy", "wasStartedBy", "wasEndedBy",
]

SHAPES = """
@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix prov: <http://www.w3.org/ns/prov#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix pgs: <https://w3id.org/provgraph/shapes#> .

pgs:Activity a sh:NodeShape ;
    sh:targetClass prov:Activity ;
    sh:property [ sh:path prov:startedAtTime ; sh:maxCount 1 ; sh:datatype xsd:dateTime ] ;
    sh:property [ sh:path prov:endedAtTime ; sh:maxCount 1 ; sh:datatype xsd:dateTime ] ;
    sh:sparql [
        sh:message "activity ends before it starts" ;
        sh:select \"\"\"SELECT $this ?value WHERE {
            $this <http://www.w3.org/ns/prov#startedAtTime> ?start ;
                  <http://www.w3.org/ns/prov#endedAtTime> ?value .
            FILTER (?value < ?start) }\"\"\" ] ;
    sh:sparql [
        sh:message "activity uses an entity generated after the activity ended" ;
        sh:select \"\"\"SELECT $this ?value WHERE {
            $this <http://www.w3.org/ns/prov#used> ?value ;
                  <http://www.w3.org/ns/prov#endedAtTime> ?end .
            { ?value <http://www.w3.org/ns/prov#generatedAtTime> ?gen }
            UNION { ?value <http://www.w3.org/ns/prov#qualifiedGeneration>/<http://www.w3.org/ns/prov#atTime> ?gen }
            FILTER (?end < ?gen) }\"\"\" ] .

pgs:Entity a sh:NodeShape ;
    sh:targetClass prov:Entity ;
    sh:property [ sh:path prov:generatedAtTime ; sh:maxCount 1 ; sh:datatype xsd:dateTime ] ;
    sh:property [ sh:path prov:invalidatedAtTime ; sh:maxCount 1 ; sh:datatype xsd:dateTime ] ;
    sh:sparql [
        sh:message "entity invalidated before it was generated" ;
        sh:select \"\"\"SELECT $this ?value WHERE {
            { $this <http://www.w3.org/ns/prov#generatedAtTime> ?gen }
            UNION { $this <http://www.w3.org/ns/prov#qualifiedGeneration>/<http://www.w3.org/ns/prov#atTime> ?gen }
            { $this <http://www.w3.org/ns/prov#invalidatedAtTime> ?value }
            UNION { $this <http://www.w3.org/ns/prov#qualifiedInvalidation>/<http://www.w3.org/ns/prov#atTime> ?value }
            FILTER (?value < ?gen) }\"\"\" ] .

pgs:Agent a sh:NodeShape ; sh:targetClass prov:Agent .

pgs:InstantaneousEvent a sh:NodeShape ;
    sh:targetClass prov:Usage, prov:Generation, prov:Invalidation, prov:Start, prov:End ;
    sh:property [ sh:path prov:atTime ; sh:maxCount 1 ; sh:datatype xsd:dateTime ] .

pgs:Usage a sh:NodeShape ;
    sh:targetClass prov:Usage ;
    sh:property [ sh:path prov:entity ; sh:minCount 1 ; sh:maxCount 1 ; sh:class prov:Entity ] ;
    sh:sparql [
        sh:message "entity used before it was generated" ;
        sh:select \"\"\"SELECT $this ?value WHERE {
            $this <http://www.w3.org/ns/prov#entity> ?e ;
                  <http://www.w3.org/ns/prov#atTime> ?value .
            { ?e <http://www.w3.org/ns/prov#generatedAtTime> ?gen }
            UNION { ?e <http://www.w3.org/ns/prov#qualifiedGeneration>/<http://www.w3.org/ns/prov#atTime> ?gen }
            FILTER (?value < ?gen) }\"\"\" ] ;
    sh:sparql [
        sh:message "usage outside its activity's lifetime" ;
        sh:select \"\"\"SELECT $this ?value WHERE {
            ?a <http://www.w3.org/ns/prov#qualifiedUsage> $this .
            $this <http://www.w3.org/ns/prov#atTime> ?value .
            OPTIONAL { ?a <http://www.w3.org/ns/prov#startedAtTime> ?start }
            OPTIONAL { ?a <http://www.w3.org/ns/prov#endedAtTime> ?end }
            FILTER ((BOUND(?start) && ?value < ?start) || (BOUND(?end) && ?value > ?end)) }\"\"\" ] .

pgs:Generation a sh:NodeShape ;
    sh:targetClass prov:Generation ;
    sh:property [ sh:path prov:activity ; sh:minCount 1 ; sh:maxCount 1 ; sh:class prov:Activity ] ;
    sh:sparql [
        sh:message "generation outside its activity's lifetime" ;
        sh:select \"\"\"SELECT $this ?value WHERE {
            $this <http://www.w3.org/ns/prov#activity> ?a ;
                  <http://www.w3.org/ns/prov#atTime> ?value .
            OPTIONAL { ?a <http://www.w3.org/ns/prov#startedAtTime> ?start }
            OPTIONAL { ?a <http://www.w3.org/ns/prov#endedAtTime> ?end }
            FILTER ((BOUND(?start) && ?value < ?start) || (BOUND(?end) && ?value > ?end)) }\"\"\" ] .

pgs:Association a sh:NodeShape ;
    sh:targetClass prov:Association ;
    sh:property [ sh:path prov:agent ; sh:minCount 1 ; sh:maxCount 1 ; sh:class prov:Agent ] ;
    sh:property [ sh:path prov:hadPlan ; sh:maxCount 1 ; sh:class prov:Plan ] .

pgs:Used a sh:NodeShape ;
    sh:targetObjectsOf prov:used, prov:wasDerivedFrom, prov:wasRevisionOf, prov:hadMember ;
    sh:class prov:Entity .
pgs:UsedBy a sh:NodeShape ;
    sh:targetSubjectsOf prov:used, prov:wasAssociatedWith, prov:wasInformedBy, prov:wasStartedBy, prov:wasEndedBy ;
    sh:class prov:Activity .
pgs:Generated a sh:NodeShape ;
    sh:targetSubjectsOf prov:wasGeneratedBy, prov:wasAttributedTo, prov:wasDerivedFrom, prov:wasInvalidatedBy, prov:hadMember ;
    sh:class prov:Entity .
pgs:Generator a sh:NodeShape ;
    sh:targetObjectsOf prov:wasGeneratedBy, prov:wasInformedBy, prov:wasInvalidatedBy ;
    sh:class prov:Activity .
pgs:Responsible a sh:NodeShape ;
    sh:targetObjectsOf prov:wasAssociatedWith, prov:wasAttributedTo, prov:actedOnBehalfOf ;
    sh:class prov:Agent .
pgs:Delegate a sh:NodeShape ;
    sh:targetSubjectsOf prov:actedOnBehalfOf ;
    sh:class prov:Agent .
"""


class JudgeError(AssertionError):
    """One or more judges failed; str() lists the findings."""


def _quiet_rdflib():
    # rdflib's own deprecation notices are not findings about our files.
    warnings.filterwarnings("ignore", category=DeprecationWarning)


def _keep_lexical_forms():
    # Keep literals' lexical forms as written: rdflib would otherwise rewrite
    # "…02.123456789Z" as "…02.123456+00:00", and the isomorphism check would
    # miss a difference below a microsecond. Set before every parse, because
    # pyshacl's validate() sets it back to True when it returns.
    rdflib.NORMALIZE_LITERALS = False


def _strict_prov():
    """Turn the python prov package's warnings into errors: its ProvWarnings
    (input 3.3.0 will reject, names that do not resolve) and the UserWarnings
    its readers raise for statements they cannot convert. Call it inside
    warnings.catch_warnings() around a prov read only."""
    from prov._warnings import ProvWarning

    warnings.simplefilter("error", ProvWarning)
    warnings.simplefilter("error", UserWarning)


def _inline_contexts_only(node, where="$"):
    """Raise if a JSON-LD document refers to a context by URL (a network fetch)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "@context":
                for ctx in value if isinstance(value, list) else [value]:
                    if not isinstance(ctx, dict):
                        raise JudgeError(f"JSON-LD {where}: @context {ctx!r} is not inline")
            _inline_contexts_only(value, f"{where}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _inline_contexts_only(value, f"{where}[{i}]")


def load_turtle(path):
    _quiet_rdflib()
    _keep_lexical_forms()
    return rdflib.Graph().parse(path, format="turtle")


def load_jsonld(path):
    _quiet_rdflib()
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    if not isinstance(doc.get("@context"), dict):
        raise JudgeError(f"{path}: the JSON-LD context is not embedded")
    _inline_contexts_only(doc)
    _keep_lexical_forms()
    return rdflib.Graph().parse(data=json.dumps(doc), format="json-ld")


def check_isomorphic(g_ttl, g_jsonld):
    """Findings if the Turtle and JSON-LD graphs differ."""
    if isomorphic(g_ttl, g_jsonld):
        return []
    _, only_ttl, only_jsonld = graph_diff(g_ttl, g_jsonld)
    out = [f"Turtle ({len(g_ttl)} triples) and JSON-LD ({len(g_jsonld)} triples) are not isomorphic"]
    out += [f"  only in Turtle:  {t}" for t in sorted(only_ttl)[:10]]
    out += [f"  only in JSON-LD: {t}" for t in sorted(only_jsonld)[:10]]
    return out


def check_literals(g):
    """Findings for ill-typed literals (a dateTime rdflib cannot read, say)."""
    return [
        f"ill-typed literal {o!r} on {s} {p}"
        for s, p, o in g
        if isinstance(o, Literal) and o.ill_typed
    ]


def check_shapes(g):
    """Findings from pyshacl against SHAPES."""
    from pyshacl import validate

    shapes = rdflib.Graph().parse(data=SHAPES, format="turtle")
    conforms, report, text = validate(g, shacl_graph=shapes, advanced=True, allow_warnings=False)
    if conforms:
        return []
    sh = Namespace("http://www.w3.org/ns/shacl#")
    out = []
    for result in report.subjects(RDF.type, sh.ValidationResult):
        focus = report.value(result, sh.focusNode)
        msg = report.value(result, sh.resultMessage)
        value = report.value(result, sh.value)
        out.append(f"SHACL: {focus}: {msg} ({value})")
    return sorted(out) or [text]


def read_provjson(path):
    """The PROV-JSON as a prov.model.ProvDocument; any prov warning is an error."""
    from prov.model import ProvDocument

    with warnings.catch_warnings():
        _quiet_rdflib()
        _strict_prov()
        return ProvDocument.deserialize(path, format="json")


def read_prov_rdf(path):
    """The Turtle read as PROV-O by python prov; any prov warning is an error."""
    from prov.model import ProvDocument

    with warnings.catch_warnings():
        _quiet_rdflib()
        _strict_prov()
        return ProvDocument.deserialize(path, format="rdf", rdf_format="turtle")


def _uri(qn):
    return None if qn is None else str(qn.uri)


def prov_elements(doc):
    """{"entity": {iri, …}, "activity": …, "agent": …} of a ProvDocument."""
    from prov.constants import PROV_N_MAP

    out = {"entity": set(), "activity": set(), "agent": set()}
    for rec in doc.get_records():
        kind = PROV_N_MAP[rec.get_type()]
        if kind in out:
            out[kind].add(_uri(rec.identifier))
    return out


def prov_relations(doc):
    """Counter of (keyword, from IRI, to IRI or None) of a ProvDocument's relations."""
    from prov.constants import PROV, PROV_N_MAP, PROV_TYPE

    out = Counter()
    for rec in doc.get_records():
        if not rec.is_relation():
            continue
        kind = PROV_N_MAP[rec.get_type()]
        if kind == "wasDerivedFrom" and PROV["Revision"] in rec.get_attribute(PROV_TYPE):
            kind = "wasRevisionOf"
        (_, frm), (_, to) = rec.formal_attributes[:2]
        out[(kind, _uri(frm), _uri(to))] += 1
    return out


def rdf_elements(g):
    return {
        "entity": {str(s) for s in g.subjects(RDF.type, PROV.Entity)},
        "activity": {str(s) for s in g.subjects(RDF.type, PROV.Activity)},
        "agent": {str(s) for s in g.subjects(RDF.type, PROV.Agent)},
    }


def rdf_relations(g):
    """Set of (keyword, from, to) of the binary PROV relations in the graph."""
    return {(rel, str(s), str(o)) for rel in RELATIONS for s, o in g.subject_objects(PROV[rel])}


def check_provjson(doc, g):
    """Findings where the PROV-JSON disagrees with the RDF graph."""
    from prov.constants import PROV_ATTR_ENDTIME, PROV_ATTR_STARTTIME, PROV_LABEL, PROV_N_MAP

    out = []
    got, want = prov_elements(doc), rdf_elements(g)
    for kind in want:
        if got[kind] != want[kind]:
            out.append(f"PROV-JSON {kind} records differ from the RDF: missing {sorted(want[kind] - got[kind])}, extra {sorted(got[kind] - want[kind])}")
    rels = prov_relations(doc)
    binary = Counter({k: n for k, n in rels.items() if k[2] is not None})
    if set(binary) != rdf_relations(g):
        out.append(f"PROV-JSON relations differ from the RDF: missing {sorted(rdf_relations(g) - set(binary))}, extra {sorted(set(binary) - rdf_relations(g))}")
    out += [f"PROV-JSON repeats relation {k} {n} times" for k, n in binary.items() if n > 1]
    # An activity-less generation or invalidation stands for generatedAtTime / invalidatedAtTime.
    for kind, prop in (("wasGeneratedBy", PROV.generatedAtTime), ("wasInvalidatedBy", PROV.invalidatedAtTime)):
        for (k, frm, to) in rels:
            if k == kind and to is None and g.value(URIRef(frm), prop) is None:
                out.append(f"PROV-JSON {kind} of {frm} without activity, but the RDF has no {prop}")
    # Labels and activity times, gathered per identifier: a record may come as
    # several instances (PROV-JSON's array form), whose attributes add up.
    labels, times = {}, {}
    for rec in doc.get_records():
        kind = PROV_N_MAP[rec.get_type()]
        if kind not in ("entity", "activity", "agent"):
            continue
        s = _uri(rec.identifier)
        labels.setdefault(s, set()).update(str(v) for v in rec.get_attribute(PROV_LABEL))
        if kind == "activity":
            for attr in (PROV_ATTR_STARTTIME, PROV_ATTR_ENDTIME):
                times.setdefault((s, attr), set()).update(rec.get_attribute(attr))
    for s, mine in sorted(labels.items()):
        theirs = {str(o) for o in g.objects(URIRef(s), RDFS.label)}
        if mine != theirs:
            out.append(f"PROV-JSON label of {s} is {mine}, RDF says {theirs}")
    for (s, attr), mine in sorted(times.items(), key=lambda kv: (kv[0][0], str(kv[0][1]))):
        prop = PROV.startedAtTime if attr == PROV_ATTR_STARTTIME else PROV.endedAtTime
        theirs = {o.value for o in g.objects(URIRef(s), prop)}
        if mine != theirs:
            out.append(f"PROV-JSON {attr} of {s} is {mine}, RDF says {theirs}")
    return out


def check_prov_rdf(doc, g):
    """Findings where python prov's reading of the Turtle misses PROV elements."""
    got, want = prov_elements(doc), rdf_elements(g)
    return [
        f"python prov reads {kind} records {sorted(got[kind])} from the Turtle, the RDF has {sorted(want[kind])}"
        for kind in want
        if got[kind] != want[kind]
    ]


def judge(turtle, jsonld, provjson):
    """All findings for one export; [] means every judge passed."""
    findings = []
    try:
        g_ttl = load_turtle(turtle)
    except Exception as e:  # noqa: BLE001 - a parse failure is a finding
        return [f"rdflib cannot parse the Turtle {turtle}: {e}"]
    try:
        g_jsonld = load_jsonld(jsonld)
    except Exception as e:  # noqa: BLE001
        findings.append(f"rdflib cannot parse the JSON-LD {jsonld}: {e}")
    else:
        findings += check_isomorphic(g_ttl, g_jsonld)
    findings += check_literals(g_ttl)
    findings += check_shapes(g_ttl)
    try:
        findings += check_provjson(read_provjson(provjson), g_ttl)
    except Exception as e:  # noqa: BLE001
        findings.append(f"python prov cannot read the PROV-JSON {provjson}: {type(e).__name__}: {e}")
    try:
        findings += check_prov_rdf(read_prov_rdf(turtle), g_ttl)
    except Exception as e:  # noqa: BLE001
        findings.append(f"python prov cannot read the Turtle {turtle} as PROV-O: {type(e).__name__}: {e}")
    return findings


def main(argv):
    if len(argv) != 4:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    findings = judge(*argv[1:])
    for f in findings:
        print(f)
    if findings:
        print(f"judge_prov: {len(findings)} finding(s)", file=sys.stderr)
        return 1
    print("judge_prov: all judges pass")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
