"""cmake/FindNCCL.cmake on fake installs of every layout, and on the real nvidia-nccl wheel."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import nccl_trees
import pytest
from cmake_output import first_error, words
from nccl_trees import FakeNccl

REPO = Path(__file__).resolve().parents[2]
PROBE = Path(__file__).parent / "find_nccl"


def _cmake_version() -> tuple[int, int]:
    if shutil.which("cmake") is None:
        return (0, 0)
    out = subprocess.run(["cmake", "--version"], capture_output=True, text=True).stdout
    match = re.match(r"cmake version (\d+)\.(\d+)", out)
    return (int(match[1]), int(match[2])) if match else (0, 0)


pytestmark = pytest.mark.skipif(_cmake_version() < (3, 25), reason="needs cmake >= 3.25 on PATH")


@dataclasses.dataclass(frozen=True)
class Configure:
    log: str
    error: str  # the first CMake error's message, whitespace normalised
    result: dict  # what the probe project wrote; empty when the configure failed

    @property
    def variables(self) -> dict:
        return {name: value for name, value in self.result.items() if name != "NCCL_SEARCHED"}

    @property
    def searched(self) -> list[str]:
        return self.result["NCCL_SEARCHED"]


class FindNccl:
    """Configures tests/cmake/find_nccl, which runs find_package(NCCL <min_version> REQUIRED).

    The environment is cleared of NCCL and CUDA hints, and unless a test says otherwise the wheel
    step asks a Python that has an empty site directory only.  With `sysroot`, every search is
    confined to it, as when cross-compiling.
    """

    def __init__(self, tmp_path: Path) -> None:
        self.build = tmp_path / "probe-build"
        self.python = nccl_trees.isolated_python(tmp_path / "empty-bin", tmp_path / "empty-site")

    def __call__(
        self,
        *defines: str,
        env: dict[str, str] | None = None,
        sysroot: Path | None = None,
        python: Path | str | None = None,
        min_version: str = "2.18",
        languages: str = "NONE",
    ) -> Configure:
        shutil.rmtree(self.build, ignore_errors=True)
        args = [
            f"-DNCCL_CMAKE_MODULE_DIR={REPO / 'cmake'}",
            f"-DNCCL_MIN_VERSION={min_version}",
            f"-DPROBE_LANGUAGES={languages}",
            f"-DPython_EXECUTABLE={python or self.python}",
        ]
        if sysroot:
            args.append(f"-DCMAKE_FIND_ROOT_PATH={sysroot}")
            args += [f"-DCMAKE_FIND_ROOT_PATH_MODE_{kind}=ONLY" for kind in ("INCLUDE", "LIBRARY", "PACKAGE")]
        proc = subprocess.run(
            ["cmake", "-S", str(PROBE), "-B", str(self.build), *args, *defines],
            capture_output=True,
            text=True,
            env={**nccl_trees.clean_environment(), **(env or {})},
        )
        result = json.loads((self.build / "result.json").read_text()) if proc.returncode == 0 else {}
        return Configure(proc.stdout, first_error(proc.stderr), result)


@pytest.fixture
def find_nccl(tmp_path: Path) -> FindNccl:
    return FindNccl(tmp_path)


def prefix_dirs(prefix: str | Path) -> str:
    """How FindNCCL lists the directories it searches under an install prefix."""
    return f"{prefix}/include, {prefix}/lib/{nccl_trees.MULTIARCH}, {prefix}/lib64, {prefix}/lib"


def wheel_dirs(python: Path, site: Path) -> str:
    nccl = site / "nvidia" / "nccl"
    return f"wheel ({python}): {nccl}/include, {nccl}/lib"


NO_EXPLICIT = "explicit: none of NCCL_INCLUDE_DIR, NCCL_LIB_DIR, NCCL_ROOT, NCCL_HOME is set"
NO_CONFIG = "config: skipped, NCCLConfig.cmake needs C or CXX enabled (it finds Threads)"
NO_TOOLKIT = "toolkit: none of CUDAToolkit_ROOT, CUDA_HOME, CUDA_PATH is set, no CUDAToolkit found"


def not_found(steps: str, *places: str, sysroot: Path | None = None, static: bool = False) -> str:
    """FindNCCL's error when find_package(NCCL 2.18 REQUIRED) finds nothing."""
    missing = "NCCL_LIBRARY NCCL_INCLUDE_DIR" + (" NCCL_STATIC_LIBRARY" if static else "")
    text = (
        f'Could NOT find NCCL (missing: {missing}) (Required is at least version "2.18")\n'
        "Reason given by package: NCCL was not found. "
        f"Searched, in order (NCCL_SEARCH_STEPS: {steps}):\n"
    )
    text += "".join(f"  {place}\n" for place in places)
    if sysroot:
        text += f"each under CMAKE_FIND_ROOT_PATH ({sysroot}).\n"
    if static:
        text += "NCCL_USE_STATIC is ON, so libnccl_static.a is required too.\n"
    return words(
        text + "Fix it one of three ways:\n"
        "  1. NCCL_ROOT=/path/to/nccl, a prefix with include/nccl.h and lib/libnccl.so\n"
        "  2. NCCL_INCLUDE_DIR=/path/to/include and NCCL_LIB_DIR=/path/to/lib\n"
        "  3. pip install nvidia-nccl-cuXX (XX: the CUDA major you build for) with NCCLKIT_NCCL=wheel or auto\n"
        "(cache variables, -DNAME=VALUE, or environment variables)"
    )


