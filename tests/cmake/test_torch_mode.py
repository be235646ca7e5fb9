"""ncclkit_add_extension(... TORCH [STABLE_ABI]): configured against the torch of the Python that
builds, a fake one (tests/fake_torch.py) for releases and builds this machine lacks."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import fake_torch
import pytest
from cmake_output import words
from consumer_project import AVAILABLE, configure
from hip_toolchain import HIP, SKIP_REASON

pytestmark = pytest.mark.skipif(not AVAILABLE, reason="needs cmake and the CUDA toolkit's nvcc")
HAS_TORCH = importlib.util.find_spec("torch") is not None


def bare_python(tmp_path: Path) -> Path:
    """A Python with no torch (and no pip)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "bare")], check=True)
    return tmp_path / "bare" / "bin" / "python"


def test_torch_with_no_torch_in_the_build_environment(tmp_path: Path) -> None:
    python = bare_python(tmp_path)
    run = configure(tmp_path, "TORCH", python=python)
    assert (
        f"ncclkit_find_torch: a TORCH extension builds against the torch of the Python that builds, and "
        f"`{python} -c 'import torch'` fails: ModuleNotFoundError: No module named 'torch'"
    ) in run.error
    assert "add the torch you run (pinned) to [build-system] requires" in run.error


def test_stable_abi_with_a_torch_too_old_for_it(tmp_path: Path) -> None:
    fake = fake_torch.write(tmp_path / "fake", "2.9.1")
    run = configure(tmp_path, "TORCH", "STABLE_ABI", PYTHONPATH=str(fake))
    assert (
        "ncclkit_target_torch(_probe STABLE_ABI): torch 2.9.1 is too old for the stable ABI, which needs torch 2.10 "
        "or newer (TORCH_TARGET_VERSION)."
    ) in run.error


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("2.8", "TORCH_TARGET 2.8 is outside what torch 2.12.0 can build for: 2.9 to 2.12."),
        ("2.13", "TORCH_TARGET 2.13 is outside what torch 2.12.0 can build for: 2.9 to 2.12."),
        ("two", "TORCH_TARGET 'two' is not a torch release X.Y (e.g. 2.10)."),
    ],
)
def test_a_stable_abi_target_the_torch_cannot_build_for(tmp_path: Path, target: str, expected: str) -> None:
    fake = fake_torch.write(tmp_path / "fake", "2.12.0")
    run = configure(tmp_path, "TORCH", "STABLE_ABI", "TORCH_TARGET", target, PYTHONPATH=str(fake))
    assert f"ncclkit_target_torch(_probe): {expected}" in run.error


def test_stable_abi_records_its_target(tmp_path: Path) -> None:
    fake = fake_torch.write(tmp_path / "fake", "2.12.0", cuda="13.0")
    run = configure(tmp_path, "TORCH", "STABLE_ABI", "TORCH_TARGET", "2.10", PYTHONPATH=str(fake))
    assert run.error == "", run.stderr[-3000:]
    torch = run.json("_probe.build.json")["torch"]
    assert torch == {
        "mode": "stable_abi",
        "version": "2.12.0",
        "cuda": "13.0",
        "cxx11_abi": 1,
        "target_version": "2.10",
    }
    flags = (run.build / "build.ninja").read_text()
    assert "-DTORCH_STABLE_ONLY" in flags
    assert "-DTORCH_TARGET_VERSION=0x20a000000000000" in flags  # 2 << 56 | 10 << 48
    assert "-DUSE_CUDA" in flags  # a CUDA torch's C shim declares its CUDA functions under it


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("STABLE_ABI",), "STABLE_ABI, TORCH_TARGET and PYBIND11 are TORCH's; add TORCH."),
        (("PYBIND11",), "STABLE_ABI, TORCH_TARGET and PYBIND11 are TORCH's; add TORCH."),
        (("TORCH", "STABLE_ABI", "PYBIND11"), "STABLE_ABI and PYTHON_BINDINGS exclude each other"),
    ],
)
def test_torch_keywords_that_do_not_go_together(tmp_path: Path, args: tuple[str, ...], expected: str) -> None:
    fake = fake_torch.write(tmp_path / "fake", "2.12.0")
    run = configure(tmp_path, *args, PYTHONPATH=str(fake))
    assert expected in run.error


def test_a_rocm_torch_is_refused(tmp_path: Path) -> None:
    fake = fake_torch.write(tmp_path / "fake", "2.11.0+rocm6.4", hip="6.4.43482")
    run = configure(tmp_path, "TORCH", PYTHONPATH=str(fake))
    assert "torch 2.11.0+rocm6.4" in run.error
    assert "is a ROCm build (HIP 6.4.43482); ncclkit builds torch extensions for CUDA torch only." in run.error


@pytest.mark.skipif(HIP is None, reason=SKIP_REASON)
def test_torch_in_a_rocm_build_is_refused(tmp_path: Path) -> None:
    fake = fake_torch.write(tmp_path / "fake", "2.12.0")
    args, env = HIP
    run = configure(
        tmp_path, "TORCH", languages="CXX;HIP", defines=tuple(args), NCCLKIT_CUDA_ARCHS="", PYTHONPATH=str(fake), **env
    )
    assert (
        "ncclkit_target_torch(_probe): _probe compiles HIP (a ROCm build); ncclkit builds torch extensions for CUDA "
        "torch only."
    ) in run.error


