"""Every compatibility check, with the facts injected."""

from __future__ import annotations

import copy
import importlib.metadata
from pathlib import Path

import pytest
from ncclkit import compat
from ncclkit.compat import Facts, Gpu, Problem
from ncclkit.features import Feature, features

BUILD = {
    "package": "ncclkit",
    "module": "ncclkit._comm",
    "python": {"version": "3.12.3", "soabi": "cpython-312-x86_64-linux-gnu"},
    "cuda": {"runtime_version": "13.0.88", "archs_sass": ["80", "90a"], "archs_ptx": ["90a"]},
    "nccl": {
        "provider": "wheel",
        "version": "2.28.9",
        "version_code": 22809,
        "wheel": "nvidia-nccl-cu13",
        "library": "/site/nvidia/nccl/lib/libnccl.so.2",
        "static": False,
        "floor": "2.27.7",
        "floor_reason": "the floor for CUDA 13",
        "requirement": "nvidia-nccl-cu13>=2.27.7,<3",
        "required_features": [],
        "features": {
            "FP8": {"since": "2.24.0", "entry_points": []},
            "COMM_SHRINK": {"since": "2.27.0", "entry_points": ["ncclCommShrink"]},
            "COMM_REVOKE": {"since": "2.28.7", "entry_points": ["ncclCommRevoke"]},
            "PARAMS": {"since": "2.30.4", "entry_points": ["ncclParamGetParameter"]},
        },
    },
    "features": {
        "NCCLKIT_HAS_FP8": 1,
        "NCCLKIT_HAS_COMM_SHRINK": 1,
        "NCCLKIT_HAS_COMM_REVOKE": 1,
        "NCCLKIT_HAS_PARAMS": 0,
    },
}
GOOD = Facts(
    python=(3, 12),
    nccl_wheels={"nvidia-nccl-cu13": "2.28.9"},
    nccl_loaded_code=22809,
    nccl_loaded_file="/site/nvidia/nccl/lib/libnccl.so.2",
    driver_cuda=13000,
    gpus=(Gpu(0, "NVIDIA H100", (9, 0)),),
    torch_cuda="13.0",
)


def facts(**changes: object) -> Facts:
    return Facts(**{**GOOD.__dict__, **changes})


def test_matching_machine_has_no_problems() -> None:
    assert compat.problems(GOOD, BUILD, full=True) == []


def test_python_version() -> None:
    (problem,) = compat.check_python(facts(python=(3, 11)), BUILD)
    assert problem.what == "Python version"
    assert problem.found.startswith("Python 3.11 (")
    assert problem.expected == "Python 3.12 (the build's, cpython-312-x86_64-linux-gnu)"


def test_a_limited_api_build_runs_with_every_python_from_its_version_on() -> None:
    build = {**BUILD, "python": {**BUILD["python"], "limited_api": "3.10"}}
    assert compat.check_python(facts(python=(3, 10)), build) == []
    assert compat.check_python(facts(python=(3, 13)), build) == []
    (problem,) = compat.check_python(facts(python=(3, 9)), build)
    assert problem.expected == "Python 3.10 or newer (the build's limited API, abi3)"


def test_loaded_nccl_older_than_the_header_from_the_floor_on_is_fine() -> None:
    assert compat.check_nccl(facts(nccl_loaded_code=22707), BUILD) == []
    assert compat.check_nccl(facts(nccl_loaded_code=22803), BUILD) == []


def test_loaded_nccl_older_than_the_floor_names_the_file() -> None:
    (problem,) = compat.check_nccl(facts(nccl_loaded_code=22606, nccl_loaded_file="/usr/lib/libnccl.so.2.26.6"), BUILD)
    assert str(problem) == (
        "NCCL older than the floor of ncclkit._comm: found NCCL 2.26.6 loaded from /usr/lib/libnccl.so.2.26.6; "
        "expected NCCL 2.27.7 or newer, 2.x (the floor for CUDA 13; built against 2.28.9). "
        "Fix: another package or LD_LIBRARY_PATH loaded an older libnccl.so.2 first; import ncclkit before it, "
        "remove the stale path, or pip install -U 'nvidia-nccl-cu13>=2.27.7'"
    )


def test_a_record_without_a_floor_needs_the_header_it_was_built_against() -> None:
    build = copy.deepcopy(BUILD)
    for key in ("floor", "floor_reason", "requirement", "required_features", "features"):
        del build["nccl"][key]
    (problem,) = compat.check_nccl(facts(nccl_loaded_code=22803), build)
    assert problem.expected == (
        "NCCL 2.28.9 or newer, 2.x (the header's version (a build record without a floor); built against 2.28.9)"
    )