def found(fake: FakeNccl, provider: str) -> dict:
    """The variables and targets FindNCCL reports for `fake`."""
    major, minor, patch = fake.version.split(".")
    target = {"file": str(fake.library), "include_dirs": str(fake.include_dir)}
    expected = {
        "NCCL_FOUND": "TRUE",
        "NCCL_PROVIDER": provider,
        "NCCL_VERSION": fake.version,
        "NCCL_VERSION_MAJOR": major,
        "NCCL_VERSION_MINOR": minor,
        "NCCL_VERSION_PATCH": patch,
        "NCCL_VERSION_SUFFIX": "",
        "NCCL_VERSION_CODE": str(fake.version_code),
        "NCCL_INCLUDE_DIR": str(fake.include_dir),
        "NCCL_INCLUDE_DIRS": str(fake.include_dir),
        "NCCL_LIBRARY": str(fake.library),
        "NCCL_LIBRARIES": [str(fake.library)],
        "NCCL_LIBRARY_DIR": str(fake.library.parent),
        "NCCL_LIBRARY_VERSION": fake.version,
        "NCCL_STATIC_LIBRARY": str(fake.static_library or ""),
        "NCCL::nccl": target,
    }
    if fake.static_library:
        expected["NCCL::nccl_static"] = {**target, "file": str(fake.static_library)}
    return expected


# Each layout, found by its step.


def test_system_layout_under_a_sysroot(find_nccl: FindNccl, tmp_path: Path) -> None:
    fake = nccl_trees.system_tree(tmp_path / "sysroot", "2.28.3")
    run = find_nccl(sysroot=tmp_path / "sysroot")
    assert run.variables == found(fake, "system")
    assert run.searched == [
        NO_EXPLICIT,
        NO_CONFIG,
        f"wheel ({find_nccl.python}): no nvidia.nccl package",
        NO_TOOLKIT,
        f"system: {prefix_dirs('/usr')}",
    ]
    assert f"-- NCCL system: found {fake.include_dir}/nccl.h and {fake.library}\n" in run.log


def test_wheel_of_the_building_python(find_nccl: FindNccl, tmp_path: Path) -> None:
    fake = nccl_trees.wheel_tree(tmp_path / "site", "2.28.9")
    python = nccl_trees.isolated_python(tmp_path / "bin", tmp_path / "site")
    run = find_nccl("-DNCCL_SEARCH_STEPS=wheel", python=python)
    assert run.variables == found(fake, "wheel")
    assert run.searched == [wheel_dirs(python, tmp_path / "site")]


@pytest.mark.parametrize("hint", ["NCCL_ROOT", "NCCL_HOME"])
@pytest.mark.parametrize("source", ["cache", "environment"])
def test_install_prefix(find_nccl: FindNccl, tmp_path: Path, hint: str, source: str) -> None:
    fake = nccl_trees.prefix_tree(tmp_path / "nccl", "2.27.7")
    if source == "cache":
        run = find_nccl(f"-D{hint}={tmp_path / 'nccl'}")
    else:
        run = find_nccl(env={hint: str(tmp_path / "nccl")})
    assert run.variables == found(fake, "explicit")
    assert run.searched == [f"explicit ({hint}): {prefix_dirs(tmp_path / 'nccl')}"]