def test_a_torch_of_another_cuda_major_is_refused(tmp_path: Path) -> None:
    fake = fake_torch.write(tmp_path / "fake", "2.12.0+cu128", cuda="12.8")
    run = configure(tmp_path, "TORCH", PYTHONPATH=str(fake))
    assert "is built for CUDA 12.8, and this build compiles with CUDA 13." in run.error
    assert "an extension and its torch need one CUDA major" in run.error


def test_a_torch_only_in_the_build_environment_is_a_warning(tmp_path: Path) -> None:
    """As under pip's build isolation: the build's torch comes through PYTHONPATH, and the same
    Python without it (python -I) has none."""
    fake = fake_torch.write(tmp_path / "fake", "2.12.0")
    run = configure(tmp_path, "TORCH", python=bare_python(tmp_path), PYTHONPATH=str(fake))
    assert run.error == "", run.stderr[-3000:]
    warning = words(run.stderr)
    assert "torch 2.12.0 (" in warning
    assert "is in this build's environment only" in warning
    assert "pip install --no-build-isolation" in warning


@pytest.mark.skipif(not HAS_TORCH, reason="needs torch in the Python that runs the tests")
def test_another_torch_outside_the_build_environment_is_a_warning(tmp_path: Path) -> None:
    import torch

    fake = fake_torch.write(tmp_path / "fake", "2.12.0")
    run = configure(tmp_path, "TORCH", PYTHONPATH=str(fake))
    assert run.error == "", run.stderr[-3000:]
    warning = words(run.stderr)
    assert "This build compiles against torch 2.12.0 (" in warning
    assert f"imports torch {torch.__version__} (" in warning
    assert "undefined symbol: _ZN3c10" in warning


@pytest.mark.skipif(not HAS_TORCH, reason="needs torch in the Python that runs the tests")
def test_torch_mode_against_the_torch_installed(tmp_path: Path) -> None:
    import torch

    run = configure(tmp_path, "TORCH")
    assert run.error == "", run.stderr[-3000:]
    # No warning but torch's own (its CPU wheels ship no libkineto, which its package warns of).
    warned_at = re.findall(r"^CMake Warning at (\S+?):\d+", run.stderr, re.M)
    assert all(path.endswith("/TorchConfig.cmake") for path in warned_at), run.stderr
    cuda = f"CUDA {torch.version.cuda}" if torch.version.cuda else "CPU only"
    assert f"-- torch {torch.__version__} ({cuda}, C++ ABI {int(torch._C._GLIBCXX_USE_CXX11_ABI)}): " in run.log
    record = run.json("_probe.build.json")
    assert record["torch"] == fake_torch.record_of_installed()
    assert record["cuda"]["cudart"] == "shared"
    probe = run.json("probe.json")
    assert probe["install_rpath"] == "$ORIGIN/../torch/lib"
    flags = (run.build / "build.ninja").read_text()
    assert "-DTORCH_EXTENSION_NAME=_probe" in flags
    assert f"-D_GLIBCXX_USE_CXX11_ABI={int(torch._C._GLIBCXX_USE_CXX11_ABI)}" in flags


def test_a_build_without_torch_records_none(tmp_path: Path) -> None:
    run = configure(tmp_path)
    assert run.error == "", run.stderr[-3000:]
    record = run.json("_probe.build.json")
    assert (record["torch"], record["cuda"]["cudart"]) == (None, "static")


def test_torch_cuda_arch_list_is_read_when_ncclkit_cuda_archs_is_empty(tmp_path: Path) -> None:
    run = configure(tmp_path, NCCLKIT_CUDA_ARCHS="", TORCH_CUDA_ARCH_LIST="8.6 9.0+PTX")
    assert run.error == "", run.stderr[-3000:]
    assert "-- CUDA archs (TORCH_CUDA_ARCH_LIST): SASS 86;90; PTX 90" in run.log
    cuda = run.json("_probe.build.json")["cuda"]
    assert (cuda["archs_sass"], cuda["archs_ptx"], cuda["archs_source"]) == (
        ["86", "90"],
        ["90"],
        "TORCH_CUDA_ARCH_LIST",
    )


def test_ncclkit_cuda_archs_wins_over_torch_cuda_arch_list(tmp_path: Path) -> None:
    run = configure(tmp_path, NCCLKIT_CUDA_ARCHS="80", TORCH_CUDA_ARCH_LIST="8.6")
    assert run.error == "", run.stderr[-3000:]
    assert run.json("_probe.build.json")["cuda"]["archs_sass"] == ["80"]


def test_a_bad_torch_cuda_arch_list_is_named(tmp_path: Path) -> None:
    run = configure(tmp_path, NCCLKIT_CUDA_ARCHS="", TORCH_CUDA_ARCH_LIST="8.0 Hopper")
    assert "TORCH_CUDA_ARCH_LIST: 'hopper' is not an arch like 8.0, 9.0a or 8.6+PTX (in '8.0 hopper')" in run.error