def test_required_feature_the_loaded_nccl_lacks() -> None:
    build = copy.deepcopy(BUILD)
    build["nccl"].update(floor="2.28.7", floor_reason="FEATURES COMM_REVOKE", required_features=["COMM_REVOKE"])
    # An NCCL that says it is 2.28.9 but defines no ncclCommRevoke (a build of its own, say).
    lacking = facts(nccl_exports=frozenset({"ncclCommShrink"}))
    (problem,) = compat.check_nccl(lacking, build)
    assert str(problem) == (
        "NCCL without the features ncclkit._comm requires: found NCCL 2.28.9 loaded from "
        "/site/nvidia/nccl/lib/libnccl.so.2: comm_revoke (NCCL 2.28.7): the NCCL loaded lacks ncclCommRevoke; "
        "expected comm_revoke, which ncclkit._comm was built to require (FEATURES). "
        "Fix: load an NCCL that has them: pip install -U 'nvidia-nccl-cu13>=2.28.7'"
    )
    assert compat.check_nccl(facts(nccl_exports=frozenset({"ncclCommRevoke"})), build) == []


@pytest.mark.parametrize(
    ("loaded", "exports", "available", "reasons"),
    [
        (22809, None, {"fp8", "comm_shrink", "comm_revoke"}, {}),
        (22803, None, {"fp8", "comm_shrink"}, {"comm_revoke": "the NCCL loaded, 2.28.3, is older"}),
        (22809, frozenset(), {"fp8"}, {"comm_shrink": "the NCCL loaded lacks ncclCommShrink"}),
        (None, None, set(), {"fp8": "no NCCL is loaded"}),
    ],
)
def test_features_compiled_in_and_available(
    loaded: int | None, exports: frozenset[str] | None, available: set[str], reasons: dict[str, str]
) -> None:
    found = features(BUILD, loaded, exports)
    assert list(found) == ["fp8", "comm_shrink", "comm_revoke", "params"]
    assert {name for name, f in found.items() if f.available} == available
    assert all(found[name].reason == reason for name, reason in reasons.items())
    assert found["params"] == Feature(
        "params",
        "2.30.4",
        ("ncclParamGetParameter",),
        compiled=False,
        available=False,
        reason="not compiled in: the header built against, NCCL 2.28.9, is older",
    )


def test_loaded_nccl_of_another_major() -> None:
    (problem,) = compat.check_nccl(facts(nccl_loaded_code=30001), BUILD)
    assert problem.what == "NCCL major version"
    assert problem.found == "NCCL 3.0.1 loaded from /site/nvidia/nccl/lib/libnccl.so.2"


def test_old_version_code_encoding() -> None:
    assert compat.nccl_version_string(2708) == "2.7.8"
    assert compat.nccl_version_string(22809) == "2.28.9"


def test_two_nccl_wheels() -> None:
    wheels = {"nvidia-nccl-cu12": "2.27.3", "nvidia-nccl-cu13": "2.28.9"}
    (problem,) = compat.check_nccl_wheels(facts(nccl_wheels=wheels), BUILD)
    assert str(problem) == (
        "several nvidia-nccl wheels: found nvidia-nccl-cu12 2.27.3, nvidia-nccl-cu13 2.28.9; "
        "expected one (they overwrite each other's nvidia/nccl/lib/libnccl.so.2); this build uses nvidia-nccl-cu13. "
        "Fix: pip uninstall nvidia-nccl-cu12 && pip install --force-reinstall nvidia-nccl-cu13"
    )


def test_driver_for_an_older_cuda_major() -> None:
    (problem,) = compat.check_driver(facts(driver_cuda=12080), BUILD)
    assert (problem.what, problem.found) == ("CUDA driver too old", "a driver for CUDA 12.8")
    assert problem.expected == "a driver for CUDA 13.x (ncclkit was built with CUDA 13.0.88)"


def test_driver_of_an_older_minor_is_covered_by_minor_version_compatibility() -> None:
    build = copy.deepcopy(BUILD)
    build["cuda"]["runtime_version"] = "13.2.1"
    assert compat.check_driver(facts(driver_cuda=13000), build) == []


def test_no_driver_is_not_a_mismatch() -> None:
    assert compat.check_driver(facts(driver_cuda=0), BUILD) == []


@pytest.mark.parametrize(
    ("capability", "sass", "ptx", "covered"),
    [
        ((9, 0), ["90a"], [], True),
        ((10, 0), ["90a"], [], False),  # arch-specific SASS runs on that GPU alone
        ((10, 0), ["90a"], ["90a"], False),  # and so does its PTX
        ((8, 6), ["80"], [], True),  # same major, newer minor
        ((8, 0), ["86"], [], False),
        ((9, 0), ["80"], [], False),  # SASS never crosses a major
        ((12, 0), ["80"], ["90"], True),  # PTX is compiled for newer GPUs
        ((7, 5), ["80"], ["80"], False),
        ((10, 3), ["100f"], [], True),  # family-specific
        ((12, 0), ["100f"], [], False),
    ],
)
def test_arch_coverage(capability: tuple[int, int], sass: list[str], ptx: list[str], covered: bool) -> None:
    assert compat.arch_covers(capability, sass, ptx) is covered


