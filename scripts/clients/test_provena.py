"""Provena, driven by its real client (provenaclient 0.26.0 with provena-interfaces 2.10.3,
in a venv of its own: they need pydantic 1) against a live provgraph, with a static token
(an AuthManager subclass, as the client's docs allow): registration through the job API,
batches, updates visible in the registry's history, lineage with Provena's subtypes, the
registry reads around model runs, and delete. The client parses every answer with
provena-interfaces' models; where it would fall back silently (a fetch's item is
Union[Item…, SeededItem]), the tests check the specific model.
"""
import asyncio
import csv
import io
import json
import secrets
import urllib.error
import urllib.request

import pytest
from provenaclient import Config, ProvenaClient
from provenaclient.auth.manager import AuthManager
from provenaclient.utils.config import APIOverrides
from provenaclient.utils.exceptions import AuthException, BadRequestException, NotFoundException
from ProvenaInterfaces.AsyncJobAPI import ListByBatchRequest, ListJobsRequest
from ProvenaInterfaces.AsyncJobModels import ProvLodgeBatchSubmitResult, ProvLodgeModelRunResult, ProvLodgeUpdateResult
from ProvenaInterfaces.ProvenanceAPI import GenerateReportRequest, RegisterBatchModelRunRequest
from ProvenaInterfaces.ProvenanceModels import AssociationInfo, ModelRunRecord, TemplatedDataset
from ProvenaInterfaces.RegistryAPI import GeneralListRequest
from ProvenaInterfaces.RegistryModels import (ItemDatasetTemplate, ItemModel, ItemModelRun, ItemModelRunWorkflowTemplate,
                                             ItemOrganisation, ItemPerson, ItemStudy)


def run(coro):
    return asyncio.run(coro)


class StaticToken(AuthManager):
    """A provgraph bearer token: no Keycloak."""

    def __init__(self, token):
        super().__init__()
        self.token = token

    def get_token(self):
        return self.token

    def force_refresh(self):
        pass


def client(server, role):
    url = server.url
    return ProvenaClient(auth=StaticToken(server.token(role)), config=Config(
        domain="provgraph.invalid", realm_name="provgraph",
        api_overrides=APIOverrides(prov_api_endpoint_override=url, registry_api_endpoint_override=url,
                                   jobs_service_api_endpoint_override=url, datastore_api_endpoint_override=url)))


