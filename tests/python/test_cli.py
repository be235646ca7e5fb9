from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from ncclkit import build_info, cli, compat
from ncclkit.build_info import read_record
from ncclkit.compat import Facts, Gpu


def built_capability() -> tuple[int, int]:
    """A compute capability the build covers, whatever NCCLKIT_CUDA_ARCHS it was built with."""
    arch = int(build_info()["cuda"]["archs_sass"][0].rstrip("af"))
    return divmod(arch, 10)


@pytest.fixture
def mismatched_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """A machine whose only mismatch is its driver."""
    facts = Facts(
        python=sys.version_info[:2],
        nccl_wheels={"nvidia-nccl-cu13": "2.28.9"},
        nccl_loaded_code=None,
        driver_cuda=12020,
        gpus=(Gpu(0, "NVIDIA H100 80GB HBM3", built_capability()),),
        torch_cuda=None,
    )
    monkeypatch.setattr(compat, "gather", lambda build, full: facts)


def test_info_table_shows_build_and_machine(mismatched_machine: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["info"]) == 0
    out = capsys.readouterr().out
    assert "NCCL provider" in out
    assert "GPU 0                  NVIDIA H100 80GB HBM3 (compute capability {}.{})".format(*built_capability()) in out
    assert "CUDA driver            12.2" in out
    assert "- CUDA driver too old: found a driver for CUDA 12.2" in out
    kernels = read_record("ncclkit._kernels")["features"]
    assert f"kernel features        NCCLKIT_ENABLE_BF16={kernels['NCCLKIT_ENABLE_BF16']}, " in out


