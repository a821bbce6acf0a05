"""Azure ML's SDK v1 (azureml-core) against a live provgraph, pointed at it by configuration
alone: a static-token auth object and provgraph's discovery document as the workspace's
discovery URL. Submits through the SDK's three paths (snapshotrun, the default; startrun
with a project zip; localrun, whose invocation zip really runs a script here), then reads,
lists and cancels them as a user would, and finds every run natively and in PROV with the
same facts. Remote runs' executors act through provgraph's native run routes.

The SDK pins packages below what the judges need, so this file runs from a virtualenv of
its own (make clients).
"""
import hashlib
import io
import json
import os
import re
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
import zipfile

import pytest

# The SDK caches discovery and snapshots under $HOME and unpacks local runs under the
# temporary directory: both are this session's own.
_HOME = tempfile.mkdtemp(prefix="provgraph-azureml-home-")
os.environ["HOME"] = _HOME
os.environ["TMPDIR"] = tempfile.mkdtemp(prefix="provgraph-azureml-tmp-")
tempfile.tempdir = os.environ["TMPDIR"]

from azureml._restclient.service_context import ServiceContext  # noqa: E402
from azureml.core import Experiment, Run, ScriptRunConfig, Workspace  # noqa: E402
from azureml.core.authentication import ArmTokenAuthentication  # noqa: E402

WS = "/subscriptions/sub-1/resourceGroups/rg-1/providers/Microsoft.MachineLearningServices/workspaces/ws-1"
RUN_ID = re.compile(r"^[A-Za-z0-9_-]+_\d+_[0-9a-f]{8}$")
# Experiments are named for the whole workspace, which the shared database is: each
# session names its own.
SUFFIX = "-" + uuid.uuid4().hex[:6]


def name(base):
    return base + SUFFIX