def native(server, path, body):
    req = urllib.request.Request(server.url + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"Authorization": "Bearer " + server.token("writer"), "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as res:
        return json.loads(res.read())


@pytest.fixture(scope="module")
def world(server):
    """The records a model run names, made through the native API."""
    tag = secrets.token_hex(3)
    w = {"tag": tag}
    w["org"] = native(server, "/api/v1/organisations", {"display_name": "Reef institute " + tag, "name": "Reef Institute", "ror": "https://ror.org/03qn8fb07"})["id"]
    w["person"] = native(server, "/api/v1/people", {"display_name": "Ada " + tag, "first_name": "Ada", "last_name": "Modeller", "email": "ada@example.org"})["id"]
    w["model"] = native(server, "/api/v1/models", {"display_name": "Coral model", "name": "coral", "description": "a coral model",
                                                   "documentation_url": "https://example.org/doc", "source_url": "https://example.org/src"})["id"]
    w["study"] = native(server, "/api/v1/studies", {"title": "Reef study " + tag, "description": "runs for the Provena client test"})["id"]
    tmpl = {"display_name": "forcing", "description": "forcing data",
            "deferred_resources": [{"key": "data", "usage_type": "FORCING_DATA"}]}
    w["tin"] = native(server, "/api/v1/dataset-templates", tmpl)["id"]
    w["tout"] = native(server, "/api/v1/dataset-templates", dict(tmpl, display_name="output"))["id"]
    w["workflow"] = native(server, "/api/v1/workflow-templates", {
        "display_name": "Coral workflow", "software_id": w["model"],
        "input_templates": [{"template_id": w["tin"]}], "output_templates": [{"template_id": w["tout"]}],
        "annotations": {"required": ["scenario"], "optional": []}})["id"]
    w["datasets"] = [native(server, "/api/v1/datasets", {
        "display_name": f"dataset {i}", "name": f"ds-{tag}-{i}", "description": "a dataset", "location": f"s3://reef/{tag}/{i}/",
        "license": "https://creativecommons.org/licenses/by/4.0/", "publisher_id": w["org"],
        "created_date": "2025-01-01", "published_date": "2025-01-02"})["id"] for i in range(6)]
    return w


def record(w, i, o, name="coral run"):
    return ModelRunRecord(
        workflow_template_id=w["workflow"], model_version="1.0",
        inputs=[TemplatedDataset(dataset_template_id=w["tin"], dataset_id=w["datasets"][i], dataset_type="DATA_STORE", resources={"data": "in.nc"})],
        outputs=[TemplatedDataset(dataset_template_id=w["tout"], dataset_id=w["datasets"][o], dataset_type="DATA_STORE", resources={"data": "out.nc"})],
        annotations={"scenario": "ssp245"}, display_name=name, description="a run registered by the Provena client",
        study_id=w["study"], associations=AssociationInfo(modeller_id=w["person"], requesting_organisation_id=w["org"]),
        start_time=1735689600, end_time=1735693200)


@pytest.fixture(scope="module")
def registered(server, world):
    """One run registered through the client, its job awaited."""
    c = client(server, "writer")
    res = run(c.prov_api.register_model_run(record(world, 0, 1)))
    assert res.status.success and res.session_id
    job = run(c.job_api.await_successful_job_completion(res.session_id))
    return res.session_id, job


def nodes(graph):
    """A lineage graph's nodes (the client's CustomGraph), id → subtype."""
    return {n.id: n.item_subtype.value for n in graph.nodes}


def test_health(server):
    assert run(client(server, "reader").prov_api.get_health_check()).message


def test_register_is_an_ended_job(server, world, registered):
    sid, job = registered
    assert job.status.value == "SUCCEEDED" and job.job_sub_type.value == "MODEL_RUN_PROV_LODGE" and job.job_type.value == "PROV_LODGE"
    result = ProvLodgeModelRunResult.parse_obj(job.result)
    assert result.record.id.startswith(server.env["PROVGRAPH_ID_PREFIX"] + "/")
    assert result.record.record.inputs[0].dataset_id == world["datasets"][0]
    assert result.record.record.inputs[0].dataset_type.value == "DATA_STORE"
    assert json.loads(result.record.prov_json)  # the PROV-JSON as a string
    # The job is the writer's: the reader neither fetches nor lists it.
    fetched = run(client(server, "writer").job_api.fetch_job(sid)).job
    assert fetched.session_id == sid and fetched.result == job.result
    with pytest.raises(AuthException):
        run(client(server, "reader").job_api.fetch_job(sid))
    assert sid not in [j.session_id for j in run(client(server, "reader").job_api.list_all_jobs(ListJobsRequest(limit=5)))]
    with pytest.raises(BadRequestException):
        run(client(server, "writer").job_api.fetch_job("no-such-session"))


def test_list_jobs_pages(server, world, registered):
    c = client(server, "writer")
    extra = [run(c.prov_api.register_model_run(record(world, 2, 3, name=f"paged {i}"))).session_id for i in range(2)]
    first = run(c.job_api.list_jobs(ListJobsRequest(limit=2)))
    assert [j.session_id for j in first.jobs] == extra[::-1] and first.pagination_key
    everything = run(c.job_api.list_all_jobs(ListJobsRequest(limit=1)))
    ids = [j.session_id for j in everything]
    assert ids[:2] == extra[::-1] and registered[0] in ids and len(ids) == len(set(ids))


def test_lineage_subtypes(server, world, registered):
    c = client(server, "reader")
    run_id = ProvLodgeModelRunResult.parse_obj(registered[1].result).record.id
    inp, out = world["datasets"][0], world["datasets"][1]
    up = run(c.prov_api.explore_upstream(out, depth=2))
    got = nodes(up.graph)
    assert got[out] == "DATASET" and got[run_id] == "MODEL_RUN" and got[inp] == "DATASET" and got[world["person"]] == "PERSON"
    assert got[world["workflow"]] == "MODEL_RUN_WORKFLOW_TEMPLATE" and got[world["study"]] == "STUDY"
    assert up.record_count == len(up.graph.nodes)
    assert all(n.item_category.value in ("ACTIVITY", "AGENT", "ENTITY") for n in up.graph.nodes)
    assert ("wasGeneratedBy", out, run_id) in [(l.type, l.source, l.target) for l in up.graph.links]
    assert not any(i.startswith("agents/") for i in got)  # provgraph's User nodes are not Provena items
    down = nodes(run(c.prov_api.explore_downstream(inp, depth=2)).graph)
    assert down[run_id] == "MODEL_RUN" and down[out] == "DATASET"
    assert inp in nodes(run(c.prov_api.get_contributing_datasets(out)).graph)
    assert out in nodes(run(c.prov_api.get_effected_datasets(inp)).graph)
    assert nodes(run(c.prov_api.get_contributing_agents(out)).graph).get(world["person"]) == "PERSON"
    effected = nodes(run(c.prov_api.get_effected_agents(inp)).graph)
    effected.pop(inp)  # the start of the walk
    assert set(effected.values()) <= {"PERSON", "ORGANISATION"} and world["person"] in effected
    with pytest.raises(NotFoundException):
        run(c.prov_api.explore_upstream(world["datasets"][0][:-5] + "ZZZZZ"))
    with pytest.raises(BadRequestException):
        run(c.prov_api.explore_upstream(out, depth=11))


def test_batch(server, world):
    c = client(server, "writer")
    bad = record(world, 4, 5)
    bad.inputs[0].dataset_id = world["datasets"][4][:-5] + "ZZZZZ"
    res = run(c.prov_api.register_batch_model_runs(RegisterBatchModelRunRequest(records=[record(world, 4, 5, "batch a"), bad, record(world, 4, 5, "batch b")])))
    job = run(c.job_api.await_successful_job_completion(res.session_id))
    assert job.job_sub_type.value == "MODEL_RUN_BATCH_SUBMIT"
    batch = ProvLodgeBatchSubmitResult.parse_obj(job.result).batch_id
    jobs = run(c.job_api.list_all_jobs_in_batch(ListByBatchRequest(batch_id=batch, limit=2)))
    assert len(jobs) == 3 and all(j.batch_id == batch and j.job_sub_type.value == "MODEL_RUN_PROV_LODGE" for j in jobs)
    states = sorted(j.status.value for j in jobs)
    assert states == ["FAILED", "SUCCEEDED", "SUCCEEDED"]
    failed = next(j for j in jobs if j.status.value == "FAILED")
    assert "ZZZZZ" in failed.info and failed.result is None
    names = {ProvLodgeModelRunResult.parse_obj(j.result).record.record.display_name for j in jobs if j.result}
    assert names == {"batch a", "batch b"}
    # The batch read back as CSV, with its jobs' states; read again, every row is a known job.
    text = run(c.prov_api.regenerate_csv_from_model_run_batch(batch))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["display name"] for r in rows] == ["batch a", "coral run", "batch b"]
    assert [r["_job_status"] for r in rows] == ["SUCCEEDED", "FAILED", "SUCCEEDED"]
    assert rows[0]["_model_run_record_id"] and not rows[1]["_model_run_record_id"] and "ZZZZZ" in rows[1]["_error_info"]
    again = run(c.prov_api.convert_model_runs(text))
    assert sorted(again.existing_records) == sorted(j.session_id for j in jobs) and not again.new_records


