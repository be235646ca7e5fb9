"""The check of this machine against what an extension was built for: ncclkit's own, or one
that another project built with ncclkit_add_extension().

Facts are gathered in one place (``gather``); each check is a pure function of the facts and the
extension's build record, so that every mismatch can be tested without the machine that has it.
"""

from __future__ import annotations

import ctypes
import functools
import importlib.metadata
import importlib.util
import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from . import _comm_loader
from .build_info import build_info, read_record
from .errors import CompatibilityError
from .features import Feature, features, loaded_exports, nccl_version_code, nccl_version_string


@dataclass(frozen=True)
class Gpu:
    index: int
    name: str
    capability: tuple[int, int]


@dataclass(frozen=True)
class Facts:
    """What this process and machine have. None: not known (not looked at, or nothing there)."""

    python: tuple[int, int]
    nccl_wheels: Mapping[str, str] = field(default_factory=dict)  # distribution -> version
    nccl_loaded_code: int | None = None  # ncclGetVersion() of the libnccl this process loaded
    nccl_loaded_file: str | None = None
    nccl_exports: frozenset[str] | None = None  # the entry points of the feature table it defines
    driver_cuda: int | None = None  # cudaDriverGetVersion(), e.g. 13000; 0 without a driver
    gpus: tuple[Gpu, ...] | None = None
    torch_cuda: str | None = None  # torch.version.cuda, when torch is installed
    torch_version: str | None = None  # torch.__version__, looked at for a build against torch


@dataclass(frozen=True)
class Problem:
    what: str
    found: str
    expected: str
    fix: str

    def __str__(self) -> str:
        return f"{self.what}: found {self.found}; expected {self.expected}. Fix: {self.fix}"


def _cuda_string(version: int) -> str:
    return f"{version // 1000}.{version % 1000 // 10}"


def check_python(facts: Facts, build: Mapping[str, Any]) -> list[Problem]:
    limited_api = build["python"].get("limited_api")
    if limited_api:  # abi3: every Python from that one on
        oldest = tuple(int(p) for p in limited_api.split("."))
        if facts.python >= oldest:
            return []
        return [
            Problem(
                "Python version",
                f"Python {facts.python[0]}.{facts.python[1]} ({sys.executable})",
                f"Python {limited_api} or newer (the build's limited API, abi3)",
                f"run {build['package']} with Python {limited_api} or newer",
            )
        ]
    built = tuple(int(p) for p in build["python"]["version"].split(".")[:2])
    if facts.python == built:
        return []
    return [
        Problem(
            "Python version",
            f"Python {facts.python[0]}.{facts.python[1]} ({sys.executable})",
            f"Python {built[0]}.{built[1]} (the build's, {build['python']['soabi']})",
            f"install {build['package']} with this Python: python -m pip install --force-reinstall {build['package']}",
        )
    ]


def nccl_floor(nccl: Mapping[str, Any]) -> tuple[str, str]:
    """The oldest NCCL an extension runs with, and why; a record older than the floor has none,
    and needed the header's own version."""
    if nccl.get("floor"):
        return nccl["floor"], nccl["floor_reason"]
    return nccl["version"], "the header's version (a build record without a floor)"


def _upgrade_hint(nccl: Mapping[str, Any], floor: str) -> str:
    return f"pip install -U '{nccl['wheel']}>={floor}'" if nccl["wheel"] else f"load NCCL {floor} or newer"