def test_include_and_lib_dirs(find_nccl: FindNccl, tmp_path: Path) -> None:
    fake = nccl_trees.prefix_tree(tmp_path / "nccl", "2.21.5")
    run = find_nccl(f"-DNCCL_INCLUDE_DIR={fake.include_dir}", env={"NCCL_LIB_DIR": str(fake.library.parent)})
    assert run.variables == found(fake, "explicit")
    assert run.searched == [f"explicit (NCCL_INCLUDE_DIR, NCCL_LIB_DIR): {fake.include_dir}, {fake.library.parent}"]


def test_include_dir_without_lib_dir(find_nccl: FindNccl, tmp_path: Path) -> None:
    fake = nccl_trees.prefix_tree(tmp_path / "nccl", "2.21.5")
    run = find_nccl(f"-DNCCL_INCLUDE_DIR={fake.include_dir}")
    assert run.error == words(
        f"NCCL_INCLUDE_DIR ('{fake.include_dir}') and NCCL_LIB_DIR ('') go together: set both, "
        "or NCCL_ROOT to a prefix with include/ and lib/."
    )


def test_nccl_config_package(find_nccl: FindNccl, tmp_path: Path) -> None:
    # As NCCL installs itself into /usr: the package names the real library file and its targets.
    fake = nccl_trees.config_tree(tmp_path / "sysroot" / "usr", "2.28.3")
    run = find_nccl(sysroot=tmp_path / "sysroot", languages="C")
    assert run.variables == found(fake, "config")
    config = tmp_path / "sysroot" / "usr" / "lib" / "cmake" / "NCCL" / "NCCLConfig.cmake"
    assert run.searched == [NO_EXPLICIT, f"config ({config}): {fake.library}"]


def test_nccl_config_package_needs_c_or_cxx(find_nccl: FindNccl, tmp_path: Path) -> None:
    # Its find_dependency(Threads) would stop the configure; the system step finds the same files.
    fake = nccl_trees.config_tree(tmp_path / "sysroot" / "usr", "2.28.3")
    run = find_nccl(sysroot=tmp_path / "sysroot")
    fake = dataclasses.replace(fake, library=fake.library.parent / "libnccl.so")
    assert run.variables == found(fake, "system")
    assert NO_CONFIG in run.searched


def test_nccl_config_of_an_unsuitable_version_is_passed_over(find_nccl: FindNccl, tmp_path: Path) -> None:
    sysroot = tmp_path / "sysroot"
    nccl_trees.config_tree(sysroot / "opt" / "nccl", "2.17.1")
    run = find_nccl("-DNCCL_SEARCH_STEPS=config", "-DCMAKE_PREFIX_PATH=/opt/nccl", sysroot=sysroot, languages="C")
    config = sysroot / "opt" / "nccl" / "lib" / "cmake" / "NCCL" / "NCCLConfig.cmake"
    assert run.error == not_found("config", f"config ({config}): version 2.17.1, rejected", sysroot=sysroot)


@pytest.mark.parametrize(
    ("hint", "source"),
    [
        ("CUDAToolkit_ROOT", "cache"),
        ("CUDAToolkit_ROOT", "environment"),
        ("CUDA_HOME", "environment"),
        ("CUDA_PATH", "environment"),
    ],
)
def test_cuda_toolkit(find_nccl: FindNccl, tmp_path: Path, hint: str, source: str) -> None:
    fake = nccl_trees.prefix_tree(tmp_path / "cuda", "2.26.5")
    root = str(tmp_path / "cuda")
    if source == "cache":
        run = find_nccl("-DNCCL_SEARCH_STEPS=toolkit", f"-D{hint}={root}")
    else:
        run = find_nccl("-DNCCL_SEARCH_STEPS=toolkit", env={hint: root})
    assert run.variables == found(fake, "toolkit")
    assert run.searched == [f"toolkit ({hint}): {prefix_dirs(root)}"]


