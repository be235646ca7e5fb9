"""Running the probe's cases, each in a process of its own, and judging what came of each."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from cases import Case, Raises, Returns, Unsafe

WORKER = Path(__file__).with_name("worker.py")


def run(case: Case) -> dict:
    """What came of `case`: the worker's result, or a crash or hang it could not report."""
    try:
        done = subprocess.run(
            [sys.executable, str(WORKER), case.name], capture_output=True, text=True, timeout=case.timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return {"outcome": "hung", "message": f"no result within {case.timeout:g} s"}
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line.removeprefix("RESULT "))
    how = f"signal {-done.returncode}" if done.returncode < 0 else f"exit status {done.returncode}"
    return {"outcome": "crashed", "message": f"{how}, no result: {done.stderr.strip()[-800:]}"}


def verdict(case: Case, result: dict) -> str:
    """ "ok", "skipped: ...", or what went wrong, in the words of the issue that set the probe up."""
    outcome = result["outcome"]
    if outcome in ("hung", "crashed") and not (isinstance(case.expect, Unsafe) and outcome == "crashed"):
        return f"{outcome}: {result['message']}"
    if outcome == "skipped":
        return f"skipped: {result['message']}"
    expect = case.expect
    if isinstance(expect, Returns):
        return "ok" if outcome == "returned" else f"refused though valid: {result['types'][0]}: {result['message']}"
    if isinstance(expect, Unsafe):
        return "accepted silently" if outcome == "returned" else "ok"
    assert isinstance(expect, Raises)
    if outcome == "returned":
        return "accepted"
    if expect.error not in result["types"] or not re.search(expect.pattern, result["message"]):
        return f"wrong error: {result['types'][0]}: {result['message'][:300]}"
    return "ok"
