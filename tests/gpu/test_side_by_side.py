"""ncclkit's statically linked NCCL beside torch's libnccl.so.2 in each process of a torchrun job
over every GPU: each library's all_reduce across the ranks runs on its own NCCL, is exact, and
reports its own version."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import ncclkit
import pytest

torch = pytest.importorskip("torch")

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(
        not ncclkit.build_info()["nccl"]["static"],
        reason="needs ncclkit built with a static NCCL (NCCLKIT_NCCL=source, or NCCLKIT_NCCL_STATIC=ON)",
    ),
]

WORKER = Path(__file__).with_name("side_by_side_worker.py")


def test_torch_and_ncclkit_each_run_their_own_nccl_on_every_rank() -> None:
    world = torch.cuda.device_count()
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={world}", str(WORKER)]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = [json.loads(line.split("RESULT ", 1)[1]) for line in proc.stdout.splitlines() if "RESULT " in line]
    assert sorted(r["rank"] for r in results) == list(range(world)), proc.stdout
    for result in results:
        assert result["torch_exact"] and result["ncclkit_exact"], result
        assert result["ncclkit_nccl"] == ncclkit.build_info()["nccl"]["version_code"], result
        # torch's NCCL is a shared library of its own; ncclkit's is inside its extension.
        assert any("libnccl.so" in path for path in result["loaded"]), result
    first = results[0]
    print(f"{world} ranks: torch NCCL {first['torch_nccl']}, ncclkit NCCL {first['ncclkit_nccl']}")
    print(f"loaded: {first['loaded']}")