def test_info_shows_the_floor_and_each_feature_compiled_and_available(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    older = Facts(python=sys.version_info[:2], nccl_loaded_code=22707, nccl_loaded_file="/old/libnccl.so.2")
    monkeypatch.setattr(compat, "gather", lambda build, full: older)
    assert cli.main(["info"]) == 0
    out = capsys.readouterr().out
    nccl = build_info()["nccl"]
    assert f"NCCL floor             {nccl['floor']} ({nccl['floor_reason']})\n" in out
    assert f"NCCL requirement       {nccl['requirement']}\n" in out
    assert "NCCL features          required: none\n" in out
    assert "  comm_shrink          NCCL 2.27.0: compiled in, available\n" in out
    revoke = (
        "compiled in, unavailable: the NCCL loaded, 2.27.7, is older"
        if nccl["version_code"] >= 22807
        else f"not compiled in: the header built against, NCCL {nccl['version']}, is older"
    )
    assert f"  comm_revoke          NCCL 2.28.7: {revoke}\n" in out


def test_info_json(mismatched_machine: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["info", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report) == {"build", "runtime", "nccl_features", "problems", "kernels"}
    assert report["kernels"]["module"] == "ncclkit._kernels"
    assert report["runtime"]["gpus"] == [
        {"index": 0, "name": "NVIDIA H100 80GB HBM3", "capability": list(built_capability())}
    ]
    assert report["problems"][0]["what"] == "CUDA driver too old"
    assert report["nccl_features"]["comm_shrink"]["reason"] == "no NCCL is loaded"


def test_check_exit_status(mismatched_machine: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["check"]) == 1
    assert capsys.readouterr().out.endswith("1 problem(s)\n")


@pytest.fixture
def machine_without_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    facts = Facts(python=sys.version_info[:2], nccl_wheels={"nvidia-nccl-cu13": "2.28.9"}, driver_cuda=0, gpus=())
    monkeypatch.setattr(compat, "gather", lambda build, full: facts)


NOT_CHECKED = (
    "skipped: the loaded NCCL against the build's floor (no NCCL loaded)\n"
    "skipped: the CUDA driver's version (no CUDA driver here)\n"
    "skipped: the GPUs' compute capabilities against the built archs (no GPU visible)\n"
    "skipped: torch's CUDA (torch is not installed)\n"
)


def test_check_without_a_gpu_is_incomplete(machine_without_gpu: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["check"]) == 1
    assert capsys.readouterr().out == NOT_CHECKED + (
        "incomplete: no GPU to check the build against (--allow-no-gpu accepts a machine without one)\n"
    )


def test_check_allow_no_gpu_says_what_it_skipped(machine_without_gpu: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["check", "--allow-no-gpu"]) == 0
    assert capsys.readouterr().out == NOT_CHECKED + "ok\n"


def test_check_of_a_machine_with_its_gpu_passes(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    facts = Facts(
        python=sys.version_info[:2],
        driver_cuda=int(build_info()["cuda"]["runtime_version"].split(".")[0]) * 1000 + 20,
        gpus=(Gpu(0, "NVIDIA H200", built_capability()),),
        torch_cuda=build_info()["cuda"]["runtime_version"],
        nccl_loaded_code=build_info()["nccl"]["version_code"],
        nccl_loaded_file="/lib/libnccl.so.2",
    )
    monkeypatch.setattr(compat, "gather", lambda build, full: facts)
    assert cli.main(["check"]) == 0
    assert capsys.readouterr().out == "ok\n"


def test_check_on_this_machine_passes() -> None:
    """What this machine lacks is said, and with --allow-no-gpu it passes, GPU or not."""
    proc = subprocess.run([sys.executable, "-m", "ncclkit", "check", "--allow-no-gpu"], capture_output=True, text=True)
    assert (proc.returncode, proc.stdout.splitlines()[-1]) == (0, "ok"), proc.stdout
    assert all(line.startswith("skipped: ") for line in proc.stdout.splitlines()[:-1]), proc.stdout


def test_console_script_info_json_names_the_loaded_library() -> None:
    import shutil

    script = shutil.which("ncclkit")
    if script is None:
        pytest.skip("the ncclkit console script is not on PATH")
    report = json.loads(subprocess.run([script, "info", "--json"], check=True, capture_output=True, text=True).stdout)
    assert report["runtime"]["nccl_loaded_file"] == compat.gather(build_info(), full=False).nccl_loaded_file


def test_cmake_dir_holds_the_cmake_package() -> None:
    proc = subprocess.run([sys.executable, "-m", "ncclkit", "--cmake-dir"], check=True, capture_output=True, text=True)
    cmake_dir = Path(proc.stdout.strip())
    assert {"ncclkitConfig.cmake", "ncclkitConfigVersion.cmake", "FindNCCL.cmake"} <= {
        p.name for p in cmake_dir.iterdir()
    }


def test_a_command_is_required() -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main([])
    assert exit_.value.code == 2


def test_info_and_check_of_an_extension(
    mismatched_machine: None, install_extension, capsys: pytest.CaptureFixture[str]
) -> None:
    install_extension({**build_info(), "package": "mypkg", "version": "1.2.3", "module": "mypkg._myext"})
    assert cli.main(["info", "--extension", "mypkg._myext"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("mypkg                  1.2.3\nextension              mypkg._myext\n")
    assert cli.main(["check", "--extension", "mypkg._myext"]) == 1


@pytest.mark.parametrize(
    ("torch", "expected"),
    [
        (
            {"mode": "torch", "version": "2.11.0+cu130", "cuda": "13.0", "cxx11_abi": 1, "target_version": None},
            "built against torch    2.11.0+cu130 (torch: runs with this torch only; CUDA 13.0, C++ ABI 1)\n",
        ),
        (
            {"mode": "stable_abi", "version": "2.13.0+cpu", "cuda": None, "cxx11_abi": 1, "target_version": "2.10"},
            "built against torch    2.13.0+cpu (stable_abi: runs with torch 2.10 and newer; CPU only, C++ ABI 1)\n",
        ),
    ],
)
def test_info_of_a_torch_extension_names_the_torch_built_against(
    mismatched_machine: None, install_extension, capsys: pytest.CaptureFixture[str], torch: dict, expected: str
) -> None:
    install_extension({**build_info(), "package": "mypkg", "module": "mypkg._myext", "torch": torch})
    assert cli.main(["info", "--extension", "mypkg._myext"]) == 0
    out = capsys.readouterr().out
    assert expected in out
    assert "\ntorch                  " in out


def test_info_of_a_source_build_names_the_tree(
    mismatched_machine: None, install_extension, capsys: pytest.CaptureFixture[str]
) -> None:
    record = {**build_info(), "package": "mypkg", "module": "mypkg._myext"}
    record["nccl"] = {
        **record["nccl"],
        "provider": "source",
        "static": True,
        "wheel": None,
        "source_dir": "/src/nccl",
        "source_commit": "73cf1122",
        "build_style": "cmake",
    }
    install_extension(record)
    assert cli.main(["info", "--extension", "mypkg._myext"]) == 0
    assert "NCCL source            /src/nccl (commit 73cf1122, cmake build)\n" in capsys.readouterr().out


def rocm_record() -> dict:
    """The build record of an extension compiled as HIP against RCCL, as ncclkit_add_extension writes it."""
    record = {k: v for k, v in build_info().items() if k != "cuda"}
    record.update(package="mypkg", module="mypkg._myext")
    record["compiler"] = {"cxx": "GNU 12.2.0", "hip": "Clang 15.0.6"}
    record["hip"] = {"compiler_version": "15.0.6", "platform": "amd", "archs": ["gfx90a"]}
    record["nccl"] = {**record["nccl"], "provider": "rccl", "version": "2.22.3", "wheel": None}
    return record


def test_a_rocm_build_is_refused_by_name(install_extension, capsys: pytest.CaptureFixture[str]) -> None:
    install_extension(rocm_record())
    with pytest.raises(compat.CompatibilityError) as error:
        compat.check_extension("mypkg._myext")
    assert str(error.value).startswith(
        "mypkg._myext does not match this machine:\n"
        "- GPU platform: found a ROCm build (HIP 15.0.6, RCCL 2.22.3); expected a CUDA build. "
        "Fix: build for CUDA (any NCCLKIT_NCCL but rccl); ROCm builds are compile-checked only."
    )
    assert cli.main(["info", "--extension", "mypkg._myext"]) == 1
    captured = capsys.readouterr()
    assert "found a ROCm build (HIP 15.0.6, RCCL 2.22.3)" in captured.err
    assert json.loads(captured.out)["hip"]["archs"] == ["gfx90a"]  # the record, as it is
    assert cli.main(["check", "--extension", "mypkg._myext"]) == 1


def test_info_says_where_the_cuda_toolkit_came_from(
    mismatched_machine: None, install_extension, capsys: pytest.CaptureFixture[str]
) -> None:
    record = {**build_info(), "package": "mypkg", "module": "mypkg._myext"}
    wheels = ["nvidia-cuda-nvcc==13.0.88", "nvidia-nvvm==13.0.88"]
    record["cuda"] = {**record["cuda"], "toolkit": {"source": "pypi", "wheels": wheels}}
    record["compiler"] = {**record["compiler"], "launcher": "sccache"}
    package = install_extension(record)
    assert cli.main(["info", "--extension", "mypkg._myext"]) == 0
    out = capsys.readouterr().out
    assert "CUDA toolkit           NVIDIA's PyPI wheels: nvidia-cuda-nvcc==13.0.88, nvidia-nvvm==13.0.88\n" in out
    compilers = f"{record['compiler']['cxx']}; {record['compiler']['cuda']}"
    assert f"compilers              {compilers} (through sccache)\n" in out
    del record["cuda"]["toolkit"]  # a record written before the toolkit was
    (package / "_myext.build.json").write_text(json.dumps(record))
    assert cli.main(["info", "--extension", "mypkg._myext"]) == 0
    assert "CUDA toolkit           not recorded\n" in capsys.readouterr().out
