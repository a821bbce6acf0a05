"""Kubeflow Pipelines v1beta1, driven by its real client (kfp-server-api 1.8.5) against a
live provgraph: every RunService, ExperimentService and healthz operation the kfp 1.8 SDK
uses, the lifecycle as KFP shows it (executor steps through provgraph's native routes),
lists, filters, metrics, artifacts and errors; one run seen through KFP, the native API
and its PROV export; 20 terminates racing a completion.
"""
import base64
import json
import os
import secrets
import sys
import tempfile
import threading
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timezone

import pytest
import rdflib
import kfp_server_api
from kfp_server_api.rest import ApiException

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "judges"))
import judge_prov  # noqa: E402

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
MANIFEST = json.dumps({
    "apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
    "metadata": {"generateName": "train-pipeline-"},
    "spec": {"entrypoint": "train", "arguments": {"parameters": [{"name": "lr"}, {"name": "epochs"}]},
             "templates": [{"name": "train", "container": {"image": "python:3.11", "command": ["python", "train.py"]}}]},
})


class KFP:
    """The client's three services, as kfp.Client sets them up for a token."""

    def __init__(self, server, role):
        cfg = kfp_server_api.Configuration(host=server.url, api_key={"authorization": server.token(role)},
                                           api_key_prefix={"authorization": "Bearer"})
        self.client = kfp_server_api.ApiClient(cfg)
        self.runs = kfp_server_api.RunServiceApi(self.client)
        self.experiments = kfp_server_api.ExperimentServiceApi(self.client)
        self.healthz = kfp_server_api.HealthzServiceApi(self.client)


@pytest.fixture(scope="module")
def kfp(server):
    return KFP(server, "writer")


@pytest.fixture(scope="module")
def kfp_reader(server):
    return KFP(server, "reader")


