"""Which CUDA toolkit the backend builds with, and what it adds to the build requirements: a
toolkit install, or NVIDIA's compiler wheels of one release (without building)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "build_backend"))
from ncclkit_build import backend, compiler_cache, cuda  # noqa: E402

WHEELS = list(json.loads((REPO / "cmake" / "NcclkitCudaWheels.json").read_text())["wheels"])


@pytest.fixture
def no_toolkit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A machine without a toolkit install: nothing on PATH, no hints, no default location."""
    for name in (
        "CUDACXX",
        "CMAKE_CUDA_COMPILER",
        "CUDAToolkit_ROOT",
        "CUDA_HOME",
        "CUDA_PATH",
        "NCCLKIT_CUDA_TOOLKIT",
        "NCCLKIT_CUDA_VERSION",
        "NCCLKIT_NCCL",
        "NCCLKIT_COMPILER_CACHE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(cuda, "_DEFAULT_NVCC", tmp_path / "cuda" / "bin" / "nvcc")
    return tmp_path


def pypi_tree(site: Path) -> Path:
    """site/nvidia/cu13/bin/nvcc, an executable that says it is nvcc 13.0."""
    nvcc = site / "nvidia" / "cu13" / "bin" / "nvcc"
    nvcc.parent.mkdir(parents=True)
    nvcc.write_text("#!/bin/sh\necho 'Cuda compilation tools, release 13.0, V13.0.88'\n")
    nvcc.chmod(0o755)
    return nvcc


def test_no_toolkit_install_takes_the_wheels_of_one_release(no_toolkit: Path) -> None:
    requires = backend._requirements(None)
    assert [r for r in requires if r.startswith("nvidia-cuda") or r.startswith("nvidia-nvvm")] == [
        f"{name}==13.0.*" for name in WHEELS
    ]
    assert "nvidia-nccl-cu13" in requires
    assert compiler_cache._REQUIREMENT in requires


def test_the_release_is_chosen_by_ncclkit_cuda_version(no_toolkit: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NCCLKIT_CUDA_VERSION", "13.2")
    assert cuda.pypi_toolkit_requirements(None) == [f"{name}==13.2.*" for name in WHEELS]


def test_a_toolkit_install_adds_no_wheels(no_toolkit: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    system = no_toolkit / "cuda" / "bin" / "nvcc"
    system.parent.mkdir(parents=True)
    system.write_text("#!/bin/sh\necho 'Cuda compilation tools, release 13.0, V13.0.88'\n")
    system.chmod(0o755)
    assert not cuda.uses_pypi_toolkit(None)
    assert cuda.find_nvcc(None) == system
    assert not any(r.startswith("nvidia-cuda") for r in backend._requirements(None))


def test_pypi_takes_the_tree_on_sys_path(no_toolkit: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nvcc = pypi_tree(no_toolkit / "site")
    monkeypatch.setattr(sys, "path", [str(no_toolkit / "elsewhere"), str(no_toolkit / "site")])
    monkeypatch.setenv("NCCLKIT_CUDA_TOOLKIT", "pypi")
    assert cuda.find_nvcc(None) == nvcc
    assert cuda.nvcc_version(nvcc) == (13, 0)


def test_pypi_without_the_wheels_says_how_to_get_them(no_toolkit: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "path", [str(no_toolkit / "site")])
    with pytest.raises(RuntimeError) as error:
        cuda.find_nvcc(None)
    message = str(error.value)
    assert "NCCLKIT_CUDA_TOOLKIT=auto: no toolkit install was found" in message
    assert f"sys.path: {no_toolkit}/site/nvidia/cu*/bin/nvcc" in message
    assert "'nvidia-cuda-nvcc==13.0.*'" in message and "'nvidia-nvvm==13.0.*'" in message


def test_cuda_12_from_pypi_is_refused(no_toolkit: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NCCLKIT_CUDA_VERSION", "12.8")
    with pytest.raises(RuntimeError, match=r"NVIDIA's CUDA 12 wheels hold no nvcc .* needs a system toolkit"):
        backend._requirements(None)


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("NCCLKIT_CUDA_VERSION", "13", r"NCCLKIT_CUDA_VERSION='13' is not a CUDA release: give major.minor"),
        ("NCCLKIT_CUDA_VERSION", "latest", r"NCCLKIT_CUDA_VERSION='latest' is not a CUDA release"),
        ("NCCLKIT_CUDA_TOOLKIT", "conda", r"NCCLKIT_CUDA_TOOLKIT='conda' is not one of: auto, system, pypi"),
        ("NCCLKIT_COMPILER_CACHE", "ccache", r"NCCLKIT_COMPILER_CACHE='ccache' is not one of: sccache, off"),
    ],
)
def test_bad_settings_name_themselves(
    no_toolkit: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(RuntimeError, match=expected):
        backend._requirements(None)


def test_the_cache_is_left_out_when_off_or_a_launcher_is_given(no_toolkit: Path) -> None:
    assert compiler_cache.requirements({"cmake.define.NCCLKIT_COMPILER_CACHE": "off"}) == []
    assert compiler_cache.requirements({"cmake.define.CMAKE_CUDA_COMPILER_LAUNCHER": "ccache"}) == []
    with compiler_cache.compiler_cache({"cmake.define.NCCLKIT_COMPILER_CACHE": "off"}, REPO) as defines:
        assert defines == {}


def test_the_cache_strips_the_build_environment_and_source(no_toolkit: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_site = no_toolkit / "pip-build-env" / "site-packages"
    env_site.mkdir(parents=True)
    monkeypatch.setattr(sys, "path", [str(env_site), f"{sys.base_prefix}/lib/python3/site-packages", ""])
    monkeypatch.delenv("SKBUILD_BUILD_DIR", raising=False)
    assert compiler_cache._base_dirs(None, REPO) == [str(env_site), str(REPO)]
    build = no_toolkit / "build"
    assert compiler_cache._base_dirs({"build-dir": f"{build}/{{wheel_tag}}"}, REPO) == [
        str(env_site),
        str(build),
        str(REPO),
    ]


def test_the_label_of_a_build_that_will_install_the_wheels(no_toolkit: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ncclkit_build import version

    monkeypatch.setattr(sys, "path", [str(no_toolkit / "site")])
    monkeypatch.delenv("NCCLKIT_LOCAL_VERSION", raising=False)
    monkeypatch.setenv("NCCLKIT_CUDA_VERSION", "13.1")
    assert version.local_label(None) == "cu131"
    pypi_tree(no_toolkit / "site")  # once installed, the label is the tree's nvcc's
    assert version.local_label(None) == "cu130"
