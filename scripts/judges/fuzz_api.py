"""Fuzzes the live API against its own OpenAPI document with Schemathesis.

Starts `provgraph serve` on a private Neo4j (the fuzzer deletes, restricts and cancels
whatever ids it finds, so it must not find other tests' records) and runs `st run` over every
operation with: no 5xx, documented status codes, documented content types, response
bodies valid against their schemas, and invalid (negative) data refused with a 4xx.

    python scripts/judges/fuzz_api.py               # the bounded run of `make test`
    python scripts/judges/fuzz_api.py --examples 200 --max-time 1200   # `make fuzz-api`
"""
import argparse
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from apiserver import Server  # noqa: E402

CHECKS = ",".join([
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
])

# Operations not fuzzed, by operationId, each with its reason. None: on a private Neo4j
# even the whole-graph export is small.
EXCLUDED = {}


def st_command(url, token, examples, phases, seed, max_time, report_dir):
    st = os.path.join(os.path.dirname(sys.executable), "st")
    config = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schemathesis.toml")
    cmd = [st, "--config-file", config, "--no-color", "run", url + "/openapi.json",
           "--checks", CHECKS,
           "--mode", "all",
           "--max-examples", str(examples),
           "--phases", phases,
           "--header", "Authorization: Bearer " + token,
           "--max-redirects", "0",
           "--request-timeout", "30",
           # One worker: Python 3.11's ast.parse, which Hypothesis calls, is not
           # thread-safe ("AST constructor recursion depth mismatch").
           "--workers", "1",
           "--suppress-health-check", "all",
           "--report", "ndjson",
           "--report-dir", report_dir]
    if seed is not None:
        cmd += ["--seed", str(seed)]
    if max_time:
        cmd += ["--max-time", str(max_time)]
    for op in EXCLUDED:
        cmd += ["--exclude-operation-id", op]
    return cmd


def fuzz(examples=8, phases="examples,coverage,fuzzing,stateful", seed=None, max_time=None, out=sys.stdout):
    """Runs Schemathesis against a server of its own; returns (exit code, output, seconds)."""
    with Server("fuzz", private_neo4j=True) as srv:
        start = time.monotonic()
        # Run in the server's scratch directory, where Schemathesis keeps its cache.
        p = subprocess.run(st_command(srv.url, srv.token, examples, phases, seed, max_time, os.path.join(srv.dir.name, "report")),
                           capture_output=True, text=True, cwd=srv.dir.name,
                           env=dict(os.environ, SCHEMATHESIS_TELEMETRY="false", NO_COLOR="1"))
        took = time.monotonic() - start
        # Generated bodies can be megabytes long; a line of the report is cut to 2000.
        output = "\n".join(line if len(line) <= 2000 else line[:2000] + " …" for line in (p.stdout + p.stderr).splitlines())
        if p.returncode != 0:
            output += "\n--- server log (tail) ---\n" + srv.log_tail(60)
    print(output, file=out)
    print(f"schemathesis: exit {p.returncode} in {took:.0f} s", file=out)
    return p.returncode, output, took


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--examples", type=int, default=8, help="test cases per operation and phase")
    ap.add_argument("--phases", default="examples,coverage,fuzzing,stateful")
    ap.add_argument("--seed", type=int)
    ap.add_argument("--max-time", type=int, help="seconds; fuzzing and stateful testing repeat until spent")
    a = ap.parse_args()
    # Stopped (Ctrl-C, a timeout), it still stops its server and its Neo4j.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    code, _, _ = fuzz(a.examples, a.phases, a.seed, a.max_time)
    sys.exit(code)


if __name__ == "__main__":
    main()
