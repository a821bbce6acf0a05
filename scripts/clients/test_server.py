"""The fixture itself: a live server that answers with every role's token."""
import json
import urllib.request


def test_server_answers_each_role(server):
    for role in ("reader", "writer", "admin"):
        req = urllib.request.Request(server.url + "/api/v1/runs?page_size=1",
                                     headers={"Authorization": "Bearer " + server.token(role)})
        with urllib.request.urlopen(req, timeout=10) as res:
            assert res.status == 200
            assert "runs" in json.load(res)
