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


def test_index_name_has_no_local_label(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NCCLKIT_LOCAL_VERSION", raising=False)
    monkeypatch.setenv("CUDACXX", str(fake_nvcc(tmp_path / "nvcc", "12.8")))
    monkeypatch.setenv("NCCLKIT_INDEX_NAME", "ON")
    assert provided_version() == "0.1.0"
    assert version.index_name_suffix() == "cu12"


def test_index_name_refuses_a_local_label(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NCCLKIT_INDEX_NAME", "on")
    monkeypatch.setenv("NCCLKIT_LOCAL_VERSION", "cu130")
    with pytest.raises(RuntimeError, match="refuses local versions, and NCCLKIT_LOCAL_VERSION='cu130'"):
        provided_version()


def test_index_name_takes_on_or_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NCCLKIT_INDEX_NAME", "cu13")
    with pytest.raises(RuntimeError, match="NCCLKIT_INDEX_NAME='cu13': expected ON or OFF"):
        version.index_name_requested()


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


def test_finished_wheel_is_renamed_for_an_index_with_a_valid_record(tmp_path: Path) -> None:
    finished = wheel.finish_wheel(built_by_scikit_build(tmp_path, nccl_info("wheel")), "cu13")
    assert finished.name == "ncclkit_cu13-0.1.0-cp312-cp312-linux_x86_64.whl"
    assert sorted(p.name for p in tmp_path.iterdir()) == [finished.name]
    with zipfile.ZipFile(finished) as archive:
        names = archive.namelist()
        assert {n.split("/")[0] for n in names} == {"ncclkit", "ncclkit_cu13-0.1.0.dist-info"}
        metadata = archive.read("ncclkit_cu13-0.1.0.dist-info/METADATA").decode()
        assert "\nName: ncclkit-cu13\n" in metadata
        assert "\nRequires-Dist: nvidia-nccl-cu13>=2.27.7,<3\n" in metadata
        record = archive.read("ncclkit_cu13-0.1.0.dist-info/RECORD").decode().splitlines()
        assert sorted(line.split(",")[0] for line in record) == sorted(names)
        for line in record:
            name = line.split(",")[0]
            if not name.endswith("RECORD"):
                assert line == wheel._record_line(name, archive.read(name))


def test_a_wheel_with_nothing_to_finish_is_left_alone(tmp_path: Path) -> None:
    built = built_by_scikit_build(tmp_path, nccl_info("system"))
    before = built.read_bytes()
    assert wheel.finish_wheel(built) == built
    assert built.read_bytes() == before