def check_nccl(facts: Facts, build: Mapping[str, Any]) -> list[Problem]:
    """The loaded NCCL against the floor and the major: the header only decides what can be
    called, and what the loaded NCCL lacks of it is a call-time NcclUnavailableError."""
    nccl = build["nccl"]
    if nccl["version_code"] is None or facts.nccl_loaded_code is None:
        return []
    floor, floor_reason = nccl_floor(nccl)
    loaded = nccl_version_string(facts.nccl_loaded_code)
    where = f"NCCL {loaded} loaded from {facts.nccl_loaded_file or 'an unknown file'}"
    expected = f"NCCL {floor} or newer, {floor.split('.')[0]}.x ({floor_reason}; built against {nccl['version']})"
    if loaded.split(".")[0] != nccl["version"].split(".")[0]:
        return [
            Problem(
                "NCCL major version",
                where,
                expected,
                f"make the NCCL {build['module']} was built with the one this process loads (check "
                f"LD_LIBRARY_PATH and what was imported before it), or rebuild {build['package']} against this NCCL",
            )
        ]
    if facts.nccl_loaded_code < nccl_version_code(floor):
        return [
            Problem(
                f"NCCL older than the floor of {build['module']}",
                where,
                expected,
                f"another package or LD_LIBRARY_PATH loaded an older libnccl.so.2 first; import {build['package']} "
                f"before it, remove the stale path, or {_upgrade_hint(nccl, floor)}",
            )
        ]
    available = features(build, facts.nccl_loaded_code, facts.nccl_exports)
    lacking = [available[name.lower()] for name in nccl.get("required_features", [])]
    lacking = [f for f in lacking if not f.available]
    if not lacking:
        return []
    newest = max((f.since for f in lacking), key=nccl_version_code)
    return [
        Problem(
            f"NCCL without the features {build['module']} requires",
            f"{where}: " + "; ".join(f"{f.name} (NCCL {f.since}): {f.reason}" for f in lacking),
            f"{', '.join(f.name for f in lacking)}, which {build['module']} was built to require (FEATURES)",
            f"load an NCCL that has them: {_upgrade_hint(nccl, newest)}",
        )
    ]


def check_nccl_wheels(facts: Facts, build: Mapping[str, Any]) -> list[Problem]:
    if len(facts.nccl_wheels) < 2:
        return []
    installed = ", ".join(f"{name} {version}" for name, version in sorted(facts.nccl_wheels.items()))
    keep = build["nccl"]["wheel"] or f"nvidia-nccl-cu{build['cuda']['runtime_version'].split('.')[0]}"
    others = " ".join(name for name in sorted(facts.nccl_wheels) if name != keep)
    return [
        Problem(
            "several nvidia-nccl wheels",
            installed,
            f"one (they overwrite each other's nvidia/nccl/lib/libnccl.so.2); this build uses {keep}",
            f"pip uninstall {others} && pip install --force-reinstall {keep}",
        )
    ]


def check_driver(facts: Facts, build: Mapping[str, Any]) -> list[Problem]:
    if not facts.driver_cuda:  # no driver: there is no GPU to run on, nothing to compare
        return []
    built = build["cuda"]["runtime_version"]
    if facts.driver_cuda // 1000 >= int(built.split(".")[0]):
        return []  # CUDA's minor version compatibility covers a newer minor than the driver's
    return [
        Problem(
            "CUDA driver too old",
            f"a driver for CUDA {_cuda_string(facts.driver_cuda)}",
            f"a driver for CUDA {built.split('.')[0]}.x ({build['package']} was built with CUDA {built})",
            f"update the NVIDIA driver, or build {build['package']} with an older CUDA toolkit",
        )
    ]


def _runs_on(arch: str, gpu: int, *, ptx: bool) -> bool:
    number = int(arch.rstrip("af"))
    if arch.endswith("a"):  # arch-specific: that GPU alone
        return number == gpu
    if arch.endswith("f") or not ptx:  # SASS and family-specific: same major, same or newer minor
        return number // 10 == gpu // 10 and number <= gpu
    return number <= gpu  # PTX: compiled by the driver for any newer GPU


def arch_covers(capability: tuple[int, int], sass: list[str], ptx: list[str]) -> bool:
    """Whether a GPU of this compute capability runs code built for these SASS and PTX archs."""
    gpu = capability[0] * 10 + capability[1]
    return any(_runs_on(a, gpu, ptx=False) for a in sass) or any(_runs_on(a, gpu, ptx=True) for a in ptx)


