"""flowserv's remote run service, driven by flowserv-core 0.9.4's own remote client
(RemoteRunService, RemoteWorkflowGroupService, RemoteWorkflowService with a
ServiceDescriptor read from FLOWSERV_* settings) against a live provgraph.

The client sends its token in an api_key header, puts ids into paths unescaped (a
provgraph id prefix/ULID arrives as two segments) and downloads results with no header
at all: downloads answer without a token only for a group whose config sets
public_downloads. Executors act through provgraph's native run routes (:claim,
:complete, :fail, artifact upload), since flowserv's client only starts, observes,
cancels and deletes runs. One run is read back through the native API and its PROV.
"""
import io
import json
import os
import secrets
import sys
import tarfile
import urllib.parse
from datetime import datetime

import pytest
import rdflib
import requests
from requests.exceptions import HTTPError

from flowserv.service.descriptor import ServiceDescriptor
from flowserv.service.group.remote import RemoteWorkflowGroupService
from flowserv.service.run.remote import RemoteRunService
from flowserv.service.workflow.remote import RemoteWorkflowService
from flowserv.util import to_datetime

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "judges"))
import judge_prov  # noqa: E402

RUN_FIELDS = {"id", "state", "createdAt", "workflowId", "groupId", "arguments", "parameters",
              "startedAt", "finishedAt", "messages", "files"}


class Flowserv:
    """The three remote services, configured as a flowserv user configures them: by
    FLOWSERV_* settings in the environment, the token read on every request."""

    def __init__(self, server):
        self.server = server
        u = urllib.parse.urlsplit(server.url)
        self.settings = {"FLOWSERV_API_PROTOCOL": u.scheme, "FLOWSERV_API_HOST": u.hostname,
                         "FLOWSERV_API_PORT": str(u.port), "FLOWSERV_API_PATH": "/flowserv/api/v1"}
        os.environ.update(self.settings)
        self.as_role("writer")
        descriptor = ServiceDescriptor.from_config(env=dict(os.environ))
        self.runs = RemoteRunService(descriptor)
        self.groups = RemoteWorkflowGroupService(descriptor)
        self.workflows = RemoteWorkflowService(descriptor)

    def as_role(self, role):
        if role is None:
            os.environ.pop("FLOWSERV_ACCESS_TOKEN", None)
        else:
            os.environ["FLOWSERV_ACCESS_TOKEN"] = self.server.token(role)


@pytest.fixture(scope="module")
def fs(server):
    saved = {k: os.environ.get(k) for k in ("FLOWSERV_API_PROTOCOL", "FLOWSERV_API_HOST", "FLOWSERV_API_PORT",
                                            "FLOWSERV_API_PATH", "FLOWSERV_ACCESS_TOKEN")}
    f = Flowserv(server)
    yield f
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(autouse=True)
def writer(fs):
    fs.as_role("writer")
    yield
    fs.as_role("writer")


def native(server, method, path, body=None, role="writer", data=None, content_type="application/json"):
    headers = {"Authorization": "Bearer " + server.token(role)}
    if data is None and body is not None:
        data = json.dumps(body).encode()
    if data is not None:
        headers["Content-Type"] = content_type
    r = requests.request(method, server.url + path, data=data, headers=headers, timeout=30)
    try:
        return r.status_code, r.json()
    except ValueError:
        return r.status_code, r.content


def step(server, run_id, op, want=200, **body):
    status, got = native(server, "POST", f"/api/v1/runs/{run_id}:{op}", body or {})
    assert status == want, (op, status, got)
    return got


def upload(server, run_id, name, content, media="text/plain"):
    status, got = native(server, "PUT", f"/api/v1/runs/{run_id}/artifacts/{name}", data=content, content_type=media)
    assert status == 201, got
    return got


def unique(prefix):
    return f"{prefix}-{secrets.token_hex(4)}"


