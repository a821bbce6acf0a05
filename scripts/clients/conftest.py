"""A live provgraph for the foreign clients' tests: bin/provgraph serve on a free loopback
port, against the Neo4j the rest of `make test` uses (PROVGRAPH_NEO4J_URI), under an id
prefix of its own, with local tokens of every role. The real clients (pinned in
requirements.txt) are pointed at it exactly as a user would point them at their system.
"""
import os
import secrets
import socket
import subprocess
import tempfile
import time
import urllib.request

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, "bin", "provgraph")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A running server: its base URL and a token of each role."""

    def __init__(self, url, tokens, env):
        self.url = url
        self.tokens = tokens
        self.env = env

    def token(self, role="writer"):
        return self.tokens[role]


@pytest.fixture(scope="session")
def server():
    work = tempfile.mkdtemp(prefix="provgraph-clients-")
    port = free_port()
    env = dict(os.environ)
    env.update({
        "PROVGRAPH_ADDR": f"127.0.0.1:{port}",
        "PROVGRAPH_NEO4J_URI": os.environ.get("PROVGRAPH_NEO4J_URI", "bolt://127.0.0.1:7687"),
        "PROVGRAPH_TOKEN_FILE": os.path.join(work, "tokens.json"),
        "PROVGRAPH_ARTIFACT_DIR": os.path.join(work, "artifacts"),
        "PROVGRAPH_ID_PREFIX": "clients" + secrets.token_hex(3),
        "PROVGRAPH_LOG_LEVEL": "warn",
    })
    tokens = {}
    for role in ("reader", "writer", "admin"):
        out = subprocess.run([BIN, "token", "create", "--role", role, "--name", "clients-" + role],
                             env=env, check=True, capture_output=True, text=True)
        tokens[role] = out.stdout.strip().split()[-1]
    log = open(os.path.join(work, "server.log"), "w")
    proc = subprocess.Popen([BIN, "serve", "--first-admin-token=false"], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while True:
        try:
            with urllib.request.urlopen(url + "/readyz", timeout=2) as res:
                if res.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            log.close()
            raise RuntimeError("provgraph did not become ready:\n" + open(log.name).read()[-4000:])
        time.sleep(0.2)
    try:
        yield Server(url, tokens, env)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