# The order of the steps, and which run.


def test_explicit_root_comes_before_the_wheel(find_nccl: FindNccl, tmp_path: Path) -> None:
    fake = nccl_trees.prefix_tree(tmp_path / "nccl", "2.28.3")
    nccl_trees.wheel_tree(tmp_path / "site", "2.28.9")
    python = nccl_trees.isolated_python(tmp_path / "bin", tmp_path / "site")
    run = find_nccl(f"-DNCCL_ROOT={tmp_path / 'nccl'}", python=python)
    assert run.variables == found(fake, "explicit")


def test_search_steps_leave_out_the_others(find_nccl: FindNccl, tmp_path: Path) -> None:
    nccl_trees.prefix_tree(tmp_path / "nccl", "2.28.3")
    fake = nccl_trees.wheel_tree(tmp_path / "site", "2.28.9")
    python = nccl_trees.isolated_python(tmp_path / "bin", tmp_path / "site")
    run = find_nccl(
        "-DNCCL_SEARCH_STEPS=toolkit;wheel",
        f"-DNCCL_ROOT={tmp_path / 'nccl'}",
        python=python,
        env={"CUDA_HOME": str(tmp_path / "cuda")},
    )
    assert run.variables == found(fake, "wheel")
    assert run.searched == [
        f"toolkit (CUDA_HOME): {prefix_dirs(tmp_path / 'cuda')}",
        wheel_dirs(python, tmp_path / "site"),
    ]


def test_unknown_search_step(find_nccl: FindNccl) -> None:
    run = find_nccl("-DNCCL_SEARCH_STEPS=explicit;conda")
    assert run.error == "NCCL_SEARCH_STEPS: unknown step 'conda' (steps: explicit config wheel toolkit system)"


# Versions.


def test_a_header_with_tabs_in_its_defines(find_nccl: FindNccl, tmp_path: Path) -> None:
    fake = nccl_trees.prefix_tree(tmp_path / "nccl", "2.28.3")
    header = fake.include_dir / "nccl.h"
    header.write_text(header.read_text().replace("#define NCCL_", "#\tdefine\tNCCL_").replace(" 2", "\t2"))
    run = find_nccl(f"-DNCCL_ROOT={tmp_path / 'nccl'}")
    assert run.variables == found(fake, "explicit")


def test_a_version_code_that_disagrees_with_the_version_is_an_error(find_nccl: FindNccl, tmp_path: Path) -> None:
    fake = nccl_trees.prefix_tree(tmp_path / "nccl", "2.28.3")
    header = fake.include_dir / "nccl.h"
    header.write_text(header.read_text().replace("NCCL_VERSION_CODE 22803", "NCCL_VERSION_CODE 23203"))
    run = find_nccl(f"-DNCCL_ROOT={tmp_path / 'nccl'}")
    assert run.error.startswith(
        f"{header} says NCCL 2.28.3 (NCCL_MAJOR, NCCL_MINOR, NCCL_PATCH) and NCCL_VERSION_CODE 23203, "
        "which would be 22803"
    )


@pytest.mark.parametrize(("version", "code"), [("2.8.4", "2804"), ("2.18.1", "21801")])
def test_version_code_of_a_header_without_one(find_nccl: FindNccl, tmp_path: Path, version: str, code: str) -> None:
    nccl_trees.prefix_tree(tmp_path / "nccl", version, with_code=False)
    run = find_nccl(f"-DNCCL_ROOT={tmp_path / 'nccl'}", min_version="2.0")
    assert run.result["NCCL_VERSION_CODE"] == code


def test_too_old_version(find_nccl: FindNccl, tmp_path: Path) -> None:
    fake = nccl_trees.prefix_tree(tmp_path / "nccl", "2.17.1")
    run = find_nccl(f"-DNCCL_ROOT={tmp_path / 'nccl'}")
    assert run.error == words(
        'Could NOT find NCCL: Found unsuitable version "2.17.1", but required is at least "2.18" '
        f"(found {fake.library})\n"
        f"Reason given by package: {fake.include_dir}/nccl.h is NCCL 2.17.1 (found by the explicit step). "
        "Point NCCL_ROOT at a newer NCCL, or pip install a newer nvidia-nccl-cuXX (XX: the CUDA major you build for)."
    )


