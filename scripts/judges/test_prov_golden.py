"""provgraph's PROV golden files (prov/testdata), judged by rdflib, python prov and pyshacl.

The golden files encode prov.ExampleDocument() (prov/example.go); the counts below
are that fixture's, written down by hand so the judges check the encoders against
the fixture and not against themselves. `go test ./prov -run TestGolden -update`
rewrites the files. No test may touch the network: an autouse fixture makes every
socket connection fail.
"""
import json
import os
import shutil
import socket
import sys
from collections import Counter

import pytest
from rdflib import RDF, Literal, Namespace, URIRef

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import judge_prov  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TESTDATA = os.path.join(ROOT, "prov", "testdata")
TTL = os.path.join(TESTDATA, "example.ttl")
JSONLD = os.path.join(TESTDATA, "example.jsonld")
PROVJSON = os.path.join(TESTDATA, "example.prov.json")

PROV = Namespace("http://www.w3.org/ns/prov#")
PG = Namespace("https://w3id.org/provgraph/ns#")
BASE = "https://provgraph.example.org/id/"

# prov.ExampleDocument(): 17 nodes, 27 relations.
ELEMENTS = {"entity": 9, "activity": 4, "agent": 4}
RELATIONS = {
    "used": 4,
    "wasGeneratedBy": 3,
    "wasAssociatedWith": 5,
    "wasAttributedTo": 3,
    "actedOnBehalfOf": 1,
    "wasDerivedFrom": 2,
    "wasRevisionOf": 1,
    "wasInformedBy": 3,
    "wasInfluencedBy": 1,
    "hadMember": 1,
    "wasInvalidatedBy": 1,
    "wasStartedBy": 1,
    "wasEndedBy": 1,
}
# PROV-JSON adds an activity-less generation for each entity with a generatedAtTime
# that no relation in the document carries (dataset d1 and model v2).
STANDALONE_GENERATIONS = 2
# Ids that need escaping: a space and '#', and '<', '>' and a non-ASCII letter.
D3 = BASE + "10378.1/streamflow%202024%23final"
ARTIFACT = BASE + "local/01JD3Z6W4M2X3Q5V7B9N1C8K0R/outputs/flow%3Cdaily%3E%C3%BC.csv"
RUN1 = BASE + "local/01JD3Z6W4M2X3Q5V7B9N1C8K0T"
REQUESTER = BASE + "local/01JD3Z6W4M2X3Q5V7B9N1C8K0C"


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture(scope="module")
def g_ttl():
    return judge_prov.load_turtle(TTL)


@pytest.fixture(scope="module")
def provjson_doc():
    return judge_prov.read_provjson(PROVJSON)


def test_every_judge_passes_the_golden_files():
    assert judge_prov.judge(TTL, JSONLD, PROVJSON) == []


def test_turtle_and_jsonld_are_isomorphic(g_ttl):
    g_jsonld = judge_prov.load_jsonld(JSONLD)
    assert len(g_ttl) == len(g_jsonld) > 0
    assert judge_prov.check_isomorphic(g_ttl, g_jsonld) == []


def test_rdf_has_the_fixture(g_ttl):
    assert {k: len(v) for k, v in judge_prov.rdf_elements(g_ttl).items()} == ELEMENTS
    got = Counter(rel for rel, _, _ in judge_prov.rdf_relations(g_ttl))
    assert dict(got) == RELATIONS
    # Each qualifiable relation has its qualified node (hadMember has none).
    for prop in ["qualifiedUsage", "qualifiedGeneration", "qualifiedAssociation", "qualifiedAttribution",
                 "qualifiedDelegation", "qualifiedDerivation", "qualifiedRevision", "qualifiedCommunication",
                 "qualifiedInfluence", "qualifiedInvalidation", "qualifiedStart", "qualifiedEnd"]:
        assert len(list(g_ttl.subject_objects(PROV[prop]))) > 0, prop
    assert len(list(g_ttl.subject_objects(PROV.qualifiedUsage))) == RELATIONS["used"]
    # Escaped ids, literals with quotes, newlines and control characters, nanoseconds.
    assert (URIRef(D3), PROV.hadMember, URIRef(ARTIFACT)) in g_ttl
    assert g_ttl.value(URIRef(REQUESTER), URIRef("http://www.w3.org/2000/01/rdf-schema#label")) == \
        Literal('Ana "the analyst" López\nHydrology, 水文')
    assert str(g_ttl.value(URIRef(RUN1), PROV.startedAtTime)) == "2024-11-19T22:15:02.123456789Z"
    assert g_ttl.value(URIRef(BASE + "local/01JD3Z6W4M2X3Q5V7B9N1C8K0N"), PG.note) == Literal("bell\x07 and back\\slash")
    # A usage's role is the template record; it is not typed prov:Role (hadRole implies
    # it, and python prov drops a prov:Role type on an element it also describes).
    template = URIRef(BASE + "local/01JD3Z6W4M2X3Q5V7B9N1C8K0G")
    assert (template, RDF.type, PROV.Role) not in g_ttl
    roles = {g_ttl.value(u, PROV.hadRole) for u in g_ttl.objects(URIRef(RUN1), PROV.qualifiedUsage)}
    assert roles == {template, PG["role/model"]}


