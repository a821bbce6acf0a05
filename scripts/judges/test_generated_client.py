"""A Python client generated from /openapi.json by openapi-python-client, a generator we
did not write, registers a model run and reads its PROV: the document is complete enough
to build a working client from, types and all."""
import importlib
import json
import os
import subprocess
import sys
import urllib.request

from prov.model import ProvDocument

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from apiserver import Server  # noqa: E402


def generate(url, into):
    """Generates the package pgclient under into from the server's document, fetched
    without a token as any generator would."""
    with urllib.request.urlopen(url + "/openapi.json", timeout=30) as r:
        doc = r.read()
    spec = os.path.join(into, "openapi.json")
    with open(spec, "wb") as f:
        f.write(doc)
    config = os.path.join(into, "config.json")
    with open(config, "w") as f:
        json.dump({"post_hooks": [], "project_name_override": "pgclient", "package_name_override": "pgclient"}, f)
    gen = os.path.join(os.path.dirname(sys.executable), "openapi-python-client")
    p = subprocess.run([gen, "generate", "--path", spec, "--meta", "none", "--config", config,
                        "--output-path", os.path.join(into, "pgclient")], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    # The only operations it may leave out are those whose bodies it has no type for.
    skipped = [line for line in p.stdout.splitlines() if "will not be generated" in line]
    assert all(":csv" in line for line in skipped), p.stdout
    sys.path.insert(0, into)
    importlib.invalidate_caches()
    return importlib.import_module("pgclient")


def test_generated_client_registers_a_model_run_and_reads_its_prov(tmp_path):
    with Server("client") as srv:
        pg = generate(srv.url, str(tmp_path))
        m = importlib.import_module("pgclient.models")
        c = pg.AuthenticatedClient(base_url=srv.url, token=srv.token, raise_on_unexpected_status=True)

        def api(tag, op):
            return importlib.import_module(f"pgclient.api.{tag}.{op}")

        def create(tag, op, model, doc):
            resp = api(tag, op).sync_detailed(client=c, body=model.from_dict(doc))
            assert resp.status_code == 201, (op, resp.status_code, resp.content)
            rec = resp.parsed
            assert isinstance(rec, m.Record), rec
            assert rec.id.startswith(srv.prefix + "/")
            return rec.id

        org = create("organisations", "post_api_v1_organisations", m.Organisation,
                     {"display_name": "CSIRO", "name": "Commonwealth Scientific and Industrial Research Organisation"})
        modeller = create("people", "post_api_v1_people", m.Person,
                          {"display_name": "Mira Okafor", "first_name": "Mira", "last_name": "Okafor", "email": "mira@example.org"})
        model = create("models", "post_api_v1_models", m.Model,
                       {"display_name": "ReefSim", "name": "reefsim", "description": "a coral model",
                        "documentation_url": "https://example.org/docs", "source_url": "https://example.org/src"})
        tmpl = create("dataset_templates", "post_api_v1_dataset_templates", m.DatasetTemplate,
                      {"display_name": "Reef state", "deferred_resources": [{"key": "cover", "usage_type": "GENERAL_DATA"}]})
        workflow = create("workflow_templates", "post_api_v1_workflow_templates", m.WorkflowTemplate,
                          {"display_name": "One year", "software_id": model,
                           "input_templates": [{"template_id": tmpl}], "output_templates": [{"template_id": tmpl}]})

        def dataset(name):
            return create("datasets", "post_api_v1_datasets", m.Dataset,
                          {"display_name": name, "name": name, "description": "reef state", "location": "s3://reef/" + name,
                           "license": "https://creativecommons.org/licenses/by/4.0/", "publisher_id": org,
                           "created_date": "2025-01-15", "published_date": "2025-01-15"})

        before, after = dataset("reef-2024"), dataset("reef-2025")
        study = create("studies", "post_api_v1_studies", m.Study, {"title": "Reef futures", "description": "projections"})
        run = create("model_runs", "post_api_v1_model_runs", m.ModelRun, {
            "workflow_template_id": workflow, "study_id": study,
            "display_name": "ReefSim 2025", "description": "one-year projection",
            "inputs": [{"dataset_template_id": tmpl, "dataset_id": before, "resources": {"cover": "cover.parquet"}}],
            "outputs": [{"dataset_template_id": tmpl, "dataset_id": after, "resources": {"cover": "cover.parquet"}}],
            "associations": {"modeller_id": modeller, "requesting_organisation_id": org},
            "start_time": "2025-02-03T09:00:00Z", "end_time": "2025-02-03T14:20:00Z"})

        got = api("model_runs", "get_api_v1_model_runs_id").sync(run, client=c)
        assert isinstance(got, m.Record) and got.id == run and got.version == 1, got

        prov = api("prov", "get_api_v1_prov_id").sync_detailed(run, client=c, format_=m.GetApiV1ProvIdFormat.PROVJSON)
        assert prov.status_code == 200, prov.content
        # The python prov package reads what the typed client received.
        doc = ProvDocument.deserialize(content=json.dumps(prov.parsed.to_dict()), format="json")
        activities = [r for r in doc.get_records() if r.get_type().localpart == "Activity"]
        assert any(str(a.identifier).endswith(run.split("/", 1)[1]) for a in activities), doc.get_provn()
        used = {str(r.args[1]) for r in doc.get_records() if r.get_type().localpart == "Usage"}
        assert any(u.endswith(before.split("/", 1)[1]) for u in used), doc.get_provn()

        # An error arrives typed too.
        missing = api("model_runs", "get_api_v1_model_runs_id").sync(srv.prefix + "/01J0000000000000000000000A", client=c)
        assert isinstance(missing, m.Error) and missing.error.code == m.ErrorErrorCode.NOT_FOUND, missing