@pytest.fixture(scope="module")
def workflow(server):
    """A workflow template (flowserv has no remote route that installs workflows): its
    annotations are the workflow's parameters, scenario required."""
    status, model = native(server, "POST", "/api/v1/models", {
        "display_name": "flowserv model", "name": unique("fs-model"), "description": "a model the flowserv tests run",
        "documentation_url": "https://example.org/doc", "source_url": "https://example.org/src"})
    assert status == 201, model
    status, wf = native(server, "POST", "/api/v1/workflow-templates", {
        "display_name": "flowserv workflow", "description": "runs the model", "software_id": model["id"],
        "annotations": {"required": ["scenario"], "optional": ["notes"]}})
    assert status == 201, wf
    return wf


def new_group(fs, workflow, public=False, **kw):
    config = {"public_downloads": True} if public else None
    return fs.groups.create_group(workflow_id=workflow["id"], name=unique("group"), engine_config=config, **kw)


def start(fs, group, scenario="ssp245", **more):
    args = [{"name": "scenario", "value": scenario}] + [{"name": k, "value": v} for k, v in more.items()]
    return fs.runs.start_run(group["id"], args)


def status_of(excinfo):
    return excinfo.value.response.status_code


# ---- workflows and groups ----

def test_workflow_and_group(fs, workflow, server):
    w = fs.workflows.get_workflow(workflow["id"])
    assert "/" in workflow["id"]  # travels unescaped, as two segments
    assert w["id"] == workflow["id"] and w["name"] == "flowserv workflow" and w["description"] == "runs the model"
    assert [(p["name"], p["isRequired"]) for p in w["parameters"]] == [("scenario", True), ("notes", False)]
    assert any(x["id"] == workflow["id"] for x in fs.workflows.list_workflows()["workflows"])

    g = fs.groups.create_group(workflow_id=workflow["id"], name=unique("group"), members=["alice"],
                               engine_config={"workers": 2})
    assert g["workflow"] == workflow["id"] and g["files"] == [] and g["config"] == {"workers": 2}
    assert [m["id"] for m in g["members"]][1:] == ["alice"] and g["members"][0]["id"]  # the owner first
    assert [p["name"] for p in g["parameters"]] == ["scenario", "notes"]
    assert fs.groups.get_group(g["id"]) == g
    listed = fs.groups.list_groups()["groups"]
    assert {"id": g["id"], "name": g["name"], "workflow": workflow["id"]} in listed
    assert [x["id"] for x in fs.groups.list_groups(workflow_id=workflow["id"]) ["groups"]].count(g["id"]) == 1
    renamed = fs.groups.update_group(g["id"], name=g["name"] + "-renamed", members=["bob"])
    assert renamed["name"] == g["name"] + "-renamed" and [m["id"] for m in renamed["members"]][1:] == ["bob"]
    assert fs.groups.get_group(g["id"])["name"] == renamed["name"]
    # The group is a study, natively.
    status, study = native(server, "GET", f"/api/v1/studies/{g['id']}", role="reader")
    assert status == 200 and study["record"]["title"] == renamed["name"]

    with pytest.raises(HTTPError) as e:
        fs.groups.create_group(workflow_id=workflow["id"], name=" ")
    assert status_of(e) == 400
    with pytest.raises(HTTPError) as e:
        fs.groups.create_group(workflow_id=workflow["id"].split("/")[0] + "/01JUNKNOWNUNKNOWNUNKNOWN00", name="x")
    assert status_of(e) == 404


def test_the_token_travels_in_api_key(fs, workflow):
    fs.as_role(None)
    with pytest.raises(HTTPError) as e:
        fs.workflows.get_workflow(workflow["id"])
    assert status_of(e) == 401
    fs.as_role("reader")
    assert fs.workflows.get_workflow(workflow["id"])["id"] == workflow["id"]
    with pytest.raises(HTTPError) as e:
        new_group(fs, workflow)
    assert status_of(e) == 403


