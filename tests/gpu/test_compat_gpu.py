"""The compatibility check on a machine with a GPU, and what `ncclkit info` says there."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")

import ncclkit  # noqa: E402
from ncclkit import compat  # noqa: E402

pytestmark = pytest.mark.gpu


def test_check_passes() -> None:
    ncclkit.check()


def test_facts_match_torch() -> None:
    facts = compat.gather(ncclkit.build_info(), full=True)
    assert len(facts.gpus) == torch.cuda.device_count()
    assert facts.gpus[0].capability == torch.cuda.get_device_capability(0)
    assert facts.torch_cuda == torch.version.cuda
    assert facts.driver_cuda >= 13000 or facts.driver_cuda // 1000 == int(torch.version.cuda.split(".")[0])


def test_kernels_of_this_build_run_on_every_gpu() -> None:
    from ncclkit import _cuda

    assert all(_cuda.kernel_image_available(i) for i in range(_cuda.device_count()))


def test_info_json_names_the_loaded_library() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "ncclkit", "info", "--json"], check=True, capture_output=True, text=True
    ).stdout
    report = json.loads(out)
    assert report["problems"] == []
    assert report["runtime"]["nccl_loaded_file"] == compat.gather(ncclkit.build_info(), full=False).nccl_loaded_file
    assert report["runtime"]["gpus"][0]["capability"] == list(torch.cuda.get_device_capability(0))