def native(server, method, path, body=None, role="writer", raw=None, content_type="application/json"):
    """A native call: (status, decoded JSON or bytes)."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(server.url + path, data=data, method=method,
                                 headers={"Authorization": "Bearer " + server.token(role), "Content-Type": content_type})
    try:
        with urllib.request.urlopen(req, timeout=30) as res:
            payload = res.read()
            status = res.status
    except urllib.error.HTTPError as e:
        payload, status = e.read(), e.code
    try:
        return status, json.loads(payload)
    except ValueError:
        return status, payload


def unique(prefix):
    return f"{prefix}-{secrets.token_hex(4)}"


def experiment(kfp, name=None):
    return kfp.experiments.create_experiment(kfp_server_api.ApiExperiment(name=name or unique("exp"), description="tested"))


def new_run(kfp, exp, name=None, params=(("lr", "0.01"), ("epochs", "3"))):
    run = kfp_server_api.ApiRun(
        name=name or unique("run"), description="a KFP run",
        pipeline_spec=kfp_server_api.ApiPipelineSpec(
            workflow_manifest=MANIFEST, parameters=[kfp_server_api.ApiParameter(name=k, value=v) for k, v in params]),
        resource_references=[kfp_server_api.ApiResourceReference(
            key=kfp_server_api.ApiResourceKey(type="EXPERIMENT", id=exp.id), relationship="OWNER")])
    return kfp.runs.create_run(run).run


def api_error(call, *args, **kwargs):
    with pytest.raises(ApiException) as e:
        call(*args, **kwargs)
    body = json.loads(e.value.body)
    assert body["code"] and body["message"] and body["details"] == [], body
    return e.value.status, body


def step(server, run_id, op, body=None):
    status, out = native(server, "POST", f"/api/v1/runs/{run_id}:{op}", body or {})
    assert status == 200, (op, status, out)
    return out


def status_of(kfp, run_id):
    return kfp.runs.get_run(run_id).run.status


# ---- healthz, auth, errors ----

def test_healthz_says_single_user(kfp):
    h = kfp.healthz.get_healthz()
    assert h.multi_user is False


def test_a_bad_token_is_401_in_grpc_shape_before_the_path_is_resolved(server):
    bad = kfp_server_api.Configuration(host=server.url, api_key={"authorization": "nope"}, api_key_prefix={"authorization": "Bearer"})
    runs = kfp_server_api.RunServiceApi(kfp_server_api.ApiClient(bad))
    for call in (lambda: runs.get_run("local/01J0000000000000000000000X"), lambda: runs.list_runs()):
        status, body = api_error(call)
        assert status == 401 and body["code"] == 16


def test_a_reader_cannot_create(kfp, kfp_reader):
    status, body = api_error(kfp_reader.experiments.create_experiment, kfp_server_api.ApiExperiment(name=unique("exp")))
    assert status == 403 and body["code"] == 7


def test_create_run_refuses_bad_input_with_400(kfp):
    exp = experiment(kfp)
    ref = [kfp_server_api.ApiResourceReference(key=kfp_server_api.ApiResourceKey(type="EXPERIMENT", id=exp.id), relationship="OWNER")]
    spec = kfp_server_api.ApiPipelineSpec(workflow_manifest=MANIFEST)
    status, body = api_error(kfp.runs.create_run, kfp_server_api.ApiRun(name="", pipeline_spec=spec, resource_references=ref))
    assert status == 400 and body["code"] == 3 and "name" in body["message"]
    # The native schema's refusals (a name over 256 characters) are 400 here, not 422.
    status, body = api_error(kfp.runs.create_run, kfp_server_api.ApiRun(name="x" * 300, pipeline_spec=spec, resource_references=ref))
    assert status == 400 and body["code"] == 3 and "/name" in body["message"]
    status, body = api_error(kfp.runs.create_run, kfp_server_api.ApiRun(name="x", resource_references=ref))
    assert status == 400 and "pipeline_spec" in body["message"]
    dup = kfp_server_api.ApiPipelineSpec(workflow_manifest=MANIFEST, parameters=[kfp_server_api.ApiParameter(name="a", value="1")] * 2)
    status, _ = api_error(kfp.runs.create_run, kfp_server_api.ApiRun(name="x", pipeline_spec=dup, resource_references=ref))
    assert status == 400
    missing = [kfp_server_api.ApiResourceReference(key=kfp_server_api.ApiResourceKey(type="EXPERIMENT", id=exp.id[:-4] + "ZZZZ"), relationship="OWNER")]
    status, body = api_error(kfp.runs.create_run, kfp_server_api.ApiRun(name="x", pipeline_spec=spec, resource_references=missing))
    assert status == 404 and body["code"] == 5
    # Nothing was created by any of them.
    assert (kfp.runs.list_runs(resource_reference_key_type="EXPERIMENT", resource_reference_key_id=exp.id).total_size or 0) == 0


def test_unknown_runs_are_404_for_every_operation(kfp):
    ghost = "local/01J0000000000000000000000X"
    for call in (kfp.runs.get_run, kfp.runs.archive_run, kfp.runs.unarchive_run, kfp.runs.delete_run,
                 kfp.runs.terminate_run, kfp.runs.retry_run):
        status, body = api_error(call, ghost)
        assert status == 404 and body["code"] == 5, call
    status, _ = api_error(kfp.runs.read_artifact, ghost, "n", "a")
    assert status == 404
    status, _ = api_error(kfp.runs.report_run_metrics, ghost, kfp_server_api.ApiReportRunMetricsRequest(
        run_id=ghost, metrics=[kfp_server_api.ApiRunMetric(name="acc", node_id="n", number_value=1.0)]))
    assert status == 404


# ---- experiments ----

def test_experiments_have_unique_names_and_the_sdk_finds_them_by_name(kfp):
    name = unique("exp")
    exp = experiment(kfp, name)
    assert exp.id and exp.name == name and exp.description == "tested" and exp.created_at.tzinfo is not None
    status, body = api_error(kfp.experiments.create_experiment, kfp_server_api.ApiExperiment(name=name))
    assert status == 409 and body["code"] == 6
    status, _ = api_error(kfp.experiments.create_experiment, kfp_server_api.ApiExperiment(name=""))
    assert status == 400
    got = kfp.experiments.get_experiment(exp.id)
    assert (got.id, got.name, got.storage_state) == (exp.id, name, "STORAGESTATE_AVAILABLE")
    # kfp.Client.get_experiment(experiment_name=…): op as a number, camelCase value key.
    sdk = json.dumps({"predicates": [{"op": 1, "key": "name", "stringValue": name}]})
    found = kfp.experiments.list_experiment(filter=sdk, page_size=10, page_token="", sort_by="")
    assert [e.id for e in found.experiments] == [exp.id] and found.total_size == 1
    # The UI's spelling.
    ui = json.dumps({"predicates": [{"op": "IS_SUBSTRING", "key": "name", "string_value": name[4:]}]})
    assert [e.id for e in kfp.experiments.list_experiment(filter=ui).experiments] == [exp.id]
    status, _ = api_error(kfp.experiments.get_experiment, exp.id[:-4] + "ZZZZ")
    assert status == 404


def test_twenty_concurrent_creates_of_one_name_make_one_experiment(kfp, server):
    name = unique("exp")
    outcomes = []

    def create():
        client = KFP(server, "writer")
        try:
            client.experiments.create_experiment(kfp_server_api.ApiExperiment(name=name))
            outcomes.append(200)
        except ApiException as e:
            outcomes.append(e.status)

    threads = [threading.Thread(target=create) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == [200] + [409] * 19
    sdk = json.dumps({"predicates": [{"op": 1, "key": "name", "stringValue": name}]})
    assert kfp.experiments.list_experiment(filter=sdk).total_size == 1


# ---- runs: create, get, lifecycle ----

def test_create_and_get_return_what_was_sent(kfp, server):
    exp = experiment(kfp)
    run = new_run(kfp, exp, params=(("zeta", "1"), ("alpha", "2"), ("mid", "x y")))
    for got in (run, kfp.runs.get_run(run.id).run):
        assert got.id == run.id and got.status == "Pending" and got.description == "a KFP run"
        assert [(p.name, p.value) for p in got.pipeline_spec.parameters] == [("zeta", "1"), ("alpha", "2"), ("mid", "x y")]
        assert json.loads(got.pipeline_spec.workflow_manifest) == json.loads(MANIFEST)
        assert [(r.key.type, r.key.id, r.name, r.relationship) for r in got.resource_references] == [("EXPERIMENT", exp.id, exp.name, "OWNER")]
        assert got.created_at.tzinfo is not None and got.finished_at == EPOCH
        assert got.storage_state in (None, "STORAGESTATE_AVAILABLE")
    # The client escapes the id's '/'; a raw one reaches the same run, for every verb.
    status, raw = native(server, "GET", f"/apis/v1beta1/runs/{run.id}", role="reader")
    assert status == 200 and raw["run"]["id"] == run.id and "%2F" in urllib.parse.quote(run.id, safe="")
    assert native(server, "POST", f"/apis/v1beta1/runs/{run.id}:archive", raw=b"")[0] == 200
    assert kfp.runs.get_run(run.id).run.storage_state == "STORAGESTATE_ARCHIVED"
    assert native(server, "POST", f"/apis/v1beta1/runs/{urllib.parse.quote(run.id, safe='')}:unarchive", raw=b"")[0] == 200
    assert kfp.runs.get_run(run.id).run.storage_state in (None, "STORAGESTATE_AVAILABLE")


def test_a_run_without_an_experiment_goes_to_default(kfp):
    run = kfp.runs.create_run(kfp_server_api.ApiRun(name=unique("run"), pipeline_spec=kfp_server_api.ApiPipelineSpec(workflow_manifest=MANIFEST))).run
    refs = [(r.key.type, r.name) for r in run.resource_references]
    assert refs == [("EXPERIMENT", "Default")]


def test_the_lifecycle_as_kfp_shows_it(kfp, server):
    exp = experiment(kfp)
    run = new_run(kfp, exp)
    # PENDING terminates straight to Failed (KFP's name for a terminated run).
    pending = new_run(kfp, exp)
    kfp.runs.terminate_run(pending.id)
    got = kfp.runs.get_run(pending.id).run
    assert got.status == "Failed" and got.finished_at >= got.created_at
    # RUNNING → Terminating → Failed once the executor acknowledges.
    step(server, run.id, "claim")
    assert status_of(kfp, run.id) == "Running"
    kfp.runs.terminate_run(run.id)
    assert status_of(kfp, run.id) == "Terminating"
    step(server, run.id, "canceled")
    got = kfp.runs.get_run(run.id).run
    assert got.status == "Failed" and got.finished_at != EPOCH and got.finished_at >= got.created_at
    # An ended run refuses terminate and keeps its status.
    status, _ = api_error(kfp.runs.terminate_run, run.id)
    assert status in (400, 409) and status_of(kfp, run.id) == "Failed"
    # Retry: same id, Pending again, finished_at cleared.
    kfp.runs.retry_run(run.id)
    got = kfp.runs.get_run(run.id).run
    assert (got.id, got.status, got.finished_at) == (run.id, "Pending", EPOCH)
    # A run's own failure reads Failed with its reason as the error; retry works from it too.
    step(server, run.id, "claim")
    step(server, run.id, "fail", {"reason": "out of memory"})
    got = kfp.runs.get_run(run.id).run
    assert got.status == "Failed" and got.error == "out of memory"
    kfp.runs.retry_run(run.id)
    step(server, run.id, "claim")
    step(server, run.id, "error", {"reason": "node lost"})
    assert status_of(kfp, run.id) == "Error"
    kfp.runs.retry_run(run.id)
    step(server, run.id, "claim")
    step(server, run.id, "complete")
    assert status_of(kfp, run.id) == "Succeeded"
    status, _ = api_error(kfp.runs.retry_run, run.id)
    assert status in (400, 409) and status_of(kfp, run.id) == "Succeeded"


def test_archive_changes_storage_state_only_and_archived_runs_stay_in_unfiltered_lists(kfp, server):
    exp = experiment(kfp)
    keep, archived = new_run(kfp, exp), new_run(kfp, exp)
    step(server, archived.id, "claim")
    kfp.runs.archive_run(archived.id)
    got = kfp.runs.get_run(archived.id).run
    assert (got.storage_state, got.status) == ("STORAGESTATE_ARCHIVED", "Running")
    scope = dict(resource_reference_key_type="EXPERIMENT", resource_reference_key_id=exp.id)
    listed = kfp.runs.list_runs(**scope)
    assert {r.id for r in listed.runs} == {keep.id, archived.id} and listed.total_size == 2
    hide = json.dumps({"predicates": [{"op": "NOT_EQUALS", "key": "storage_state", "string_value": "STORAGESTATE_ARCHIVED"}]})
    assert [r.id for r in kfp.runs.list_runs(filter=hide, **scope).runs] == [keep.id]
    only = json.dumps({"predicates": [{"op": 1, "key": "storage_state", "stringValue": "STORAGESTATE_ARCHIVED"}]})
    assert [r.id for r in kfp.runs.list_runs(filter=only, **scope).runs] == [archived.id]
    kfp.runs.unarchive_run(archived.id)
    got = kfp.runs.get_run(archived.id).run
    assert got.storage_state in (None, "STORAGESTATE_AVAILABLE") and got.status == "Running"
    assert [r.id for r in kfp.runs.list_runs(filter=hide, **scope).runs] == [keep.id, archived.id]


def test_delete_ends_a_run_for_kfp_and_refuses_an_active_one(kfp, server):
    exp = experiment(kfp)
    scope = dict(resource_reference_key_type="EXPERIMENT", resource_reference_key_id=exp.id)
    a, b = new_run(kfp, exp), new_run(kfp, exp)
    status, _ = api_error(kfp.runs.delete_run, a.id)
    assert status == 409  # a deliberate divergence: KFP deletes active runs
    kfp.runs.terminate_run(a.id)
    assert kfp.runs.list_runs(**scope).total_size == 2
    assert kfp.runs.delete_run(a.id) in ({}, None)
    status, _ = api_error(kfp.runs.get_run, a.id)
    assert status == 404
    status, _ = api_error(kfp.runs.delete_run, a.id)
    assert status == 404
    listed = kfp.runs.list_runs(**scope)
    assert listed.total_size == 1 and [r.id for r in listed.runs] == [b.id]


# ---- lists ----

def test_pages_totals_sorting_and_tokens(kfp):
    exp, other_exp = experiment(kfp), experiment(kfp)
    made = [new_run(kfp, exp, name=f"r{i}-{secrets.token_hex(2)}") for i in (3, 1, 4, 0, 2)]
    scope = dict(resource_reference_key_type="EXPERIMENT", resource_reference_key_id=exp.id)
    # The SDK's own call: empty page_token and sort_by mean absent.
    sdk = kfp.runs.list_runs(page_token="", page_size=10, sort_by="", **scope)
    assert [r.id for r in sdk.runs] == [r.id for r in made]  # created_at ascending
    assert sdk.total_size == 5 and not sdk.next_page_token
    # 5 runs by 2: three pages, tokens on the first two, total 5 on each, no repeats; in
    # orders the database pages itself (name, created_at) and ones the adapter sorts (id,
    # description: all equal, so by id).
    orders = {"name desc": sorted((r.name for r in made), reverse=True), "created_at desc": [r.name for r in reversed(made)],
              "id": [r.name for r in sorted(made, key=lambda r: r.id)], "description desc": [r.name for r in sorted(made, key=lambda r: r.id, reverse=True)]}
    for sort_by, want in orders.items():
        seen, token, tokens = [], "", []
        while True:
            page = kfp.runs.list_runs(page_size=2, page_token=token, sort_by=sort_by, **scope)
            assert page.total_size == 5
            seen += [r.name for r in page.runs]
            token = page.next_page_token
            if not token:
                break
            tokens.append(token)
        assert len(tokens) == 2 and seen == want, (sort_by, seen)
        # A token of another sort or experiment, or altered, is 400.
        other = "name asc" if sort_by != "name asc" else "id"
        status, _ = api_error(kfp.runs.list_runs, page_size=2, page_token=tokens[0], sort_by=other, **scope)
        assert status == 400
        status, _ = api_error(kfp.runs.list_runs, page_size=2, page_token=tokens[0][:-3] + "AAA", sort_by=sort_by, **scope)
        assert status == 400
        status, _ = api_error(kfp.runs.list_runs, page_size=2, page_token=tokens[0], sort_by=sort_by,
                              resource_reference_key_type="EXPERIMENT", resource_reference_key_id=other_exp.id)
        assert status == 400
        # The page size may change between pages.
        assert [r.name for r in kfp.runs.list_runs(page_size=4, page_token=tokens[0], sort_by=sort_by, **scope).runs] == want[2:]
    # Sort fields beyond the native ones.
    by_id = kfp.runs.list_runs(sort_by="id desc", **scope)
    assert [r.id for r in by_id.runs] == sorted((r.id for r in made), reverse=True)
    for bad in ({"sort_by": "colour"}, {"sort_by": "name sideways"}, {"filter": "{not json"}, {"page_size": -1},
                {"filter": json.dumps({"predicates": [{"op": "IN", "key": "name", "string_value": "x"}]})},
                {"filter": json.dumps({"predicates": [{"op": "EQUALS", "key": "colour", "string_value": "x"}]})}):
        status, body = api_error(kfp.runs.list_runs, **bad, **scope)
        assert status == 400 and body["code"] == 3, bad
    # page_size over 200 is clamped, not refused.
    assert kfp.runs.list_runs(page_size=500, **scope).total_size == 5
    # Unscoped, as kfp.Client.list_runs() without an experiment: every run, paged and
    # counted by the database however many there are.
    first = kfp.runs.list_runs(page_size=1, sort_by="created_at desc")
    assert len(first.runs) == 1 and first.total_size >= 5 and first.next_page_token
    second = kfp.runs.list_runs(page_size=1, sort_by="created_at desc", page_token=first.next_page_token)
    assert len(second.runs) == 1 and second.runs[0].id != first.runs[0].id and second.runs[0].created_at <= first.runs[0].created_at


def test_filters_in_both_spellings(kfp):
    exp = experiment(kfp)
    tag = secrets.token_hex(3)
    a, b, c = (new_run(kfp, exp, name=f"{n}-{tag}") for n in ("alpha", "beta", "gamma"))
    scope = dict(resource_reference_key_type="EXPERIMENT", resource_reference_key_id=exp.id)

    def ids(pred):
        return sorted(r.id for r in kfp.runs.list_runs(filter=json.dumps({"predicates": [pred]}), **scope).runs)

    assert ids({"op": 1, "key": "name", "stringValue": f"beta-{tag}"}) == [b.id]
    assert ids({"op": "EQUALS", "key": "name", "string_value": f"beta-{tag}"}) == [b.id]
    assert ids({"op": "NOT_EQUALS", "key": "name", "string_value": f"beta-{tag}"}) == sorted([a.id, c.id])
    assert ids({"op": "IN", "key": "name", "string_values": {"values": [f"alpha-{tag}", f"gamma-{tag}"]}}) == sorted([a.id, c.id])
    assert ids({"op": 8, "key": "name", "stringValues": {"values": [f"gamma-{tag}"]}}) == [c.id]
    assert ids({"op": "IS_SUBSTRING", "key": "name", "string_value": "amm"}) == [c.id]
    assert ids({"op": "EQUALS", "key": "status", "string_value": "Pending"}) == sorted([a.id, b.id, c.id])
    created = kfp.runs.get_run(b.id).run.created_at
    assert ids({"op": "GREATER_THAN_EQUALS", "key": "created_at", "timestamp_value": "1971-01-01T00:00:00Z"}) == sorted([a.id, b.id, c.id])
    assert ids({"op": "LESS_THAN", "key": "created_at", "long_value": "86400"}) == []
    assert created.year >= 2024
    # Unscoped, a name filter still finds them across every experiment.
    unscoped = kfp.runs.list_runs(filter=json.dumps({"predicates": [{"op": "IS_SUBSTRING", "key": "name", "string_value": tag}]}))
    assert sorted(r.id for r in unscoped.runs) == sorted([a.id, b.id, c.id]) and unscoped.total_size == 3


# ---- metrics and artifacts ----

def test_report_metrics_per_metric_statuses_first_value_wins_format_kept(kfp, server):
    exp = experiment(kfp)
    run = new_run(kfp, exp)
    step(server, run.id, "claim")
    M = kfp_server_api.ApiRunMetric
    res = kfp.runs.report_run_metrics(run.id, kfp_server_api.ApiReportRunMetricsRequest(run_id=run.id, metrics=[
        M(name="accuracy", node_id="train-1", number_value=0.91, format="PERCENTAGE"),
        M(name="loss", node_id="train-1", number_value=0.25, format="RAW"),
        M(name="9lives", node_id="train-1", number_value=1.0),
        M(name="recall", node_id="", number_value=1.0),
        M(name="recall", node_id="n" * 129, number_value=1.0),
        M(name="accuracy", node_id="train-1", number_value=0.5, format="RAW"),
    ])).results
    assert [(r.metric_name, r.metric_node_id, r.status) for r in res] == [
        ("accuracy", "train-1", "OK"), ("loss", "train-1", "OK"), ("9lives", "train-1", "INVALID_ARGUMENT"),
        ("recall", "", "INVALID_ARGUMENT"), ("recall", "n" * 129, "INVALID_ARGUMENT"), ("accuracy", "train-1", "DUPLICATE_REPORTING")]
    assert all(r.message for r in res[2:5]) and not res[0].message
    again = kfp.runs.report_run_metrics(run.id, kfp_server_api.ApiReportRunMetricsRequest(run_id=run.id, metrics=[
        M(name="loss", node_id="train-1", number_value=9.0), M(name="loss", node_id="eval-1", number_value=0.3)])).results
    assert [r.status for r in again] == ["DUPLICATE_REPORTING", "OK"]
    got = {(m.node_id, m.name): (m.number_value, m.format) for m in kfp.runs.get_run(run.id).run.metrics}
    assert got == {("train-1", "accuracy"): (0.91, "PERCENTAGE"), ("train-1", "loss"): (0.25, "RAW"),
                   ("eval-1", "loss"): (0.3, "UNSPECIFIED")}


def test_read_artifact_is_standard_padded_base64_of_node_slash_name(kfp, server):
    exp = experiment(kfp)
    run = new_run(kfp, exp)
    step(server, run.id, "claim")
    for size in (0, 1, 2, 3, 1000):
        content = bytes(range(256)) * 4
        content = (b"\xfb\xff\xfe" + content)[:size]
        name = f"model-{size}"
        status, _ = native(server, "PUT", f"/api/v1/runs/{run.id}/artifacts/train-1/{name}", raw=content, content_type="application/octet-stream")
        assert status == 201
        data = kfp.runs.read_artifact(run.id, "train-1", name).data
        assert base64.b64decode(data, validate=True) == content and len(data) % 4 == 0
    status, _ = api_error(kfp.runs.read_artifact, run.id, "train-1", "absent")
    assert status == 404
    status, _ = api_error(kfp.runs.read_artifact, run.id, "eval-1", "model-3")
    assert status == 404


# ---- one run, three ways ----

def test_one_run_through_kfp_native_and_prov(kfp, server, tmp_path):
    exp = experiment(kfp)
    run = new_run(kfp, exp, params=(("lr", "0.01"),))
    step(server, run.id, "claim")
    status, _ = native(server, "PUT", f"/api/v1/runs/{run.id}/artifacts/train-1/model", raw=b"weights", content_type="application/octet-stream")
    assert status == 201
    step(server, run.id, "complete")
    k = kfp.runs.get_run(run.id).run
    status, n = native(server, "GET", f"/api/v1/runs/{run.id}?view=full", role="reader")
    assert status == 200
    # The same facts, through KFP and natively.
    assert (k.id, k.name, k.description, k.status) == (n["id"], n["name"], n["description"], "Succeeded") and n["state"] == "SUCCEEDED"
    assert k.resource_references[0].key.id == n["study_id"] == exp.id
    assert n["spec"]["parameters"] == {"lr": "0.01"} and n["kind"] == "pipeline"
    assert json.loads(n["spec"]["foreign"]["kfp"]["pipeline_spec"]["workflow_manifest"]) == json.loads(MANIFEST)
    assert k.finished_at == datetime.fromisoformat(n["ended_at"].replace("Z", "+00:00")).replace(microsecond=0)
    # And as PROV: the run is an activity informed by its study, the artifact an entity it generated.
    files = {}
    for fmt, ext in (("turtle", "ttl"), ("jsonld", "jsonld"), ("provjson", "json")):
        status, body = native(server, "GET", f"/api/v1/prov/{run.id}?format={fmt}", role="reader")
        assert status == 200, body
        path = tmp_path / f"run.{ext}"
        path.write_bytes(body if isinstance(body, bytes) else json.dumps(body).encode())
        files[fmt] = str(path)
    assert judge_prov.judge(files["turtle"], files["jsonld"], files["provjson"]) == []
    g = judge_prov.load_turtle(files["turtle"])
    PROV, RDF = judge_prov.PROV, judge_prov.RDF
    run_iri = next(s for s in g.subjects(RDF.type, PROV.Activity) if str(s).endswith(run.id))
    study_iri = next(g.objects(run_iri, PROV.wasInformedBy))
    assert str(study_iri).endswith(exp.id) and (study_iri, RDF.type, PROV.Activity) in g
    generated = [e for e in g.subjects(PROV.wasGeneratedBy, run_iri)]
    assert len(generated) == 1
    RDFS, PG = judge_prov.RDFS, rdflib.Namespace("https://w3id.org/provgraph/ns#")
    assert str(g.value(run_iri, RDFS.label)) == k.name and str(g.value(study_iri, RDFS.label)) == exp.name
    assert str(g.value(run_iri, PG.state)) == "SUCCEEDED" and str(g.value(generated[0], RDFS.label)) == "train-1/model"
    assert g.value(run_iri, PROV.endedAtTime).toPython().replace(microsecond=0) == k.finished_at
    assert (run_iri, PROV.wasAssociatedWith, None) in g
    status, arts = native(server, "GET", f"/api/v1/runs/{run.id}/artifacts", role="reader")
    assert [a["name"] for a in arts["artifacts"]] == ["train-1/model"] and str(generated[0]).endswith(arts["artifacts"][0]["id"])
    assert base64.b64decode(kfp.runs.read_artifact(run.id, "train-1", "model").data) == b"weights"


# ---- concurrency ----

def test_twenty_terminates_racing_a_completion_have_one_outcome(kfp, server):
    exp = experiment(kfp)
    for _ in range(3):
        run = new_run(kfp, exp)
        step(server, run.id, "claim")
        barrier = threading.Barrier(21)
        terminates, completes = [], []

        def terminate():
            client = KFP(server, "writer")
            barrier.wait()
            try:
                client.runs.terminate_run(run.id)
                terminates.append(200)
            except ApiException as e:
                terminates.append(e.status)

        def complete():
            barrier.wait()
            completes.append(native(server, "POST", f"/api/v1/runs/{run.id}:complete", {})[0])

        threads = [threading.Thread(target=terminate) for _ in range(20)] + [threading.Thread(target=complete)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        won = terminates.count(200)
        assert set(terminates) <= {200, 409} and completes[0] in (200, 409)
        assert (won, completes[0]) in ((1, 409), (0, 200)), (terminates, completes)
        if won:
            assert status_of(kfp, run.id) == "Terminating"
            step(server, run.id, "canceled")
        want_kfp, want_native = ("Failed", "CANCELED") if won else ("Succeeded", "SUCCEEDED")
        assert status_of(kfp, run.id) == want_kfp
        assert native(server, "GET", f"/api/v1/runs/{run.id}", role="reader")[1]["state"] == want_native
        events = native(server, "GET", f"/api/v1/runs/{run.id}/events", role="reader")[1]["events"]
        ops = [e["op"] for e in events]
        assert ops.count("cancel") == won and ops.count("complete") == 1 - won and events[-1]["to"] == want_native


# ---- the README's snippet ----

def test_the_readme_snippet_works(server, capsys):
    readme = open(os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "README.md")).read()
    section = readme.split("### Kubeflow Pipelines", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    code = code.replace("http://127.0.0.1:8080", server.url).replace('name="demo"', f'name="{unique("demo")}"')
    exec(code, {"TOKEN": server.token("writer"), "argo_workflow": json.loads(MANIFEST)})  # noqa: S102
    assert capsys.readouterr().out.strip() == "Pending"