def test_csv_round_trip(server, world):
    c = client(server, "writer")
    text = run(c.prov_api.generate_csv_template(world["workflow"]))
    header = next(csv.reader(io.StringIO(text)))
    assert header[0] == "_workflow template id " + world["workflow"]
    assert header[1:8] == ["display name", "description", "model version (optional)", "agent id", "study id",
                           "execution start time (YYYY-MM-DD HH:MM:SS+HH:MM)", "execution end time (YYYY-MM-DD HH:MM:SS+HH:MM)"]
    assert f"Input dataset id for template: forcing [template id: {world['tin']}]" in header
    assert "Input resource: data" in header and "annotation: scenario" in header
    assert header[-4:] == ["_job_id", "_job_status", "_model_run_record_id", "_error_info"]
    want = [record(world, 0, 1, "csv one"), record(world, 2, 3, "csv two")]
    want[1].study_id = None
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=header + ["my notes"])
    w.writeheader()
    for r in want:
        w.writerow({"display name": r.display_name, "description": r.description, "model version (optional)": r.model_version,
                    "agent id": r.associations.modeller_id, "study id": r.study_id or "",
                    "execution start time (YYYY-MM-DD HH:MM:SS+HH:MM)": "2025-01-01 10:00:00+10:00",
                    "execution end time (YYYY-MM-DD HH:MM:SS+HH:MM)": "2025-01-01 11:00:00+10:00",
                    f"Input dataset id for template: forcing [template id: {world['tin']}]": r.inputs[0].dataset_id,
                    "Input resource: data": "in.nc", "Output resource: data": "out.nc",
                    f"Output dataset id for template: output [template id: {world['tout']}]": r.outputs[0].dataset_id,
                    "annotation: scenario": "ssp245", "my notes": "ignored"})
    conv = run(c.prov_api.convert_model_runs(out.getvalue()))
    assert conv.existing_records == [] and conv.warnings == ["Extra column with header 'my notes' provided, ignoring"]
    for r in want:
        r.associations.requesting_organisation_id = None  # the CSV has no organisation column
    assert conv.new_records == want
    with pytest.raises(BadRequestException):
        run(c.prov_api.convert_model_runs("display name,description\nx,y\n"))