def native(server, method, path, body=None, role="writer", raw=None, content_type="application/json", token=None):
    """A call without the SDK: (status, decoded JSON or bytes)."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    headers = {"Content-Type": content_type}
    if token is not False:
        headers["Authorization"] = "Bearer " + (token or server.token(role))
    req = urllib.request.Request(server.url + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as res:
            payload, status = res.read(), res.status
    except urllib.error.HTTPError as e:
        payload, status = e.read(), e.code
    try:
        return status, json.loads(payload)
    except ValueError:
        return status, payload


def step(server, run_id, op, body=None, want=200):
    status, out = native(server, "POST", f"/api/v1/runs/{run_id}:{op}", body or {})
    assert status == want, (op, status, out)
    return out


@pytest.fixture(scope="module")
def ws(server):
    auth = ArmTokenAuthentication(server.token("writer"), cloud="AzureCloud")
    sc = ServiceContext("sub-1", "rg-1", "ws-1", str(uuid.uuid4()), server.url + "/azureml/discovery", auth)
    return Workspace._from_service_context(sc, None)


@pytest.fixture
def project(tmp_path):
    d = tmp_path / "project"
    d.mkdir()
    (d / "train.py").write_text(
        "import json, os, sys, time\n"
        "args = sys.argv[1:]\n"
        "print('training with', args)\n"
        "if '--sleep' in args: time.sleep(float(args[args.index('--sleep') + 1]))\n"
        "os.makedirs('outputs', exist_ok=True)\n"
        "json.dump({'accuracy': 0.93, 'loss': 0.21}, open('outputs/metrics.json', 'w'))\n"
        "sys.exit(int(args[args.index('--exit') + 1]) if '--exit' in args else 0)\n")
    (d / "data.csv").write_text("a,b\n1,2\n")
    return d


def config(project, target="cpu-cluster", args=("--alpha", "0.5")):
    src = ScriptRunConfig(source_directory=str(project), script="train.py", arguments=list(args), compute_target=target)
    if target == "local":
        src.run_config.environment.python.user_managed_dependencies = True
        src.run_config.environment.python.interpreter_path = sys.executable
    return src


def native_run(server, azure_id):
    status, page = native(server, "GET", f"/api/v1/runs?tag=azureml.run_id:{azure_id}&archived=any&view=full", role="reader")
    assert status == 200 and len(page["runs"]) == 1, page
    return page["runs"][0]


def prov(server, run_id):
    status, doc = native(server, "GET", f"/api/v1/prov/{run_id}?format=provjson", role="reader")
    assert status == 200, doc
    return doc


def prov_id(run_id):
    return "id:" + run_id


def used_labels(doc, run_id):
    """The labels of the entities the run used, in its PROV-JSON."""
    return sorted(doc["entity"][u["prov:entity"]]["prov:label"] for u in doc.get("used", {}).values()
                  if u["prov:activity"] == prov_id(run_id) and u["prov:entity"] in doc.get("entity", {}))


def wait_status(run, want, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        s = run.get_status()
        if s in want:
            return s
        time.sleep(0.5)
    raise AssertionError(f"{run.id} stayed {run.get_status()}, want {want}")


def test_discovery_is_public_and_names_this_server(server):
    status, doc = native(server, "GET", "/azureml/discovery", token=False)
    assert status == 200
    for service in ("api", "history", "experimentation", "hyperdrive", "modelmanagement", "studio"):
        assert doc[service].rstrip("/") == server.url
    # Every other route wants a token, and answers Azure's ErrorResponse without one.
    status, err = native(server, "GET", f"/history/v1.0{WS}/experiments/e1/runs/e1_1_0a1b2c3d", token=False)
    assert status == 401 and err["error"]["code"] == "UserError" and err["error"]["message"]
    status, err = native(server, "GET", f"/history/v1.0{WS}/experiments/e1/runs/e1_1_0a1b2c3d", token="pgt_nope")
    assert status == 401


def test_snapshot_submit_read_run_and_found_natively_and_in_prov(ws, server, project):
    exp = Experiment(ws, name("snap-exp"))
    run = exp.submit(config(project))
    assert RUN_ID.match(run.id) and run.id.startswith(name("snap-exp") + "_")
    assert run.get_status() == "Queued"
    # The SDK snapshotted the project first and PATCHed the run with the snapshot's id.
    snapshot = run.get_properties()["ContentSnapshotId"]
    assert snapshot
    again = Run(exp, run.id)
    assert (again.id, again.get_status(), again.get_properties()["ContentSnapshotId"]) == (run.id, "Queued", snapshot)

    n = native_run(server, run.id)
    assert n["name"] == run.id and n["kind"] == "job" and n["state"] == "PENDING"
    assert n["tags"]["azureml.experiment"] == name("snap-exp") and n["tags"]["azureml.target"] == "cpu-cluster"
    assert n["spec"]["ref"]["snapshot_id"] == snapshot
    assert n["spec"]["executor"]["args"] == ["--alpha", "0.5"]
    az = n["spec"]["foreign"]["azureml"]
    assert az["run_id"] == run.id and az["definition"]["Configuration"]["script"] == "train.py"
    assert az["snapshot"]["sha256"], "the snapshot's manifest is kept content-addressed"
    # ... and is an entity the run used, from its submit on.
    assert "azureml/snapshot.json" in used_labels(prov(server, n["id"]), n["id"])
    status, study = native(server, "GET", f"/api/v1/studies/{n['study_id']}", role="reader")
    assert status == 200 and study["record"]["title"] == name("snap-exp")
    assert exp.id == n["study_id"]

    # An executor runs it through the native routes; the SDK sees it move.
    step(server, n["id"], "claim")
    assert run.get_status() == "Running"
    step(server, n["id"], "complete")
    assert run.get_status() == "Completed"
    details = run.get_details()
    assert details["runId"] == run.id and details["status"] == "Completed" and details["target"] == "cpu-cluster"
    assert details["startTimeUtc"] and details["endTimeUtc"] and details["properties"]["ContentSnapshotId"] == snapshot
    n = native_run(server, run.id)
    assert details["endTimeUtc"].rstrip("Z")[:19] == n["ended_at"][:19]

    # In PROV: an activity named by the client's id, informed by the experiment's study.
    doc = prov(server, n["id"])
    act = doc["activity"][prov_id(n["id"])]
    assert act["prov:label"] == run.id and act["pg:state"] == "SUCCEEDED"
    assert doc["activity"][prov_id(n["study_id"])]["prov:label"] == name("snap-exp")
    informed = [r for r in doc.get("wasInformedBy", {}).values()
                if r["prov:informed"] == prov_id(n["id"]) and r["prov:informant"] == prov_id(n["study_id"])]
    assert informed


def test_zip_submit_keeps_the_project_and_the_executor_stores_it(ws, server, project, monkeypatch):
    monkeypatch.setenv("AML_FORCE_EXECUTE_WITH_ZIP", "1")
    exp = Experiment(ws, name("zip-exp"))
    run = exp.submit(config(project, args=("--epochs", "3")))
    assert run.get_status() == "Queued" and run.get_properties()["ContentSnapshotId"]
    n = native_run(server, run.id)
    kept = n["spec"]["foreign"]["azureml"]["project"]
    # The project is an entity the run used as soon as it is submitted (still Queued).
    assert "azureml/project.zip" in used_labels(prov(server, n["id"]), n["id"])
    # The executor fetches the project zip provgraph kept, content-addressed, and stores it
    # as the run's artifact once it holds the run.
    status, body = native(server, "GET", f"/execution/v1.0{WS}/experiments/{name('zip-exp')}/runId/{run.id}/project.zip", role="reader")
    assert status == 200 and hashlib.sha256(body).hexdigest() == kept["sha256"] and len(body) == kept["size"]
    assert sorted(zipfile.ZipFile(io.BytesIO(body)).namelist()) == ["data.csv", "train.py"]
    step(server, n["id"], "claim")
    status, art = native(server, "PUT", f"/api/v1/runs/{n['id']}/artifacts/azureml/project.zip", raw=body, content_type="application/zip")
    assert status == 201 and art["sha256"] == kept["sha256"]
    step(server, n["id"], "fail", {"reason": "out of memory"})
    assert run.get_status() == "Failed"
    assert run.get_details()["error"]["error"]["message"] == "out of memory"
    doc = prov(server, n["id"])
    gen = [g["prov:entity"] for g in doc["wasGeneratedBy"].values() if g["prov:activity"] == prov_id(n["id"])]
    assert prov_id(art["id"]) in gen and doc["entity"][prov_id(art["id"])]["prov:label"] == "azureml/project.zip"
    assert "azureml/project.zip" in used_labels(doc, n["id"])


def test_cancel_queued_and_running_runs(ws, server, project):
    exp = Experiment(ws, name("cancel-exp"))
    queued = exp.submit(config(project))
    queued.cancel()  # posts the cancelUri, then waits for metrics ingestion
    assert queued.get_status() == "Canceled"

    running = exp.submit(config(project))
    n = native_run(server, running.id)
    step(server, n["id"], "claim")
    running.cancel()
    assert running.get_status() == "CancelRequested"
    step(server, n["id"], "canceled")
    assert running.get_status() == "Canceled"
    assert "cancel_uri" not in Run(exp, running.id)._run_dto or not Run(exp, running.id)._run_dto.get("cancel_uri")

    # The REST reference's cancel, and the run-history event the SDK posts without a cancelUri.
    third = exp.submit(config(project))
    status, out = native(server, "POST", f"/execution/v1.0{WS}/experiments/{name('cancel-exp')}/runId/{third.id}/cancel")
    assert status == 200 and out == {"runId": third.id} and third.get_status() == "Canceled"
    fourth = exp.submit(config(project))
    status, _ = native(server, "POST", f"/history/v1.0{WS}/experiments/{name('cancel-exp')}/runs/{fourth.id}/events",
                       {"name": "Microsoft.MachineLearning.Run.Canceled", "data": {}})
    assert status == 200 and fourth.get_status() == "Canceled"
    assert [e["op"] for e in native(server, "GET", f"/api/v1/runs/{native_run(server, fourth.id)['id']}/events", role="reader")[1]["events"]] == ["create", "cancel"]
    # Canceling an ended run again is no error for the SDK, and changes nothing.
    queued.cancel()
    assert queued.get_status() == "Canceled"


def test_get_runs_lists_the_experiment_newest_first(ws, server, project):
    exp = Experiment(ws, name("list-exp"))
    ids = [exp.submit(config(project)).id for _ in range(3)]
    got = [r.id for r in exp.get_runs()]
    assert got == ids[::-1]
    assert all(r.get_status() == "Queued" for r in exp.get_runs())
    # Another experiment's runs are not listed.
    assert not set(got) & {r.id for r in Experiment(ws, name("snap-exp")).get_runs()}


def test_local_run_really_runs_and_reports_back(ws, server, project):
    exp = Experiment(ws, name("local-exp"))
    run = exp.submit(config(project, target="local", args=("--alpha", "it's 0.5")))
    run.wait_for_completion(show_output=False)
    assert run.get_status() == "Completed"
    n = native_run(server, run.id)
    assert n["kind"] == "local" and n["state"] == "SUCCEEDED" and n["executor"] and n["started_at"] and n["ended_at"]
    status, arts = native(server, "GET", f"/api/v1/runs/{n['id']}/artifacts", role="reader")
    names = {a["name"]: a for a in arts["artifacts"]}
    assert set(names) == {"azureml/project.zip", "azureml-logs/70_driver_log.txt"}
    status, log = native(server, "GET", f"/api/v1/runs/{n['id']}/artifacts/azureml-logs/70_driver_log.txt", role="reader")
    assert b"training with ['--alpha', \"it's 0.5\"]" in log
    status, z = native(server, "GET", f"/api/v1/runs/{n['id']}/artifacts/azureml/project.zip", role="reader")
    assert hashlib.sha256(z).hexdigest() == names["azureml/project.zip"]["sha256"]
    assert {"train.py", "data.csv"} <= set(zipfile.ZipFile(io.BytesIO(z)).namelist())
    status, ms = native(server, "GET", f"/api/v1/runs/{n['id']}/metrics", role="reader")
    values = {m["name"]: m["value"] for m in ms["metrics"]}
    assert values["accuracy"] == 0.93 and values["loss"] == 0.21 and values["azureml.exit_code"] == 0
    doc = prov(server, n["id"])
    gen = {doc["entity"][g["prov:entity"]]["prov:label"] for g in doc["wasGeneratedBy"].values() if g["prov:activity"] == prov_id(n["id"])}
    assert gen == set(names)
    assert doc["activity"][prov_id(n["id"])]["pg:state"] == "SUCCEEDED"
    assert any(a["prov:activity"] == prov_id(n["id"]) for a in doc.get("wasAssociatedWith", {}).values())


def test_local_run_that_fails_ends_failed_with_its_exit_status(ws, server, project):
    exp = Experiment(ws, name("local-exp"))
    run = exp.submit(config(project, target="local", args=("--exit", "3")))
    assert wait_status(run, {"Completed", "Failed", "Canceled"}) == "Failed"
    n = native_run(server, run.id)
    assert n["state"] == "FAILED" and "status 3" in n["message"]
    assert "status 3" in run.get_details()["error"]["error"]["message"]
    status, ms = native(server, "GET", f"/api/v1/runs/{n['id']}/metrics", role="reader")
    assert {m["name"]: m["value"] for m in ms["metrics"]}["azureml.exit_code"] == 3


def test_local_run_canceled_by_the_sdk_stops_and_ends_canceled(ws, server, project):
    exp = Experiment(ws, name("local-exp"))
    run = exp.submit(config(project, target="local", args=("--sleep", "60")))
    wait_status(run, {"Running"})
    run.cancel()  # the SDK writes azureml-setup/killfile in the run's folder
    assert wait_status(run, {"Completed", "Failed", "Canceled"}, timeout=30) == "Canceled"
    assert native_run(server, run.id)["state"] == "CANCELED"


def test_resubmit_is_the_same_run_and_bad_input_is_refused(server, project):
    body = {"Configuration": {"Script": "train.py", "Arguments": [], "Target": "cpu-cluster"}, "SnapshotId": None}
    e = name("retry-exp")
    rid = e + "_1700000000_0a1b2c3d"
    path = f"/execution/v1.0{WS}/experiments/{e}/snapshotrun?runId={rid}"
    first = native(server, "POST", path, body)
    second = native(server, "POST", path, body)
    assert first == second == (200, {"runId": rid})
    native_run(server, rid)  # exactly one
    for p, b, field in (
        (path.replace(rid, "bad/id"), body, "runId"),
        (path, {"SnapshotId": "x"}, "Configuration"),
        (path, {"Configuration": {"Arguments": {}}}, "Configuration.Arguments"),
    ):
        status, err = native(server, "POST", p, b)
        assert status == 400 and err["error"]["code"] == "ValidationError" and err["error"]["target"] == field, err
    status, err = native(server, "POST", f"/history/v1.0{WS}/experiments/{e}/runs:query", {"filter": "Status eq 'Running'"})
    assert status == 400 and err["error"]["target"] == "filter"
    status, err = native(server, "GET", f"/history/v1.0{WS}/experiments/{e}/runs/{e}_1_ffffffff")
    assert status == 404 and err["error"]["code"] == "UserError"
    status, err = native(server, "POST", path, body, role="reader")
    assert status == 403
