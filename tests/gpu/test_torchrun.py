"""Several processes, one GPU each, started by torchrun: init_from_env and from_process_group,
ncclkit.functional compiled and in a CUDA graph, DDP through ncclkit's comm hooks, and the custom
all-reduce between the processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.gpu

WORKER = Path(__file__).with_name("torchrun_worker.py")


def test_one_rank_per_visible_gpu() -> None:
    world = torch.cuda.device_count()
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={world}", str(WORKER)]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = [json.loads(line.split("RESULT ", 1)[1]) for line in proc.stdout.splitlines() if "RESULT " in line]
    assert sorted(r["rank_size_device"] for r in results) == [[rank, world, rank] for rank in range(world)]
    every_check = {"all_reduce": True, "all_gather": True, "send_recv": True}
    assert all(r["from_env"] == every_check and r["from_group"] == every_check for r in results), results
    every_compiled_check = dict.fromkeys(
        ["compiled_all_reduce", "compiled_all_gather", "compiled_reduce_scatter", "graph_all_reduce"], True
    )
    assert all(r["compiled"] == every_compiled_check for r in results), results
    every_ddp_check = {"same_inputs_exact": True, "rank_inputs": True, "fp16": True, "bf16": True}
    assert all(r["ddp"] == every_ddp_check for r in results), results
    every_custom_check = dict.fromkeys(["oneshot", "twoshot", "auto", "graph"], True)
    assert all(r["custom_all_reduce"] == every_custom_check for r in results), results