def test_update_and_registry_history(server, world, registered):
    c = client(server, "writer")
    run_id = ProvLodgeModelRunResult.parse_obj(registered[1].result).record.id
    changed = record(world, 0, 1)
    changed.description = "recalibrated"
    res = run(c.prov_api.update_model_run(run_id, "recalibration", changed))
    job = run(c.job_api.await_successful_job_completion(res.session_id))
    assert job.job_sub_type.value == "MODEL_RUN_UPDATE"
    assert ProvLodgeUpdateResult.parse_obj(job.result).record.record.description == "recalibrated"
    item = run(c.registry.model_run.fetch(run_id)).item
    assert isinstance(item, ItemModelRun), type(item)
    assert item.record.description == "recalibrated" and item.record_status.value == "LODGED"
    assert item.record.inputs[0].dataset_type.value == "DATA_STORE" and json.loads(item.prov_serialisation)
    assert sorted(h.id for h in item.history) == [1, 2]
    newest = max(item.history, key=lambda h: h.id)
    assert newest.reason == "recalibration" and newest.item.record.description == "recalibrated"
    with pytest.raises(BadRequestException):
        run(c.prov_api.update_model_run(world["datasets"][0][:-5] + "ZZZZZ", "no such run", changed))


def test_registry_reads(server, world, registered):
    c = client(server, "reader")
    for sub, key, model in [(c.registry.person, "person", ItemPerson), (c.registry.organisation, "org", ItemOrganisation),
                            (c.registry.model, "model", ItemModel), (c.registry.study, "study", ItemStudy),
                            (c.registry.model_run_workflow, "workflow", ItemModelRunWorkflowTemplate),
                            (c.registry.dataset_template, "tin", ItemDatasetTemplate)]:
        item = run(sub.fetch(world[key])).item
        assert isinstance(item, model), (key, type(item))
        assert item.id == world[key] and item.record_type.value == "COMPLETE_ITEM" and item.history
    assert run(c.registry.study.fetch(world["study"])).item.display_name == "Reef study " + world["tag"]
    run_id = ProvLodgeModelRunResult.parse_obj(registered[1].result).record.id
    general = run(c.registry.general_fetch_item(run_id)).item
    assert general["item_subtype"] == "MODEL_RUN" and ItemModelRun.parse_obj(general).id == run_id
    # Newest first, as Provena lists; the shared database may hold others' runs, so page on.
    found, key = False, None
    for _ in range(20):
        listed = run(c.registry.model_run.list_items(GeneralListRequest(page_size=10, pagination_key=key)))
        assert listed.items and all(isinstance(i, ItemModelRun) for i in listed.items)
        found = found or run_id in [i.id for i in listed.items]
        key = listed.pagination_key
        if found or not key:
            break
    assert found
    with pytest.raises(Exception):
        run(c.registry.person.fetch(world["person"][:-5] + "ZZZZZ"))


def test_delete(server, world):
    c = client(server, "writer")
    res = run(c.prov_api.register_model_run(record(world, 2, 5, "to delete")))
    run_id = ProvLodgeModelRunResult.parse_obj(run(c.job_api.await_successful_job_completion(res.session_id)).result).record.id
    admin = client(server, "admin")
    with pytest.raises(Exception):  # a writer may not delete
        run(c.prov_api.admin.delete_model_run_provenance(run_id, trial_mode=True))
    trial = run(admin.prov_api.admin.delete_model_run_provenance(run_id, trial_mode=True))
    assert trial.diff and trial.diff[0]["id"] == run_id
    assert run_id in nodes(run(c.prov_api.explore_upstream(world["datasets"][5], depth=1)).graph)
    diff = run(admin.prov_api.admin.delete_model_run_provenance_and_registry(run_id))
    assert any(d.get("source") == world["datasets"][5] and d.get("target") == run_id for d in diff.diff)
    with pytest.raises(Exception):
        run(c.registry.model_run.fetch(run_id))
    with pytest.raises(Exception):  # gone from the model-run list too
        run(admin.prov_api.admin.delete_model_run_provenance(run_id, trial_mode=True))
    world["deleted"] = run_id


