"""GA4GH TES 1.1 through its own client, py-tes (tes.HTTPClient), against a live provgraph.

py-tes refuses any field TES does not define, at every level, so every answer it reads
here is also a check that provgraph wrote nothing else. Executors act through provgraph's
native run routes (:claim, :heartbeat, :complete, :fail, :error, :canceled), since a TES
client only creates, observes and cancels tasks.
"""
import datetime
import secrets

import pytest
import requests
import tes
from tes.client import append_suffixes_to_url, send_request
from tes.models import ListTasksResponse
from tes.utils import unmarshal

TASK_FIELDS = {"id", "state", "name", "description", "inputs", "outputs", "resources", "executors",
               "volumes", "tags", "logs", "creation_time"}


@pytest.fixture(scope="module")
def client(server):
    return tes.HTTPClient(server.url, token=server.token("writer"))


@pytest.fixture(scope="module")
def native(server):
    """The executor's side: provgraph's native run routes, as the writer token."""
    def op(task_id, name, want=200, token="writer"):
        r = requests.post(f"{server.url}/api/v1/runs/{task_id}:{name}", json={"reason": f"test {name}"},
                          headers={"Authorization": "Bearer " + server.token(token)}, timeout=10)
        assert r.status_code == want, (name, r.status_code, r.text)
        return r.json()
    return op


def raw(server, path, token="reader", method="get", **kw):
    headers = {"Authorization": "Bearer " + server.token(token)} if token else {}
    return requests.request(method, server.url + "/ga4gh/tes/v1" + path, headers=headers, timeout=10, **kw)


def task(name, **kw):
    doc = dict(
        name=name,
        description="aligns reads",
        executors=[tes.Executor(image="bwa:0.7.17", command=["bwa", "mem", "/in/ref.fa"], workdir="/work",
                                env={"THREADS": "4"}, stdout="/out/stdout.txt"),
                   tes.Executor(image="samtools:1.19", command=["samtools", "sort"], ignore_error=True)],
        inputs=[tes.Input(url="s3://bucket/ref.fa", path="/in/ref.fa", name="ref"),
                tes.Input(content="ACGT\n", path="/in/inline.fa")],
        outputs=[tes.Output(url="s3://bucket/out.bam", path="/out/out.bam")],
        resources=tes.Resources(cpu_cores=4, ram_gb=8.5, disk_gb=100, preemptible=False, zones=["eu-west-1a"],
                                backend_parameters={"queue": "fast"}),
        volumes=["/scratch"],
        tags={"team": "genomics", "run name": "first of two"},
    )
    doc.update(kw)
    return tes.Task(**doc)


def when(s):
    t = datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))
    assert t.tzinfo is not None, s
    return t


def test_service_info(server, client):
    info = client.get_service_info()
    assert info.type == {"group": "org.ga4gh", "artifact": "tes", "version": "1.1.0"}
    assert info.id and info.name and info.version and info.organization["name"] and info.organization["url"]
    # Public, like every GA4GH service-info; only under the TES prefix (py-tes falls back
    # to /v1 and /, where nothing must answer).
    assert raw(server, "/service-info", token=None).status_code == 200
    assert requests.get(server.url + "/v1/service-info", timeout=10).status_code == 404