def test_gpu_not_covered_names_the_gpu_and_archs() -> None:
    (problem,) = compat.check_archs(facts(gpus=(Gpu(1, "NVIDIA B200", (10, 0)),)), BUILD)
    assert str(problem) == (
        "GPU 1 (NVIDIA B200) not covered by the built archs: found compute capability 10.0; "
        "expected an arch that runs on it (SASS 80, 90a; PTX 90a). Fix: rebuild with NCCLKIT_CUDA_ARCHS including 100"
    )


def test_torch_of_another_cuda_major() -> None:
    (problem,) = compat.check_torch(facts(torch_cuda="12.8"), BUILD)
    assert (problem.what, problem.found) == ("torch uses another CUDA major", "torch built for CUDA 12.8")


def test_no_torch_is_fine() -> None:
    assert compat.check_torch(facts(torch_cuda=None), BUILD) == []


def test_cheap_checks_leave_out_the_gpu_driver_and_torch() -> None:
    bad = facts(driver_cuda=12000, torch_cuda="12.8", gpus=(Gpu(0, "old", (7, 0)),))
    assert compat.problems(bad, BUILD, full=False) == []
    assert [p.what for p in compat.problems(bad, BUILD, full=True)] == [
        "CUDA driver too old",
        "GPU 0 (old) not covered by the built archs",
        "torch uses another CUDA major",
    ]


def test_check_raises_with_every_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    from ncclkit import CompatibilityError

    monkeypatch.setattr(compat, "gather", lambda build, full: facts(python=(3, 10), torch_cuda="12.1"))
    monkeypatch.setattr(compat, "build_info", lambda: BUILD)
    with pytest.raises(CompatibilityError) as error:
        compat.check()
    assert [p.what for p in error.value.problems] == ["Python version", "torch uses another CUDA major"]
    assert "- Python version: found Python 3.10" in str(error.value)


# An extension another project built with ncclkit_add_extension: the same checks on its own record.
CONSUMER = {**copy.deepcopy(BUILD), "package": "mypkg", "module": "mypkg._myext"}


def test_consumer_problems_name_the_consumer() -> None:
    older = facts(nccl_loaded_code=22606, nccl_loaded_file="/usr/lib/libnccl.so.2.26.6", python=(3, 11))
    python, nccl = compat.problems(older, CONSUMER, full=False)
    assert python.fix == "install mypkg with this Python: python -m pip install --force-reinstall mypkg"
    assert nccl.what == "NCCL older than the floor of mypkg._myext"
    assert "import mypkg before it" in nccl.fix


