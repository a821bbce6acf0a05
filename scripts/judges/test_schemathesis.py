"""Schemathesis, a fuzzer we did not write, judges the live API against its OpenAPI
document: no 5xx, only documented statuses and content types, bodies valid against
their schemas, and invalid data refused. A bounded run; `make fuzz-api` runs longer."""
import io
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fuzz_api import fuzz  # noqa: E402


def test_schemathesis_finds_nothing():
    out = io.StringIO()
    code, output, took = fuzz(examples=int(os.environ.get("PROVGRAPH_FUZZ_EXAMPLES", "5")), seed=1, out=out)
    assert code == 0, f"Schemathesis found failures (exit {code}, {took:.0f} s):\n" + output[-20000:]