def check_archs(facts: Facts, build: Mapping[str, Any]) -> list[Problem]:
    sass, ptx = build["cuda"]["archs_sass"], build["cuda"]["archs_ptx"]
    built = f"SASS {', '.join(sass) or 'none'}; PTX {', '.join(ptx) or 'none'}"
    return [
        Problem(
            f"GPU {gpu.index} ({gpu.name}) not covered by the built archs",
            f"compute capability {gpu.capability[0]}.{gpu.capability[1]}",
            f"an arch that runs on it ({built})",
            f"rebuild with NCCLKIT_CUDA_ARCHS including {gpu.capability[0]}{gpu.capability[1]}",
        )
        for gpu in facts.gpus or ()
        if not arch_covers(gpu.capability, sass, ptx)
    ]


def check_torch(facts: Facts, build: Mapping[str, Any]) -> list[Problem]:
    if facts.torch_cuda is None or build.get("torch"):  # a build against torch: check_torch_build
        return []
    built = build["cuda"]["runtime_version"]
    if facts.torch_cuda.split(".")[0] == built.split(".")[0]:
        return []
    return [
        Problem(
            "torch uses another CUDA major",
            f"torch built for CUDA {facts.torch_cuda}",
            f"CUDA {built.split('.')[0]}.x ({build['package']} was built with CUDA {built})",
            f"install the torch build for CUDA {built.split('.')[0]}, "
            f"or rebuild {build['package']} with the toolkit torch uses",
        )
    ]


def _release(version: str, parts: int) -> tuple[int, ...]:
    """The first `parts` numbers of a version such as 2.11.0+cu130."""
    numbers = re.match(r"\d+(\.\d+)*", version)
    return tuple(int(n) for n in numbers.group(0).split(".")[:parts]) if numbers else ()


def _release_string(release: tuple[int, ...]) -> str:
    return ".".join(map(str, release))


def _rebuild(build: Mapping[str, Any]) -> str:
    return f"pip install --no-build-isolation --force-reinstall --no-deps {build['package']}"


def check_torch_build(facts: Facts, build: Mapping[str, Any]) -> list[Problem]:
    """The torch this process imports against the one a TORCH or STABLE_ABI build was built
    against: the same release for TORCH (torch's C++ ABI changes with each one, and the extension
    would not load: undefined symbol: _ZN3c10...), the target release or newer for STABLE_ABI,
    and for both a torch with CUDA of the same major where the build's had CUDA."""
    torch = build.get("torch")
    if not torch:
        return []
    built = torch["version"]
    if facts.torch_version is None:
        return [
            Problem(
                f"torch for {build['module']}",
                f"no torch importable by {sys.executable}",
                f"torch {built} (what it was built against)",
                f"pip install torch=={_release_string(_release(built, 3))}",
            )
        ]
    found = f"torch {facts.torch_version}"
    if torch["mode"] == "stable_abi":
        target = _release(torch["target_version"], 2)
        if _release(facts.torch_version, 2) < target:
            return [
                Problem(
                    f"torch older than the stable ABI target of {build['module']}",
                    found,
                    f"torch {_release_string(target)} or newer (built with STABLE_ABI for it, against torch {built})",
                    f"pip install -U 'torch>={_release_string(target)}'",
                )
            ]
    elif _release(facts.torch_version, 3) != _release(built, 3):
        release = _release_string(_release(built, 3))
        return [
            Problem(
                f"torch version of {build['module']}",
                found,
                f"torch {release}, the one it was built against: a TORCH build links torch's C++ ABI, which "
                "changes with each release (the error would be undefined symbol: _ZN3c10...)",
                f"pip install torch=={release}, or rebuild {build['package']} against this torch: {_rebuild(build)}",
            )
        ]
    if not torch["cuda"]:
        return []
    if facts.torch_cuda is None or facts.torch_cuda.split(".")[0] != torch["cuda"].split(".")[0]:
        major = torch["cuda"].split(".")[0]
        return [
            Problem(
                f"torch's CUDA for {build['module']}",
                f"{found}, " + (f"built for CUDA {facts.torch_cuda}" if facts.torch_cuda else "without CUDA"),
                f"a torch built for CUDA {major}.x ({build['module']} was built against torch {built}, CUDA "
                f"{torch['cuda']})",
                f"install the torch build for CUDA {major}, or rebuild {build['package']} against this torch: "
                f"{_rebuild(build)}",
            )
        ]
    return []