def test_create_answers_exactly_the_id_and_get_views(server, client):
    sent = task("tes-views-" + secrets.token_hex(3))
    r = raw(server, "/tasks", token="writer", method="post", data=sent.as_json())
    assert r.status_code == 200 and set(r.json()) == {"id"}, r.text
    task_id = client.create_task(sent)
    assert isinstance(task_id, str) and "/" in task_id  # a provgraph id, sent raw in paths

    # No view is MINIMAL: id and state only, not even empty extras.
    r = raw(server, "/tasks/" + task_id)
    assert r.status_code == 200 and r.json() == {"id": task_id, "state": "QUEUED"}
    minimal = client.get_task(task_id, "MINIMAL")
    assert (minimal.id, minimal.state, minimal.name, minimal.logs) == (task_id, "QUEUED", None, None)

    basic = client.get_task(task_id, "BASIC")
    assert basic.state == "QUEUED" and basic.name == sent.name and basic.description == sent.description
    assert basic.executors == sent.executors and basic.resources == sent.resources
    assert basic.outputs == sent.outputs and basic.volumes == sent.volumes and basic.tags == sent.tags
    assert basic.inputs[0] == sent.inputs[0] and basic.inputs[1].content is None  # BASIC leaves contents out
    assert basic.logs == [] and basic.creation_time.tzinfo is not None
    assert abs(basic.creation_time - datetime.datetime.now(datetime.timezone.utc)) < datetime.timedelta(minutes=5)
    assert set(raw(server, f"/tasks/{task_id}?view=BASIC").json()) == TASK_FIELDS

    full = client.get_task(task_id, "FULL")
    assert full.inputs == sent.inputs and full.inputs[1].content == "ACGT\n"

    # %2F reaches the same task as the raw '/' py-tes sends.
    assert raw(server, "/tasks/" + task_id.replace("/", "%2F")).json()["id"] == task_id

    # The native API shows the same run: its executor, resources and tags are native
    # fields, and the whole TES document is kept.
    r = requests.get(f"{server.url}/api/v1/runs/{task_id}?view=full",
                     headers={"Authorization": "Bearer " + server.token("reader")}, timeout=10).json()
    assert r["name"] == sent.name and r["kind"] == "task" and r["state"] == "PENDING"
    assert r["spec"]["executor"]["image"] == "bwa:0.7.17" and r["spec"]["executor"]["resources"]["cpu_cores"] == 4
    assert r["tags"] == {"team": "genomics"}  # "run name" is no native tag key; TES keeps it
    assert len(r["spec"]["foreign"]["tes"]["executors"]) == 2


def test_lifecycle_through_the_executor(server, client, native):
    task_id = client.create_task(task("tes-life-" + secrets.token_hex(3)))
    assert client.get_task(task_id, "MINIMAL").state == "QUEUED"
    native(task_id, "claim")
    t = client.get_task(task_id, "BASIC")
    assert t.state == "RUNNING" and len(t.logs) == 1 and t.logs[0].start_time and t.logs[0].end_time is None
    native(task_id, "heartbeat")
    assert client.get_task(task_id).state == "RUNNING"
    native(task_id, "complete")
    done = client.wait(task_id, timeout=10)
    assert done.state == "COMPLETE"
    t = client.get_task(task_id, "FULL")
    log = t.logs[0]
    assert log.start_time <= log.end_time and log.start_time.tzinfo is not None
    claimed = requests.get(f"{server.url}/api/v1/runs/{task_id}", timeout=10,
                           headers={"Authorization": "Bearer " + server.token("reader")}).json()["executor"]
    assert log.metadata == {"executor": claimed}
    assert [line.split(" ")[1] for line in log.system_logs] == ["create", "claim", "complete"]
    assert log.logs == [] and log.outputs == []
    assert client.get_task(task_id, "BASIC").logs[0].system_logs is None  # BASIC leaves system logs out
    # The PROV export shows the same task: an activity, started and ended, by its executor.
    prov = requests.get(f"{server.url}/api/v1/prov/{task_id}?format=provjson", timeout=10,
                        headers={"Authorization": "Bearer " + server.token("reader")})
    assert prov.status_code == 200, prov.text
    doc = prov.json()
    assert any(k.endswith(task_id) for k in doc.get("activity", {})), doc.get("activity")
    assert doc.get("wasAssociatedWith") and doc.get("wasStartedBy") and doc.get("wasEndedBy"), sorted(doc)

    failed = client.create_task(task("tes-fail-" + secrets.token_hex(3)))
    native(failed, "claim")
    native(failed, "fail")
    assert client.get_task(failed).state == "EXECUTOR_ERROR"
    errored = client.create_task(task("tes-error-" + secrets.token_hex(3)))
    native(errored, "error")
    assert client.get_task(errored).state == "SYSTEM_ERROR"