def test_python_prov_reads_provjson(provjson_doc):
    assert {k: len(v) for k, v in judge_prov.prov_elements(provjson_doc).items()} == ELEMENTS
    rels = judge_prov.prov_relations(provjson_doc)
    got = Counter()
    for (kind, _, to), n in rels.items():
        got[kind] += n
    want = dict(RELATIONS)
    want["wasGeneratedBy"] += STANDALONE_GENERATIONS
    assert dict(got) == want
    assert sum(1 for (kind, _, to) in rels if to is None) == STANDALONE_GENERATIONS
    assert D3 in judge_prov.prov_elements(provjson_doc)["entity"]


def test_provjson_agrees_with_rdf(provjson_doc, g_ttl):
    assert judge_prov.check_provjson(provjson_doc, g_ttl) == []


def test_python_prov_reads_turtle_as_prov_o(g_ttl):
    doc = judge_prov.read_prov_rdf(TTL)
    elements = judge_prov.prov_elements(doc)
    assert {k: len(v) for k, v in elements.items()} == ELEMENTS
    assert RUN1 in elements["activity"] and ARTIFACT in elements["entity"] and REQUESTER in elements["agent"]
    assert judge_prov.check_prov_rdf(doc, g_ttl) == []


def test_shacl_passes(g_ttl):
    assert judge_prov.check_shapes(g_ttl) == []
    assert judge_prov.check_literals(g_ttl) == []


# The judges must be able to fail.


def mutated(tmp_path, src, name, old, new):
    with open(src, encoding="utf-8") as f:
        text = f.read()
    assert old in text, f"mutation target {old!r} not in {src}"
    path = tmp_path / name
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return str(path)


def test_judge_catches_end_before_start(tmp_path):
    bad = mutated(tmp_path, TTL, "bad.ttl",
                  'prov:endedAtTime "2024-11-19T23:40:11.5Z"', 'prov:endedAtTime "2024-11-19T20:40:11.5Z"')
    g = judge_prov.load_turtle(bad)
    findings = judge_prov.check_shapes(g)
    assert any("activity ends before it starts" in f and RUN1 in f for f in findings), findings
    assert judge_prov.judge(bad, JSONLD, PROVJSON) != []


def test_judge_catches_use_before_generation(tmp_path):
    # Dataset d1 generated after run1 used it.
    bad = mutated(tmp_path, TTL, "bad.ttl",
                  'prov:generatedAtTime "2024-11-19T21:00:00Z"', 'prov:generatedAtTime "2024-11-19T22:30:00Z"')
    findings = judge_prov.check_shapes(judge_prov.load_turtle(bad))
    assert any("entity used before it was generated" in f for f in findings), findings


def test_judge_catches_untyped_used_entity(tmp_path):
    bad = mutated(tmp_path, TTL, "bad.ttl",
                  "a prov:Entity, pg:Dataset ;\n    rdfs:label \"Calibrated", "a pg:Dataset ;\n    rdfs:label \"Calibrated")
    findings = judge_prov.check_shapes(judge_prov.load_turtle(bad))
    assert any("does not have class" in f for f in findings), findings


def test_judge_catches_jsonld_that_differs(tmp_path):
    bad = mutated(tmp_path, JSONLD, "bad.jsonld", '"Zoë Ngata-Smith"', '"Zoe Ngata-Smith"')
    findings = judge_prov.judge(TTL, bad, PROVJSON)
    assert any("not isomorphic" in f for f in findings), findings


def test_judge_refuses_a_remote_context(tmp_path):
    with open(JSONLD, encoding="utf-8") as f:
        doc = json.load(f)
    doc["@context"] = "https://w3id.org/provgraph/context.jsonld"
    path = tmp_path / "remote.jsonld"
    path.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(judge_prov.JudgeError):
        judge_prov.load_jsonld(str(path))


def test_judge_catches_provjson_missing_a_relation(tmp_path):
    with open(PROVJSON, encoding="utf-8") as f:
        doc = json.load(f)
    doc["hadMember"] = {}
    path = tmp_path / "bad.prov.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    findings = judge_prov.judge(TTL, JSONLD, str(path))
    assert any("hadMember" in f for f in findings), findings


def test_judge_catches_provjson_with_an_unresolvable_name(tmp_path):
    bad = mutated(tmp_path, PROVJSON, "bad.prov.json", '"prov:informant":"id:', '"prov:informant":"nope:')
    findings = judge_prov.judge(TTL, JSONLD, bad)
    assert any("PROV-JSON" in f for f in findings), findings


def test_command_line_exit_codes(tmp_path):
    import subprocess

    ok = subprocess.run([sys.executable, judge_prov.__file__, TTL, JSONLD, PROVJSON], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    bad_ttl = tmp_path / "bad.ttl"
    shutil.copy(TTL, bad_ttl)
    with open(bad_ttl, "a", encoding="utf-8") as f:
        f.write("<broken\n")
    bad = subprocess.run([sys.executable, judge_prov.__file__, str(bad_ttl), JSONLD, PROVJSON], capture_output=True, text=True)
    assert bad.returncode == 1 and "cannot parse the Turtle" in bad.stdout, bad.stdout + bad.stderr
    usage = subprocess.run([sys.executable, judge_prov.__file__], capture_output=True, text=True)
    assert usage.returncode == 2


def test_judge_catches_a_nanosecond(tmp_path):
    # rdflib would normalise both times to the same microsecond; the judge keeps
    # lexical forms, so a difference in the ninth digit still shows.
    bad = mutated(tmp_path, JSONLD, "bad.jsonld", '"2024-11-19T22:15:02.123456789Z"', '"2024-11-19T22:15:02.123456788Z"')
    findings = judge_prov.judge(TTL, bad, PROVJSON)
    assert any("not isomorphic" in f for f in findings), findings
