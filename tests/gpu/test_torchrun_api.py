"""The newer entry points between processes, one GPU each, started by torchrun
(torchrun_api_worker.py): gather and scatter, the uneven collectives and PreMulSum checked exactly,
an all_reduce on symmetric windows of NCCL's memory and a one-sided put around the ring, and
revoke, shrink and grow back. On one GPU the one-rank cases run and shrink/grow say they need two."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.gpu

WORKER = Path(__file__).with_name("torchrun_api_worker.py")


def passed_or_skipped(check: object) -> bool:
    """True for a check that held, or one the loaded NCCL could not run (it says why)."""
    if isinstance(check, dict):
        return all(map(passed_or_skipped, check.values()))
    return check is True or (isinstance(check, str) and check.startswith("skipped: "))


def test_newer_entry_points_between_processes() -> None:
    world = torch.cuda.device_count()
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={world}", str(WORKER)]
    env = dict(os.environ, NCCLKIT_TEST_SEED=str(random.randrange(2**31)))
    proc = subprocess.run(command, capture_output=True, text=True, timeout=900, env=env)
    results = [json.loads(line.split("RESULT ", 1)[1]) for line in proc.stdout.splitlines() if "RESULT " in line]
    hung = [r["hung"] for r in results if "hung" in r]
    assert not hung, f"no return in the worker's wait from: {hung}"
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sorted(r["rank_size"] for r in results) == [[rank, world] for rank in range(world)]
    for r in results:
        assert r["gather_scatter"] is True, r
        assert r["uneven"] == dict.fromkeys(["all_gather_v", "reduce_scatter_v", "all_to_all_v"], True), r
        assert r["premul_sum"] == {"host_scale": True, "device_scale": True}, r
        for name in ("symmetric_window", "revoke_shrink_grow"):
            assert passed_or_skipped(r[name]), (name, r[name])
    print(json.dumps(results[0], indent=1))  # what ran and what was skipped, for the run's record