# Checks that need no GPU run when the bindings first load; the rest only in a full check.
CHEAP_CHECKS: tuple[Callable[[Facts, Mapping[str, Any]], list[Problem]], ...] = (
    check_python,
    check_nccl_wheels,
    check_nccl,
    check_torch_build,
)
FULL_CHECKS = (*CHEAP_CHECKS, check_driver, check_archs, check_torch)


def problems(facts: Facts, build: Mapping[str, Any], *, full: bool) -> list[Problem]:
    return [p for check in (FULL_CHECKS if full else CHEAP_CHECKS) for p in check(facts, build)]


def installed_nccl_wheels() -> dict[str, str]:
    """Every nvidia-nccl-cuXX distribution installed, by name, with its version: the wheels of every
    CUDA major share nvidia/nccl/lib/libnccl.so.2. Found by their dist-info directories, so that
    no other distribution's metadata is read."""
    found: dict[str, str] = {}
    for entry in sys.path:
        for info in sorted(Path(entry or ".").glob("nvidia_nccl_cu*.dist-info")):
            distribution = importlib.metadata.Distribution.at(info)
            found.setdefault(distribution.metadata["Name"].lower(), distribution.version)
    return found


def loaded_nccl_files() -> list[str]:
    """libnccl files mapped into this process, from /proc/self/maps."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return []
    return sorted({line.split(None, 5)[-1] for line in maps.splitlines() if "/libnccl" in line})


def _library_version(path: str) -> int | None:
    """ncclGetVersion() of a libnccl this process has loaded; None where it cannot be asked."""
    library = _comm_loader.reopen(path)
    if library is None or not hasattr(library, "ncclGetVersion"):
        return None
    version = ctypes.c_int(0)
    return version.value if library.ncclGetVersion(ctypes.byref(version)) == 0 else None


def explain_load_failure(error: str, build: Mapping[str, Any]) -> Problem:
    """The Problem behind ncclkit._comm's ImportError `error`."""
    nccl = build["nccl"]
    built = f"NCCL {nccl['version']} ({nccl['library']})"
    symbol = re.search(r"undefined symbol: (\w+)", error)
    if symbol:
        files = loaded_nccl_files()
        version = _library_version(files[0]) if files else None
        if version is not None:  # an NCCL older than the floor lacks what the floor has: say that
            older = check_nccl(Facts(sys.version_info[:2], nccl_loaded_code=version, nccl_loaded_file=files[0]), build)
            if older:
                return older[0]
        loaded = ", ".join(files) or "a libnccl this process loaded earlier"
        return Problem(
            f"the loaded NCCL lacks {symbol.group(1)}",
            f"{loaded} ({error})",
            built,
            "an older libnccl.so.2 was loaded first (by another package or LD_LIBRARY_PATH): import "
            "ncclkit first, remove the stale path, or upgrade that NCCL",
        )
    if "libnccl" in error:
        fix = (
            f"pip install '{nccl.get('requirement') or nccl['wheel']}'"
            if nccl["wheel"]
            else f"put {nccl['library']}'s directory back, or add the NCCL's lib directory to LD_LIBRARY_PATH"
        )
        return Problem("NCCL library not found", error, built, fix)
    return Problem("ncclkit._comm does not load", error, built, "reinstall ncclkit for this Python and machine")


@functools.cache
def load_comm() -> ModuleType | None:
    """The NCCL bindings (None for a build without NCCL), checked: the CompatibilityError that
    says why they do not load, or what the cheap checks (Python, the loaded NCCL, duplicate NCCL
    wheels) find wrong. The first use of NCCL runs this, not `import ncclkit`;
    NCCLKIT_SKIP_IMPORT_CHECK=1 leaves the checks out (to run `ncclkit info` on a mismatch)."""
    build = build_info()
    try:
        comm = _comm_loader.load()
    except ImportError as error:
        raise CompatibilityError([explain_load_failure(str(error), build)]) from error
    if os.environ.get("NCCLKIT_SKIP_IMPORT_CHECK") != "1":
        require_cuda_build(build)
        found = problems(_facts(build, comm, full=False), build, full=False)
        if found:
            raise CompatibilityError(found)
    return comm


