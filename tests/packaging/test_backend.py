"""The PEP 517 backend's own logic, without building."""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "build_backend"))
from ncclkit_build import cuda, rocm, version, wheel  # noqa: E402
from ncclkit_build.options import build_option  # noqa: E402


def nccl_info(provider: str) -> dict:
    """A build record's NCCL, built against the 2.32.3 header; the wheel provider requires the floor."""
    requirement = "nvidia-nccl-cu13>=2.27.7,<3" if provider == "wheel" else None
    return {
        "nccl": {"provider": provider, "version": "2.32.3", "wheel": "nvidia-nccl-cu13", "requirement": requirement}
    }


def test_wheel_provider_requires_its_wheel_from_the_floor_not_the_header() -> None:
    assert wheel.runtime_requirements(nccl_info("wheel")) == ["nvidia-nccl-cu13>=2.27.7,<3"]


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


def test_the_provider_labels_the_version_with_the_label_handed_over() -> None:
    with version.labelled("cu129"):
        assert provided_version() == "0.1.0+cu129"
    with version.labelled(""):
        assert provided_version() == "0.1.0"


def test_the_provider_outside_the_backend_says_so() -> None:
    with pytest.raises(RuntimeError, match="labels wheels that ncclkit's backend builds"):
        provided_version()


def test_local_label_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NCCLKIT_LOCAL_VERSION", "")
    assert version.local_label(None) == ""
    monkeypatch.setenv("NCCLKIT_LOCAL_VERSION", "cu129")
    assert version.local_label(None) == "cu129"


def test_sdist_has_no_local_label() -> None:
    with version.labelled("cu129"):
        assert provided_version("sdist") == "0.1.0"


def fake_nvcc(path: Path, release: str) -> Path:
    path.write_text(f"#!/bin/sh\necho 'Cuda compilation tools, release {release}, V{release}.1'\n")
    path.chmod(0o755)
    return path


def test_local_label_comes_from_the_nvcc_cmake_will_use(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NCCLKIT_LOCAL_VERSION", raising=False)
    monkeypatch.setenv("CUDACXX", str(fake_nvcc(tmp_path / "nvcc", "12.8")))
    assert version.local_label(None) == "cu128"
    # the backend's choice, a config setting, over the environment's
    chosen = {"cmake.define.CMAKE_CUDA_COMPILER": str(fake_nvcc(tmp_path / "nvcc-13.1", "13.1"))}
    assert version.local_label(chosen) == "cu131"


def test_missing_nvcc_names_every_place_searched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NCCLKIT_CUDA_TOOLKIT", "system")
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
    monkeypatch.delenv("NCCLKIT_NCCL", raising=False)
    monkeypatch.setenv("ROCM_PATH", str(tmp_path / "rocm"))
    monkeypatch.delenv("HIP_PATH", raising=False)
    assert version.local_label({"cmake.define.NCCLKIT_NCCL": "rccl"}) == "rocm6.2"


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


def built_by_scikit_build(directory: Path, record: dict | None) -> Path:
    """A wheel as scikit-build-core leaves it: package files, then .dist-info with its RECORD."""
    dist_info = "ncclkit-0.1.0.dist-info"
    files = {
        "ncclkit/__init__.py": b"",
        f"{dist_info}/METADATA": b"Metadata-Version: 2.4\nName: ncclkit\nVersion: 0.1.0\n\n# ncclkit\n",
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nTag: cp312-cp312-linux_x86_64\n",
        f"{dist_info}/entry_points.txt": b"[console_scripts]\nncclkit = ncclkit.cli:main\n",
    }
    if record is not None:
        files[wheel.NCCL_RECORD] = json.dumps(record).encode()
    path = directory / "ncclkit-0.1.0-cp312-cp312-linux_x86_64.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        lines = [wheel._record_line(name, data) for name, data in files.items()]
        archive.writestr(f"{dist_info}/RECORD", "\n".join([*lines, f"{dist_info}/RECORD,,"]) + "\n")
    return path


def test_finished_wheel_requires_its_nccl_with_a_valid_record(tmp_path: Path) -> None:
    built = built_by_scikit_build(tmp_path, nccl_info("wheel"))
    wheel.finish_wheel(built)
    assert sorted(p.name for p in tmp_path.iterdir()) == [built.name]
    with zipfile.ZipFile(built) as archive:
        names = archive.namelist()
        metadata = archive.read("ncclkit-0.1.0.dist-info/METADATA").decode()
        assert "\nRequires-Dist: nvidia-nccl-cu13>=2.27.7,<3\n" in metadata
        record = archive.read("ncclkit-0.1.0.dist-info/RECORD").decode().splitlines()
        assert sorted(line.split(",")[0] for line in record) == sorted(names)
        for line in record:
            name = line.split(",")[0]
            if not name.endswith("RECORD"):
                assert line == wheel._record_line(name, archive.read(name))


def test_a_wheel_with_nothing_to_finish_is_left_alone(tmp_path: Path) -> None:
    built = built_by_scikit_build(tmp_path, nccl_info("system"))
    before = built.read_bytes()
    wheel.finish_wheel(built)
    assert built.read_bytes() == before
