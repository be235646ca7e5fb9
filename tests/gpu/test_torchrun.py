"""Several processes, one GPU each, started by torchrun: every collective through init_from_env
and from_process_group, a split into halves, ncclkit.functional compiled and in a CUDA graph, DDP
through ncclkit's comm hooks, the custom all-reduce between the processes, and abort() of a call
no peer joins."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from collective_matrix import cases  # noqa: E402
from reference import FLOAT8  # noqa: E402

pytestmark = pytest.mark.gpu

WORKER = Path(__file__).with_name("torchrun_worker.py")


def test_one_rank_per_visible_gpu() -> None:
    world = torch.cuda.device_count()
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={world}", str(WORKER)]
    env = dict(os.environ, NCCLKIT_TEST_SEED=str(random.randrange(2**31)))
    proc = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = [json.loads(line.split("RESULT ", 1)[1]) for line in proc.stdout.splitlines() if "RESULT " in line]
    assert sorted(r["rank_size_device"] for r in results) == [[rank, world, rank] for rank in range(world)]
    every_case = len(cases())
    for r in results:
        for source in ("from_env", "from_group"):
            assert r[source]["cases"] == every_case and r[source]["wrong"] == [], (source, r[source])
            # At most fp8's avg, in and out of place, of all_reduce, reduce and reduce_scatter.
            assert r[source]["rejected"] <= len(FLOAT8) * 2 * 3, r[source]
    assert all(r["halves"] == {"identity": True, "all_reduce": True} for r in results), results
    every_compiled_check = dict.fromkeys(
        ["compiled_all_reduce", "compiled_all_gather", "compiled_reduce_scatter", "graph_all_reduce"], True
    )
    assert all(r["compiled"] == every_compiled_check for r in results), results
    every_ddp_check = {"same_inputs_exact": True, "rank_inputs": True, "fp16": True, "bf16": True}
    assert all(r["ddp"] == every_ddp_check for r in results), results
    every_custom_check = dict.fromkeys(["oneshot", "twoshot", "auto", "graph"], True)
    assert all(r["custom_all_reduce"] == every_custom_check for r in results), results
    last = next(r for r in results if r["rank_size_device"][0] == world - 1)
    # One rank alone has no peer to wait for: its all_reduce finishes by itself.
    assert last["abort"]["was_waiting"] is (world > 1), last["abort"]
    assert last["abort"]["returned_after_s"] < 60, last["abort"]