def test_check_extension_reads_the_record_beside_the_extension(
    install_extension, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ncclkit import CompatibilityError

    install_extension(CONSUMER)
    monkeypatch.setattr(compat, "gather", lambda build, full: GOOD)
    compat.check_extension("mypkg._myext")
    monkeypatch.setattr(compat, "gather", lambda build, full: facts(nccl_loaded_code=22606))
    with pytest.raises(CompatibilityError) as error:
        compat.check_extension("mypkg._myext")
    assert error.value.module == "mypkg._myext"
    assert str(error.value).startswith(
        "mypkg._myext does not match this machine:\n- NCCL older than the floor of mypkg._myext"
    )
    assert "`NCCLKIT_SKIP_IMPORT_CHECK=1 ncclkit info --extension mypkg._myext`" in str(error.value)


def test_check_extension_without_a_record(install_extension) -> None:
    (install_extension(CONSUMER) / "_myext.build.json").unlink()
    with pytest.raises(ImportError, match=r"_myext.build.json is missing: mypkg._myext was not built with"):
        compat.check_extension("mypkg._myext")


def test_check_extension_of_a_module_that_is_not_installed() -> None:
    with pytest.raises(ModuleNotFoundError, match="no module named 'nosuchpkg._ext': is its package installed?"):
        compat.check_extension("nosuchpkg._ext")


def test_gather_on_this_machine_reads_the_loaded_nccl() -> None:
    import ncclkit

    found = compat.gather(ncclkit.build_info(), full=True)
    assert found.nccl_loaded_code == ncclkit.get_version()
    assert found.nccl_loaded_file in compat.loaded_nccl_files()
    # The wheel's NCCL is the header's: it defines every entry point of the table.
    assert found.nccl_exports is not None
    assert {"ncclCommShrink", "ncclAlltoAll", "ncclCommRevoke", "ncclParamGetParameter"} <= found.nccl_exports


def test_problem_text() -> None:
    assert str(Problem("w", "f", "e", "x")) == "w: found f; expected e. Fix: x"


def test_installed_nccl_wheels_of_any_cuda_major(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found by their dist-info directories: a CUDA major ncclkit never heard of too."""
    info = tmp_path / "nvidia_nccl_cu99-9.9.9.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: nvidia-nccl-cu99\nVersion: 9.9.9\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    found = compat.installed_nccl_wheels()
    assert found["nvidia-nccl-cu99"] == "9.9.9"
    for name, version in found.items():
        if name != "nvidia-nccl-cu99":
            assert importlib.metadata.version(name) == version


# An extension built against torch (ncclkit_add_extension(... TORCH [STABLE_ABI])).
TORCH_BUILD = {
    **copy.deepcopy(CONSUMER),
    "torch": {"mode": "torch", "version": "2.11.0+cu130", "cuda": "13.0", "cxx11_abi": 1, "target_version": None},
}
STABLE_BUILD = {
    **copy.deepcopy(CONSUMER),
    "torch": {"mode": "stable_abi", "version": "2.13.0", "cuda": None, "cxx11_abi": 1, "target_version": "2.10"},
}


def test_the_torch_built_against_passes() -> None:
    assert compat.problems(facts(torch_version="2.11.0+cu130"), TORCH_BUILD, full=True) == []
    assert compat.check_torch_build(facts(torch_version="2.11.0"), TORCH_BUILD) == []  # another local label


def test_a_torch_build_run_with_another_torch_names_both_and_the_fix() -> None:
    (problem,) = compat.check_torch_build(facts(torch_version="2.12.1+cu130"), TORCH_BUILD)
    assert str(problem) == (
        "torch version of mypkg._myext: found torch 2.12.1+cu130; expected torch 2.11.0, the one it was built "
        "against: a TORCH build links torch's C++ ABI, which changes with each release (the error would be "
        "undefined symbol: _ZN3c10...). Fix: pip install torch==2.11.0, or rebuild mypkg against this torch: "
        "pip install --no-build-isolation --force-reinstall --no-deps mypkg"
    )
    # A patch release is another release too.
    assert compat.check_torch_build(facts(torch_version="2.11.1"), TORCH_BUILD)


def test_a_torch_build_is_checked_at_import_without_a_gpu() -> None:
    found = compat.problems(facts(torch_version="2.10.0"), TORCH_BUILD, full=False)
    assert [p.what for p in found] == ["torch version of mypkg._myext"]


def test_a_torch_of_another_cuda_major_or_without_cuda() -> None:
    (other,) = compat.check_torch_build(facts(torch_version="2.11.0+cu128", torch_cuda="12.8"), TORCH_BUILD)
    assert (other.what, other.found) == ("torch's CUDA for mypkg._myext", "torch 2.11.0+cu128, built for CUDA 12.8")
    assert other.expected.startswith("a torch built for CUDA 13.x (mypkg._myext was built against torch 2.11.0+cu130")
    (cpu,) = compat.check_torch_build(facts(torch_version="2.11.0+cpu", torch_cuda=None), TORCH_BUILD)
    assert cpu.found == "torch 2.11.0+cpu, without CUDA"
    # One problem, not two: the CUDA check of builds without torch leaves a torch build alone.
    assert compat.check_torch(facts(torch_cuda="12.8"), TORCH_BUILD) == []


def test_no_torch_for_a_torch_build() -> None:
    (problem,) = compat.check_torch_build(facts(torch_version=None, torch_cuda=None), TORCH_BUILD)
    assert (problem.expected, problem.fix) == (
        "torch 2.11.0+cu130 (what it was built against)",
        "pip install torch==2.11.0",
    )


def test_a_stable_abi_build_runs_with_its_target_and_newer() -> None:
    for version in ("2.10.0", "2.13.0+cu130", "3.0.0"):
        assert compat.check_torch_build(facts(torch_version=version), STABLE_BUILD) == [], version
    (problem,) = compat.check_torch_build(facts(torch_version="2.9.1"), STABLE_BUILD)
    assert str(problem) == (
        "torch older than the stable ABI target of mypkg._myext: found torch 2.9.1; expected torch 2.10 or newer "
        "(built with STABLE_ABI for it, against torch 2.13.0). Fix: pip install -U 'torch>=2.10'"
    )


def test_a_build_without_torch_ignores_the_torch_version() -> None:
    assert compat.check_torch_build(facts(torch_version="1.0.0"), CONSUMER) == []