# ---- runs ----

def test_start_get_and_arguments(fs, workflow):
    g = new_group(fs, workflow)
    h = start(fs, g, notes="first")
    assert set(h) <= RUN_FIELDS
    assert h["state"] == "PENDING" and h["groupId"] == g["id"] and h["workflowId"] == workflow["id"]
    assert h["arguments"] == [{"name": "scenario", "value": "ssp245"}, {"name": "notes", "value": "first"}]
    assert [p["name"] for p in h["parameters"]] == ["scenario", "notes"]
    assert "startedAt" not in h and "finishedAt" not in h
    to_datetime(h["createdAt"])
    got = fs.runs.get_run(h["id"])
    assert got == h
    for bad in ([{"name": "notes", "value": "no scenario"}],
                [{"name": "scenario", "value": "a"}, {"name": "scenario", "value": "b"}],
                [{"name": "scenario", "value": "a"}, {"name": "unknown", "value": 1}],
                [{"name": "scenario"}]):
        with pytest.raises(HTTPError) as e:
            fs.runs.start_run(g["id"], bad)
        assert status_of(e) == 400, bad
    with pytest.raises(HTTPError) as e:
        fs.runs.get_run(h["id"][:-4] + "0000")
    assert status_of(e) == 404
    with pytest.raises(HTTPError) as e:
        fs.runs.start_run(g["id"][:-4] + "0000", [{"name": "scenario", "value": "a"}])
    assert status_of(e) == 404


def test_lifecycle_as_flowserv_sees_it(fs, workflow, server):
    g = new_group(fs, workflow)
    h = start(fs, g)
    step(server, h["id"], "claim")
    running = fs.runs.get_run(h["id"])
    assert running["state"] == "RUNNING" and "startedAt" in running and "finishedAt" not in running
    upload(server, h["id"], "results/summary.txt", b"all good\n")
    upload(server, h["id"], "metrics.json", b'{"score": 0.9}', media="application/json")
    step(server, h["id"], "complete")
    done = fs.runs.get_run(h["id"])
    assert done["state"] == "SUCCESS" and to_datetime(done["finishedAt"]) >= to_datetime(done["startedAt"])
    assert sorted(f["name"] for f in done["files"]) == ["metrics.json", "results/summary.txt"]

    failed = start(fs, g)
    step(server, failed["id"], "claim")
    step(server, failed["id"], "fail", reason="the model diverged")
    f = fs.runs.get_run(failed["id"])
    assert f["state"] == "ERROR" and f["messages"] == ["the model diverged"] and "finishedAt" in f


def test_cancel_with_reason(fs, workflow, server):
    g = new_group(fs, workflow)
    pending = start(fs, g)
    c = fs.runs.cancel_run(pending["id"], reason="not needed")
    assert c["state"] == "CANCELED" and c["messages"] == ["not needed"]
    assert c["startedAt"] == c["finishedAt"]  # a PENDING run canceled starts and stops at once
    with pytest.raises(HTTPError) as e:  # no longer active
        fs.runs.cancel_run(pending["id"], reason="again")
    assert status_of(e) == 400

    running = start(fs, g)
    step(server, running["id"], "claim")
    c = fs.runs.cancel_run(running["id"])  # CANCELING natively, still RUNNING for flowserv
    assert c["state"] == "RUNNING"
    assert fs.runs.cancel_run(running["id"], reason="twice")["state"] == "RUNNING"
    status, n = native(server, "GET", f"/api/v1/runs/{running['id']}", role="reader")
    assert n["state"] == "CANCELING"
    step(server, running["id"], "canceled")
    assert fs.runs.get_run(running["id"])["state"] == "CANCELED"

    other = start(fs, g)
    fs.as_role("reader")
    with pytest.raises(HTTPError) as e:
        fs.runs.cancel_run(other["id"], reason="a reader")
    assert status_of(e) == 403