def test_deleted_run_leaves_lineage(server, world):
    if "deleted" not in world:
        pytest.skip("test_delete did not run")
    c = client(server, "reader")
    assert world["deleted"] not in nodes(run(c.prov_api.explore_upstream(world["datasets"][5], depth=2)).graph)
    assert world["deleted"] not in nodes(run(c.prov_api.explore_downstream(world["datasets"][2], depth=2)).graph)
    with pytest.raises(NotFoundException):  # its own lineage is history now
        run(c.prov_api.explore_upstream(world["deleted"]))


def test_errors_are_fastapi_shaped(server, world):
    c = client(server, "writer")
    bad = record(world, 0, 1)
    bad.associations.modeller_id = world["person"][:-5] + "ZZZZZ"
    with pytest.raises(BadRequestException):
        run(c.prov_api.register_model_run(bad))
    spaced = record(world, 0, 1)
    spaced.annotations = {"scenario": "ssp245", "run notes": "x"}  # Provena allows spaces; no template can declare one here
    with pytest.raises(BadRequestException):
        run(c.prov_api.register_model_run(spaced))
    unversioned = record(world, 0, 1, "no version")
    unversioned.model_version = ""
    job = run(c.job_api.await_successful_job_completion(run(c.prov_api.register_model_run(unversioned)).session_id))
    assert ProvLodgeModelRunResult.parse_obj(job.result).record.record.model_version is None
    req = urllib.request.Request(server.url + "/model_run/register", data=b'{"display_name": 3}', method="POST",
                                 headers={"Authorization": "Bearer " + server.token("writer"), "Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=30)
    assert e.value.code == 422 and isinstance(json.loads(e.value.read())["detail"], list)


def test_report_is_a_docx(server, world, registered, tmp_path):
    import docx
    c = client(server, "reader")
    run_id = ProvLodgeModelRunResult.parse_obj(registered[1].result).record.id
    run(c.prov_api.generate_report(GenerateReportRequest(id=world["study"], item_subtype="STUDY", depth=2), str(tmp_path) + "/"))
    path = tmp_path / (world["study"].replace("/", "_") + " - Study Close Out Report.docx")
    d = docx.Document(str(path))
    text = "\n".join(p.text for p in d.paragraphs)
    cells = " ".join(cell.text for t in d.tables for row in t.rows for cell in row.cells)
    assert "Study Close Out Report" in text and "Reef study " + world["tag"] in text
    assert "Model run: coral run" in text and run_id in cells
    assert world["datasets"][0] in cells and world["datasets"][1] in cells  # its input and output
    run(c.prov_api.generate_report(GenerateReportRequest(id=run_id, item_subtype="MODEL_RUN", depth=1), str(tmp_path) + "/"))
    one = docx.Document(str(tmp_path / (run_id.replace("/", "_") + " - Study Close Out Report.docx")))
    assert any(p.text == "Model run: coral run" for p in one.paragraphs)
    with pytest.raises(BadRequestException):
        run(c.prov_api.generate_report(GenerateReportRequest(id=world["datasets"][0], item_subtype="STUDY", depth=1), str(tmp_path) + "/"))


def test_admin_relodge_and_config(server, world):
    c, admin = client(server, "writer"), client(server, "admin")
    res = run(c.prov_api.register_model_run(record(world, 3, 4, "to re-lodge")))
    run_id = ProvLodgeModelRunResult.parse_obj(run(c.job_api.await_successful_job_completion(res.session_id)).result).record.id
    item = run(c.registry.model_run.fetch(run_id)).item
    item.record.description = "re-lodged description"
    assert run(admin.prov_api.admin.store_record(item)).status.success
    again = run(c.registry.model_run.fetch(run_id)).item
    assert again.record.description == "re-lodged description" and len(again.history) == 2
    assert max(again.history, key=lambda h: h.id).reason == "re-lodged through Provena's admin store_record"
    assert run(admin.prov_api.admin.store_multiple_records([again])).status.success
    assert len(run(c.registry.model_run.fetch(run_id)).item.history) == 3
    with pytest.raises(Exception):  # admins only
        run(c.prov_api.admin.store_record(item))
    bad = again.copy(deep=True)
    bad.record.inputs[0].dataset_id = world["datasets"][0][:-5] + "ZZZZZ"
    with pytest.raises(BadRequestException):
        run(admin.prov_api.admin.store_record(bad))
    text = run(admin.prov_api.admin.generate_config_file(required_only=True))
    assert "PROVGRAPH_ID_PREFIX=" + server.env["PROVGRAPH_ID_PREFIX"] in text and "PASSWORD" not in text


def test_datastore_fetch_says_why_not(server, world):
    with pytest.raises(Exception) as e:
        run(client(server, "reader").datastore.fetch_dataset(world["datasets"][0]))
    assert "no Provena data store" in str(e.value)
