"""Starts `provgraph serve` on a free port, under an id prefix of its own, against the
running Neo4j or a private one.

A prefix keeps the ids a test mints apart, but lists still show every record of the
shared graph; a fuzzer that reads ids from lists and then deletes, restricts or cancels
them with an admin token would disturb other tests, so it gets a private Neo4j."""
import json
import os
import secrets
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, "bin", "provgraph")
NEO4J = os.path.join(ROOT, "scripts", "neo4j", "neo4j.sh")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A provgraph process with its own port, admin token, id prefix, token file and
    artifact store; stop() ends it and removes them."""

    def __init__(self, prefix_stem="judge", private_neo4j=False):
        self.dir = tempfile.TemporaryDirectory(prefix="provgraph-judge-")
        self.neo4j_env = None
        neo4j_uri = os.environ.get("PROVGRAPH_NEO4J_URI", "bolt://127.0.0.1:7687")
        if private_neo4j:
            port = free_port()
            self.neo4j_env = dict(os.environ, NEO4J_BOLT_PORT=str(port), NEO4J_HOME=os.path.join(self.dir.name, "neo4j"),
                                  NEO4J_HEAP="512m", NEO4J_PAGECACHE_MB="64")
            try:
                subprocess.run([NEO4J, "start"], env=self.neo4j_env, check=True, capture_output=True, text=True)
            except subprocess.CalledProcessError as e:
                self.dir.cleanup()
                raise RuntimeError("the private Neo4j did not start: " + e.stderr) from e
            neo4j_uri = f"bolt://127.0.0.1:{port}"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = "judge-admin-" + secrets.token_hex(16)
        self.prefix = f"{prefix_stem}-{secrets.token_hex(4)}"
        self.log_path = os.path.join(self.dir.name, "server.log")
        env = dict(os.environ)
        env.update({
            "PROVGRAPH_ADDR": f"127.0.0.1:{self.port}",
            "PROVGRAPH_NEO4J_URI": neo4j_uri,
            "PROVGRAPH_ADMIN_TOKEN": self.token,
            "PROVGRAPH_ID_PREFIX": self.prefix,
            "PROVGRAPH_TOKEN_FILE": os.path.join(self.dir.name, "tokens.json"),
            "PROVGRAPH_ARTIFACT_DIR": os.path.join(self.dir.name, "artifacts"),
            "PROVGRAPH_BASE_IRI": "",
            "PROVGRAPH_LOG_LEVEL": "warn",
        })
        self.log = open(self.log_path, "wb")
        if private_neo4j:
            # The private Neo4j has no users and one database.
            env.pop("PROVGRAPH_NEO4J_USER", None)
            env.pop("PROVGRAPH_NEO4J_PASSWORD", None)
            env["PROVGRAPH_NEO4J_DATABASE"] = "neo4j"
        self.proc = subprocess.Popen([BIN, "serve", "--first-admin-token=false"], env=env,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise

    def wait_ready(self):
        deadline = time.monotonic() + 90
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"provgraph exited with {self.proc.returncode}: {self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + "/readyz", timeout=2) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("provgraph was not ready after 90 s; is Neo4j up? " + self.log_tail())
            time.sleep(0.25)

    def log_tail(self, n=30):
        try:
            with open(self.log_path, "rb") as f:
                return b"".join(f.readlines()[-n:]).decode("utf-8", "replace")
        except OSError:
            return ""

    def request(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method, headers={
            "Authorization": "Bearer " + self.token, "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read()

    def stop(self):
        if self.log.closed:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        if self.neo4j_env is not None:
            subprocess.run([NEO4J, "stop"], env=self.neo4j_env, capture_output=True)
        self.dir.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