def require_comm() -> ModuleType:
    comm = load_comm()
    if comm is None:
        msg = "this ncclkit was built without NCCL (NCCLKIT_NCCL=off): rebuild it with NCCLKIT_NCCL=auto"
        raise RuntimeError(msg)
    return comm


def nccl_features() -> dict[str, Feature]:
    """Every NCCL feature ncclkit knows, by name: compiled into ncclkit, and available in the NCCL
    this process loaded. ``ncclkit info`` shows the same."""
    build = build_info()
    comm = load_comm()
    if comm is None:  # built without NCCL
        return features(build, None, None)
    return features(build, comm.get_version(), loaded_exports(build, comm.library_path()))


def gather(build: Mapping[str, Any], *, full: bool) -> Facts:
    """The facts the checks of `build` need; `full`: those that need a GPU too."""
    return _facts(build, load_comm(), full=full)


def _torch() -> tuple[str | None, str | None]:
    """torch.__version__ and torch.version.cuda of the torch this process imports; None, None
    without one."""
    if "torch" not in sys.modules and importlib.util.find_spec("torch") is None:
        return None, None
    import torch

    return torch.__version__, torch.version.cuda


def _facts(build: Mapping[str, Any], comm: ModuleType | None, *, full: bool) -> Facts:
    nccl_code = nccl_file = exports = None
    if comm is not None:
        nccl_code, library = comm.get_version(), comm.library_path()
        nccl_file = os.path.realpath(library) if library else None
        exports = loaded_exports(build, nccl_file)
    # A build against torch imports torch before it loads: asking it costs nothing more.
    torch_version, torch_cuda = _torch() if full or build.get("torch") else (None, None)
    driver = gpus = None
    if full:
        from . import _cuda

        driver = _cuda.driver_version()
        gpus = tuple(Gpu(i, _cuda.device_name(i), _cuda.device_capability(i)) for i in range(_cuda.device_count()))
    return Facts(
        sys.version_info[:2],
        installed_nccl_wheels(),
        nccl_code,
        nccl_file,
        exports,
        driver,
        gpus,
        torch_cuda,
        torch_version,
    )


def require_cuda_build(build: Mapping[str, Any], module: str | None = None) -> None:
    """Raise CompatibilityError for a ROCm build (NCCLKIT_NCCL=rccl): it compiles, but the checks
    here, and ncclkit's Python side, know CUDA only, and no ROCm build has run."""
    if "hip" not in build:
        return
    found = f"a ROCm build (HIP {build['hip']['compiler_version']}, RCCL {build['nccl']['version']})"
    fix = (
        "build for CUDA (any NCCLKIT_NCCL but rccl); ROCm builds are compile-checked only. "
        "NCCLKIT_SKIP_IMPORT_CHECK=1 imports it unchecked"
    )
    raise CompatibilityError([Problem("GPU platform", found, "a CUDA build", fix)], module)


def check(*, full: bool = True) -> None:
    """Raise CompatibilityError naming every mismatch between this machine and ncclkit's build."""
    build = build_info()
    require_cuda_build(build)
    found = problems(gather(build, full=full), build, full=full)
    if found:
        raise CompatibilityError(found)


def check_extension(module: str, *, full: bool = True) -> None:
    """Raise CompatibilityError naming every mismatch between this machine and the build of
    `module` ("mypkg._myext"), an extension built with ncclkit_add_extension(). Call it before
    importing the extension: it reads the extension's build record, not the extension.

    A process loads one libnccl.so.2; the one compared is the one ncclkit's bindings load.
    """
    check_build(read_record(module), module, full=full)


def check_build(build: Mapping[str, Any], module: str, *, full: bool = True) -> None:
    """check_extension for the build record `build` of `module`, read by the caller."""
    require_cuda_build(build, module)
    found = problems(gather(build, full=full), build, full=full)
    if found:
        raise CompatibilityError(found, module)