def test_cancel_in_each_state(server, client, native):
    queued = client.create_task(task("tes-cancel-q-" + secrets.token_hex(3)))
    assert client.cancel_task(queued) is None
    t = client.get_task(queued, "BASIC")
    assert t.state == "CANCELED"
    assert t.logs[0].start_time == t.logs[0].end_time  # ended without running

    running = client.create_task(task("tes-cancel-r-" + secrets.token_hex(3)))
    native(running, "claim")
    client.cancel_task(running)
    assert client.get_task(running).state == "CANCELING"
    assert client.wait(running, timeout=10).state == "CANCELING"  # py-tes stops waiting here
    client.cancel_task(running)  # still canceling: no error, nothing changes
    native(running, "complete", want=409)  # the cancel won; only the acknowledgement ends it
    native(running, "canceled")
    assert client.get_task(running).state == "CANCELED"

    # An ended task refuses, in TES's error shape, and keeps its state.
    for ended in (queued, running):
        with pytest.raises(requests.HTTPError) as e:
            client.cancel_task(ended)
        assert e.value.response.status_code == 400
        body = e.value.response.json()
        assert body["code"] == 9 and body["message"] == body["error"] and "CANCELED" in body["message"]
        assert client.get_task(ended).state == "CANCELED"
    done = client.create_task(task("tes-cancel-d-" + secrets.token_hex(3)))
    native(done, "claim")
    native(done, "complete")
    with pytest.raises(requests.HTTPError):
        client.cancel_task(done)
    assert client.get_task(done).state == "COMPLETE"
    # A reader may not cancel.
    reader = tes.HTTPClient(server.url, token=server.token("reader"))
    other = client.create_task(task("tes-cancel-x-" + secrets.token_hex(3)))
    with pytest.raises(requests.HTTPError) as e:
        reader.cancel_task(other)
    assert e.value.response.status_code == 403
    assert client.get_task(other).state == "QUEUED"


def list_tasks(client, **params):
    """ListTasks with the TES 1.1 filters, through py-tes's own request path."""
    kwargs = client._request_params(params={k: v for k, v in params.items() if v is not None})
    paths = append_suffixes_to_url(client.urls, ["/tasks"])
    return unmarshal(send_request(paths=paths, kwargs_requests=kwargs).json(), ListTasksResponse)


def test_list_filters_and_pages(server, client, native):
    prefix = "tes-list-" + secrets.token_hex(3) + "-"
    ids = {}
    for i, (group, team) in enumerate([("odd", "x"), ("even", "x"), ("odd", "y"), ("even", "y"), ("odd", "x")]):
        ids[i] = client.create_task(task(prefix + str(i), tags={"group": group, "team": team, "my team": team}))
    native(ids[0], "claim")
    native(ids[4], "claim")
    native(ids[4], "complete")

    def names(resp):
        return sorted(t.name for t in resp.tasks)

    got = list_tasks(client, name_prefix=prefix, view="BASIC")
    assert names(got) == [prefix + str(i) for i in range(5)] and got.next_page_token is None
    assert names(list_tasks(client, name_prefix=prefix, state="QUEUED", view="BASIC")) == [prefix + s for s in "123"]
    assert names(list_tasks(client, name_prefix=prefix, state="RUNNING", view="BASIC")) == [prefix + "0"]
    assert names(list_tasks(client, name_prefix=prefix, state="COMPLETE", view="BASIC")) == [prefix + "4"]
    # Tags: pairs zipped in order, all must match; a key without a value is any value;
    # keys that are no native tag ("my team") filter as well.
    assert names(list_tasks(client, name_prefix=prefix, tag_key=["team", "group"], tag_value=["x", "odd"],
                            view="BASIC")) == [prefix + "0", prefix + "4"]
    assert names(list_tasks(client, name_prefix=prefix, tag_key=["my team", "group"], tag_value=["y", "even"],
                            view="BASIC")) == [prefix + "3"]
    assert len(list_tasks(client, name_prefix=prefix, tag_key=["group"]).tasks) == 5
    assert len(list_tasks(client, name_prefix=prefix, tag_key=["colour"]).tasks) == 0
    assert list_tasks(client, name_prefix=prefix + "nothing").tasks == []

    # MINIMAL is the default: id and state only.
    r = raw(server, "/tasks", params={"name_prefix": prefix})
    assert r.status_code == 200 and all(set(t) == {"id", "state"} for t in r.json()["tasks"])
    full = list_tasks(client, name_prefix=prefix, view="FULL")
    assert all(t.inputs[1].content == "ACGT\n" for t in full.tasks)

    # Pages: at most page_size each, every task once, no empty page naming a next one,
    # with and without a filter the facade applies (tag_key without value).
    for extra in ({}, {"tag_key": ["group"]}, {"tag_key": ["group"], "tag_value": ["odd"]}):
        seen, token, pages = [], None, 0
        while True:
            page = list_tasks(client, name_prefix=prefix, page_size=2, page_token=token, **extra)
            pages += 1
            assert 0 < len(page.tasks) <= 2 or (page.next_page_token is None and pages == 1)
            seen += [t.id for t in page.tasks]
            token = page.next_page_token
            if token is None:
                break
        want = 3 if extra.get("tag_value") else 5
        assert len(seen) == len(set(seen)) == want, (extra, seen)
        assert pages == (want + 1) // 2
    # The plain client call reads every task there is, each valid TES whatever API made it.
    first = client.list_tasks(view="BASIC", page_size=20)
    assert len(first.tasks) <= 20
    # A token is refused with other filters, or forged.
    page = list_tasks(client, name_prefix=prefix, page_size=2)
    with pytest.raises(requests.HTTPError) as e:
        list_tasks(client, name_prefix=prefix, page_size=3, page_token=page.next_page_token)
    assert e.value.response.status_code == 400
    with pytest.raises(requests.HTTPError):
        list_tasks(client, page_token="forged")


