"""The PEP 517 backend's own logic, without building."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "build_backend"))
from ncclkit_build import cuda, rocm, version, wheel  # noqa: E402
from ncclkit_build.options import build_option  # noqa: E402


def nccl_info(provider: str) -> dict:
    return {"nccl": {"provider": provider, "version": "2.28.9", "wheel": "nvidia-nccl-cu13"}}


def test_wheel_provider_requires_its_wheel_same_major_not_older() -> None:
    assert wheel.runtime_requirements(nccl_info("wheel")) == ["nvidia-nccl-cu13>=2.28.9,<3"]


@pytest.mark.parametrize("provider", ["explicit", "config", "toolkit", "system", "off"])
def test_other_providers_add_no_requirement(provider: str) -> None:
    assert wheel.runtime_requirements(nccl_info(provider)) == []


def test_requirements_go_after_the_headers_before_the_description() -> None:
    metadata = "Metadata-Version: 2.4\nName: ncclkit\nVersion: 0.1.0\n\n# ncclkit\ntext\n"
    assert wheel._with_requirements(metadata, ["a>=1", "b"]) == (
        "Metadata-Version: 2.4\nName: ncclkit\nVersion: 0.1.0\n"
        "Requires-Dist: a>=1\nRequires-Dist: b\n\n# ncclkit\ntext\n"
    )


def test_config_settings_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NCCLKIT_NCCL", "system")
    assert build_option("NCCLKIT_NCCL", {"cmake.define.NCCLKIT_NCCL": "wheel"}, "auto") == "wheel"
    assert build_option("NCCLKIT_NCCL", None, "auto") == "system"
    monkeypatch.delenv("NCCLKIT_NCCL")
    assert build_option("NCCLKIT_NCCL", {}, "auto") == "auto"


def provided_version(state: str = "wheel") -> str:
    provider = version.Provider()
    provider.build_state(state)
    return provider.dynamic_metadata({"base": "0.1.0"}, {})["version"]


def test_local_label_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NCCLKIT_LOCAL_VERSION", "")
    assert provided_version() == "0.1.0"
    monkeypatch.setenv("NCCLKIT_LOCAL_VERSION", "cu129")
    assert provided_version() == "0.1.0+cu129"


def test_sdist_has_no_local_label(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NCCLKIT_LOCAL_VERSION", "cu129")
    assert provided_version("sdist") == "0.1.0"


def fake_nvcc(path: Path, release: str) -> Path:
    path.write_text(f"#!/bin/sh\necho 'Cuda compilation tools, release {release}, V{release}.1'\n")
    path.chmod(0o755)
    return path


def test_local_label_comes_from_the_nvcc_cmake_will_use(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NCCLKIT_LOCAL_VERSION", raising=False)
    monkeypatch.setenv("CUDACXX", str(fake_nvcc(tmp_path / "nvcc", "12.8")))
    assert provided_version() == "0.1.0+cu128"


def test_missing_nvcc_names_every_place_searched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDACXX", str(tmp_path / "nope" / "nvcc"))
    monkeypatch.setenv("PATH", str(tmp_path))
    for name in ("CUDAToolkit_ROOT", "CUDA_HOME", "CUDA_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(cuda, "_DEFAULT_NVCC", tmp_path / "cuda" / "bin" / "nvcc")
    with pytest.raises(RuntimeError) as error:
        cuda.find_nvcc(None)
    assert str(error.value) == (
        "ncclkit needs the CUDA compiler nvcc, and none was found. Searched:\n"
        f"  CUDACXX: {tmp_path}/nope/nvcc\n"
        f"  default location: {tmp_path}/cuda/bin/nvcc\n"
        "Install the CUDA toolkit, or point CUDACXX (or CUDA_HOME) at the one you have."
    )


def test_rocm_build_is_labelled_by_its_hip_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hipconfig = tmp_path / "rocm" / "bin" / "hipconfig"
    hipconfig.parent.mkdir(parents=True)
    hipconfig.write_text("#!/bin/sh\necho 6.2.41134-65d174c3e\n")  # what ROCm 6.2's prints
    hipconfig.chmod(0o755)
    monkeypatch.delenv("NCCLKIT_LOCAL_VERSION", raising=False)
    monkeypatch.setenv("NCCLKIT_NCCL", "rccl")
    monkeypatch.setenv("ROCM_PATH", str(tmp_path / "rocm"))
    monkeypatch.delenv("HIP_PATH", raising=False)
    assert provided_version() == "0.1.0+rocm6.2"


def test_missing_hipconfig_names_every_place_searched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROCM_PATH", str(tmp_path / "rocm"))
    monkeypatch.delenv("HIP_PATH", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RuntimeError) as error:
        rocm.find_hipconfig()
    assert str(error.value) == (
        "NCCLKIT_NCCL=rccl builds for ROCm, and ROCm's hipconfig was not found. Searched:\n"
        f"  $ROCM_PATH/bin: {tmp_path}/rocm/bin/hipconfig\n"
        "  default location: /opt/rocm/bin/hipconfig\n"
        "Install ROCm (or Debian's hipcc), or point ROCM_PATH at it."
    )