def test_header_and_library_of_different_nccls(find_nccl: FindNccl, tmp_path: Path) -> None:
    # The library's version comes from the name of the file libnccl.so resolves to.
    fake = nccl_trees.prefix_tree(tmp_path / "nccl", "2.28.9", library_version="2.27.3")
    run = find_nccl(f"-DNCCL_ROOT={tmp_path / 'nccl'}")
    assert run.error == words(
        "NCCL's header and library are from different NCCL versions:\n"
        f"  {fake.include_dir}/nccl.h is NCCL 2.28.9\n"
        f"  {fake.library} is NCCL 2.27.3\n"
        "(found by the explicit step). Point NCCL_ROOT, or NCCL_INCLUDE_DIR and NCCL_LIB_DIR, "
        "at one NCCL install, or reinstall the NCCL that provides both."
    )


def test_wheel_header_and_library_of_different_nccls(find_nccl: FindNccl, tmp_path: Path) -> None:
    # libnccl.so.2 names no full version: it comes from the version string inside the library.
    fake = nccl_trees.wheel_tree(tmp_path / "site", "2.28.9", library_version="2.28.3")
    python = nccl_trees.isolated_python(tmp_path / "bin", tmp_path / "site")
    run = find_nccl("-DNCCL_SEARCH_STEPS=wheel", python=python)
    assert run.error == words(
        "NCCL's header and library are from different NCCL versions:\n"
        f"  {fake.include_dir}/nccl.h is NCCL 2.28.9\n"
        f"  {fake.library} is NCCL 2.28.3\n"
        "(found by the wheel step). Point NCCL_ROOT, or NCCL_INCLUDE_DIR and NCCL_LIB_DIR, "
        "at one NCCL install, or reinstall the NCCL that provides both."
    )


# Nothing found.


def test_nothing_found_lists_every_place_and_the_fixes(find_nccl: FindNccl, tmp_path: Path) -> None:
    sysroot = tmp_path / "sysroot"
    sysroot.mkdir()
    cuda = tmp_path / "cuda"
    run = find_nccl(sysroot=sysroot, env={"CUDA_HOME": str(cuda)})
    assert run.error == not_found(
        "explicit config wheel toolkit system",
        NO_EXPLICIT,
        NO_CONFIG,
        f"wheel ({find_nccl.python}): no nvidia.nccl package",
        f"toolkit (CUDA_HOME): {prefix_dirs(cuda)}",
        f"system: {prefix_dirs('/usr')}",
        f"system: {prefix_dirs('/usr/local')}",
        sysroot=sysroot,
    )
    assert f"-- NCCL toolkit (CUDA_HOME): no nccl.h in {cuda}/include, no libnccl.so in " in run.log


# An explicit hint that holds no NCCL stops the search, though a later step would find one.


@pytest.fixture
def wheel_python(tmp_path: Path) -> Path:
    nccl_trees.wheel_tree(tmp_path / "site", "2.28.9")
    return nccl_trees.isolated_python(tmp_path / "bin", tmp_path / "site")


def explicit_failure(named: str, searched: str, hints: str) -> str:
    return words(
        f"{named}: no NCCL there. Searched {searched} for nccl.h and libnccl.so. Point {hints} at an NCCL "
        "install (NCCL_ROOT: a prefix with include/nccl.h and lib/libnccl.so), or unset it to let the search "
        "go on (NCCL_SEARCH_STEPS: explicit config wheel toolkit system)."
    )


@pytest.mark.parametrize("hint", ["NCCL_ROOT", "NCCL_HOME"])
@pytest.mark.parametrize("kind", ["missing", "file", "empty"])
def test_an_explicit_root_without_nccl_is_an_error(
    find_nccl: FindNccl, tmp_path: Path, wheel_python: Path, hint: str, kind: str
) -> None:
    root = tmp_path / "root"
    state = {"missing": " (which does not exist)", "file": " (a file, not a directory)", "empty": ""}[kind]
    if kind == "file":
        root.write_text("")
    elif kind == "empty":
        root.mkdir()
    run = find_nccl(python=wheel_python, env={hint: str(root)})
    assert run.error == explicit_failure(f"{hint}='{root}'{state}", prefix_dirs(root), hint)