def test_delete(fs, workflow, server):
    g = new_group(fs, workflow)
    h = start(fs, g)
    with pytest.raises(HTTPError) as e:  # active
        fs.runs.delete_run(h["id"])
    assert status_of(e) == 400
    fs.runs.cancel_run(h["id"])
    assert fs.runs.delete_run(h["id"]) is None
    with pytest.raises(HTTPError) as e:
        fs.runs.get_run(h["id"])
    assert status_of(e) == 404
    assert h["id"] not in [r["id"] for r in fs.runs.list_runs(g["id"])["runs"]]


def test_list_runs_of_a_group_by_state(fs, workflow, server):
    g, other = new_group(fs, workflow), new_group(fs, workflow)
    pending, running, success, error, canceled = (start(fs, g) for _ in range(5))
    start(fs, other)
    step(server, running["id"], "claim")
    for r in (success, error):
        step(server, r["id"], "claim")
    step(server, success["id"], "complete")
    step(server, error["id"], "error", reason="the node died")
    fs.runs.cancel_run(canceled["id"])
    everything = fs.runs.list_runs(g["id"])["runs"]  # ?state=None
    ids = [r["id"] for r in (pending, running, success, error, canceled)]
    assert [r["id"] for r in everything] == ids  # oldest first
    assert all(set(r) == {"id", "state", "createdAt"} for r in everything)
    want = {"PENDING": [pending], "RUNNING": [running], "SUCCESS": [success], "ERROR": [error], "CANCELED": [canceled]}
    for state, runs in want.items():
        got = fs.runs.list_runs(g["id"], state=state)["runs"]
        assert [(r["id"], r["state"]) for r in got] == [(x["id"], state) for x in runs], state
    with pytest.raises(HTTPError) as e:
        fs.runs.list_runs(g["id"], state="DONE")
    assert status_of(e) == 400


# ---- downloads ----

def test_downloads_of_a_public_group(fs, workflow, server):
    g = new_group(fs, workflow, public=True)
    assert g["config"] == {"public_downloads": True}
    h = start(fs, g)
    step(server, h["id"], "claim")
    upload(server, h["id"], "results/summary.txt", b"all good\n")
    upload(server, h["id"], "plot.png", b"\x89PNG fake", media="image/png")
    with pytest.raises(HTTPError) as e:  # flowserv: the archive of a run that did not succeed is unknown
        fs.runs.get_result_archive(h["id"])
    assert status_of(e) == 404
    step(server, h["id"], "complete")
    files = {f["name"]: f["id"] for f in fs.runs.get_run(h["id"])["files"]}
    # The client downloads with no header at all.
    assert fs.runs.get_result_file(h["id"], files["results/summary.txt"]).read() == b"all good\n"
    assert fs.runs.get_result_file(h["id"], files["plot.png"]).read() == b"\x89PNG fake"
    with tarfile.open(fileobj=io.BytesIO(fs.runs.get_result_archive(h["id"]).read()), mode="r:gz") as tar:
        got = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    assert got == {"results/summary.txt": b"all good\n", "plot.png": b"\x89PNG fake"}
    with pytest.raises(HTTPError) as e:
        fs.runs.get_result_file(h["id"], "no-such-file")
    assert status_of(e) == 404