def test_errors(server, client):
    with pytest.raises(requests.HTTPError) as e:
        client.create_task(tes.Task(name="no executors"))
    r = e.value.response
    assert r.status_code == 400 and r.url.endswith("/ga4gh/tes/v1/tasks")
    body = r.json()
    assert body["code"] == 3 and "executors" in body["message"]
    assert body["details"][0]["fieldViolations"][0]["field"] == "executors"

    def status(path, token="writer", method="get", **kw):
        return raw(server, path, token=token, method=method, **kw).status_code

    assert status("/tasks", method="post", data='{"executors": [{"image": "x", "command": ["y"]}], "colour": "red"}') == 400
    assert status("/tasks", method="post", data='{"executors": [{"image": "x", "command": []}]}') == 400
    assert status("/tasks", method="post", data='{"executors": [{"image": "x", "command": ["y"]}], "resources": {"cpu_cores": 1.5}}') == 400
    assert status("/tasks", method="post", data='{"executors": [{"image": "x", "command": ["y"]}], "resources": {"cpu_cores": "2"}}') == 200
    assert status("/tasks", method="post", data="[1,") == 400
    assert status("/tasks", token="reader", method="post", data='{"executors": [{"image": "x", "command": ["y"]}]}') == 403
    assert status("/tasks", token=None) == 401
    assert status("/tasks?state=BOGUS") == 400
    assert status("/tasks?page_size=2048") == 400
    assert status("/tasks?colour=red") == 400
    with pytest.raises(requests.HTTPError) as e:
        client.get_task("local/01JNOTATASK0000000000000000")
    assert e.value.response.status_code == 404
    task_id = client.create_task(task("tes-err-" + secrets.token_hex(3)))
    assert status(f"/tasks/{task_id}?view=EVERYTHING") == 400
    # provgraph takes bearer tokens only: basic auth is 401, in TES's shape.
    with pytest.raises(requests.HTTPError) as e:
        tes.HTTPClient(server.url, user="someone", password="secret").get_task(task_id)
    assert e.value.response.status_code == 401 and e.value.response.json()["code"] == 16
    # Nothing answers where py-tes falls back (/v1/tasks, /tasks).
    for path in ("/v1/tasks", "/tasks", f"/v1/tasks/{task_id}", f"/tasks/{task_id}"):
        assert requests.get(server.url + path, headers={"Authorization": "Bearer " + server.token("reader")},
                            timeout=10).status_code == 404, path