def test_explicit_directories_without_nccl_are_an_error(
    find_nccl: FindNccl, tmp_path: Path, wheel_python: Path
) -> None:
    include, lib = tmp_path / "include", tmp_path / "lib"
    include.mkdir()
    run = find_nccl(f"-DNCCL_INCLUDE_DIR={include}", f"-DNCCL_LIB_DIR={lib}", python=wheel_python)
    assert run.error == explicit_failure(
        f"NCCL_INCLUDE_DIR='{include}' and NCCL_LIB_DIR='{lib}' (which does not exist)",
        f"{include}, {lib}",
        "NCCL_INCLUDE_DIR and NCCL_LIB_DIR",
    )


@pytest.mark.parametrize("hint", ["NCCL_ROOT", "NCCL_HOME", "NCCL_INCLUDE_DIR"])
def test_a_relative_hint_is_an_error(find_nccl: FindNccl, tmp_path: Path, hint: str) -> None:
    nccl_trees.prefix_tree(tmp_path / "nccl", "2.28.3")
    pair = {"NCCL_LIB_DIR": str(tmp_path / "nccl" / "lib")} if hint == "NCCL_INCLUDE_DIR" else {}
    run = find_nccl(env={hint: "nccl", **pair})
    assert run.error.startswith(f"{hint}='nccl' is a relative path. Give it as an absolute one")


# The static library.


def test_static_library(find_nccl: FindNccl, tmp_path: Path) -> None:
    fake = nccl_trees.prefix_tree(tmp_path / "nccl", "2.28.3", static=True)
    run = find_nccl(f"-DNCCL_ROOT={tmp_path / 'nccl'}", "-DNCCL_USE_STATIC=ON")
    assert run.variables == {
        **found(fake, "explicit"),
        "NCCL_LIBRARIES": [str(fake.static_library), "pthread", "dl", "rt"],
    }


def test_static_library_beside_the_shared_one_gets_its_target(find_nccl: FindNccl, tmp_path: Path) -> None:
    fake = nccl_trees.prefix_tree(tmp_path / "nccl", "2.28.3", static=True)
    run = find_nccl(f"-DNCCL_ROOT={tmp_path / 'nccl'}")
    assert run.variables == found(fake, "explicit")


def test_static_library_missing(find_nccl: FindNccl, tmp_path: Path) -> None:
    # The wheel has no libnccl_static.a, so with NCCL_USE_STATIC it is no candidate.
    nccl_trees.wheel_tree(tmp_path / "site", "2.28.9")
    python = nccl_trees.isolated_python(tmp_path / "bin", tmp_path / "site")
    run = find_nccl("-DNCCL_SEARCH_STEPS=wheel", "-DNCCL_USE_STATIC=ON", python=python)
    assert run.error == not_found("wheel", wheel_dirs(python, tmp_path / "site"), static=True)
    lib = tmp_path / "site" / "nvidia" / "nccl" / "lib"
    assert f"-- NCCL wheel ({python}): no libnccl_static.a in {lib}\n" in run.log


# The real nvidia-nccl wheel.


def _installed_nccl_wheel() -> str | None:
    for distribution in ("nvidia-nccl-cu13", "nvidia-nccl-cu12"):
        try:
            return metadata.version(distribution)
        except metadata.PackageNotFoundError:
            pass
    return None


@pytest.mark.skipif(
    _installed_nccl_wheel() is None, reason="no nvidia-nccl wheel installed (pip install nvidia-nccl-cu13)"
)
def test_real_nvidia_nccl_wheel(find_nccl: FindNccl) -> None:
    (nccl_dir,) = importlib.util.find_spec("nvidia.nccl").submodule_search_locations
    version = _installed_nccl_wheel()
    run = find_nccl("-DNCCL_SEARCH_STEPS=wheel", python=sys.executable)
    assert run.error == ""
    assert run.result["NCCL_PROVIDER"] == "wheel"
    assert run.result["NCCL_VERSION"] == run.result["NCCL_LIBRARY_VERSION"] == version
    assert run.result["NCCL::nccl"] == {"file": f"{nccl_dir}/lib/libnccl.so.2", "include_dirs": f"{nccl_dir}/include"}