def test_downloads_of_a_closed_group_need_a_token(fs, workflow, server):
    g = new_group(fs, workflow)
    assert g["config"] == {}
    h = start(fs, g)
    step(server, h["id"], "claim")
    upload(server, h["id"], "out.txt", b"secret\n")
    step(server, h["id"], "complete")
    file_id = fs.runs.get_run(h["id"])["files"][0]["id"]
    for fetch in (lambda: fs.runs.get_result_file(h["id"], file_id), lambda: fs.runs.get_result_archive(h["id"])):
        with pytest.raises(HTTPError) as e:
            fetch()
        assert status_of(e) == 401
    # The same routes answer an api_key (or a bearer token), as every other route does.
    base = f"{server.url}/flowserv/api/v1/runs/{h['id']}/downloads"
    r = requests.get(f"{base}/files/{file_id}", headers={"api_key": server.token("reader")}, timeout=10)
    assert r.status_code == 200 and r.content == b"secret\n"
    r = requests.get(f"{base}/archive", headers={"Authorization": "Bearer " + server.token("reader")}, timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/gzip"
    r = requests.get(f"{base}/archive", headers={"api_key": "not-a-token"}, timeout=10)
    assert r.status_code == 401 and "message" in r.json()
    # A run that does not exist is answered as a closed one without a token.
    assert requests.get(f"{base}x/archive", timeout=10).status_code == 401


# ---- one run, three ways ----

def test_one_run_through_flowserv_native_and_prov(fs, workflow, server, tmp_path):
    g = new_group(fs, workflow)
    h = start(fs, g, notes="traced")
    step(server, h["id"], "claim")
    upload(server, h["id"], "results/out.csv", b"a,b\n1,2\n", media="text/csv")
    step(server, h["id"], "complete")
    f = fs.runs.get_run(h["id"])
    status, n = native(server, "GET", f"/api/v1/runs/{h['id']}?view=full", role="reader")
    assert status == 200
    assert (n["id"], n["state"], n["study_id"], n["workflow_template_id"], n["kind"]) == \
        (f["id"], "SUCCEEDED", g["id"], workflow["id"], "workflow")
    assert n["spec"]["parameters"] == {"scenario": "ssp245", "notes": "traced"}
    assert n["spec"]["foreign"]["flowserv"]["arguments"] == f["arguments"]
    assert to_datetime(f["finishedAt"]) == to_datetime(n["ended_at"])
    status, listed = native(server, "GET", f"/api/v1/runs?study_id={urllib.parse.quote(g['id'])}", role="reader")
    assert [r["id"] for r in listed["runs"]] == [h["id"]]
    files = {}
    for fmt, ext in (("turtle", "ttl"), ("jsonld", "jsonld"), ("provjson", "json")):
        status, body = native(server, "GET", f"/api/v1/prov/{h['id']}?format={fmt}", role="reader")
        assert status == 200, body
        path = tmp_path / f"run.{ext}"
        path.write_bytes(body if isinstance(body, bytes) else json.dumps(body).encode())
        files[fmt] = str(path)
    assert judge_prov.judge(files["turtle"], files["jsonld"], files["provjson"]) == []
    graph = judge_prov.load_turtle(files["turtle"])
    PROV, RDF, RDFS = judge_prov.PROV, judge_prov.RDF, judge_prov.RDFS
    PG = rdflib.Namespace("https://w3id.org/provgraph/ns#")
    run_iri = next(s for s in graph.subjects(RDF.type, PROV.Activity) if str(s).endswith(h["id"]))
    assert str(graph.value(run_iri, PG.state)) == "SUCCEEDED"
    study_iri = next(graph.objects(run_iri, PROV.wasInformedBy))
    assert str(study_iri).endswith(g["id"]) and str(graph.value(study_iri, RDFS.label)) == g["name"]
    # The run follows its workflow template as a plan.
    plan = next(o for o in graph.objects(run_iri, PROV.wasInfluencedBy) if str(o).endswith(workflow["id"]))
    assert (plan, RDF.type, PROV.Plan) in graph
    generated = list(graph.subjects(PROV.wasGeneratedBy, run_iri))
    assert [str(graph.value(e, RDFS.label)) for e in generated] == ["results/out.csv"]
    assert str(generated[0]).endswith(f["files"][0]["id"])
    ended = graph.value(run_iri, PROV.endedAtTime).toPython()
    assert abs((ended - to_datetime(f["finishedAt"])).total_seconds()) < 0.001
    assert (run_iri, PROV.wasAssociatedWith, None) in graph
