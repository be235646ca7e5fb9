"""Extensions built on first use, as torch.utils.cpp_extension.load() builds them, but through
ncclkit's CMake package: load() writes a project of one ncclkit_add_extension() call into a cache
directory keyed by the sources' content, the options and the toolchain, builds it once under a
file lock (a torchrun job's ranks all call load() at once), checks the build record as an
installed extension's is checked, and imports the module."""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from types import ModuleType
from typing import Any

from .build_info import RECORD_SUFFIX, built_dir
from .compat import check_build, installed_nccl_wheels
from .errors import ExtensionBuildError
from .jit_project import Options, build_options, check_name, check_option_names, check_sources, cmakelists

# The environment the build reads (ncclkit's options, the compilers, where CUDA and NCCL are):
# a change builds anew. NCCLKIT_EXTENSIONS_DIR only says where the cache is.
_BUILD_ENVIRONMENT = ("CUDACXX", "CUDAHOSTCXX", "CXX", "CC", "CUDA_HOME", "CUDA_PATH", "CUDAToolkit_ROOT")
_BUILD_ENVIRONMENT += ("NCCL_ROOT", "TORCH_CUDA_ARCH_LIST", "CMAKE_GENERATOR", "CMAKE_PREFIX_PATH")
_NOT_BUILD_ENVIRONMENT = ("NCCLKIT_EXTENSIONS_DIR", "NCCLKIT_SKIP_IMPORT_CHECK")
_COMPLETE = "complete"  # written last: a directory without it holds no finished build
_OUTPUT_LINES = 60  # of a failed step's output, in the exception's message


def cache_root(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where built extensions are kept: `cache_dir`, else NCCLKIT_EXTENSIONS_DIR, else
    ncclkit/extensions in the user's cache ($XDG_CACHE_HOME, or ~/.cache)."""
    if cache_dir is not None:
        return Path(cache_dir).resolve()
    if os.environ.get("NCCLKIT_EXTENSIONS_DIR"):
        return Path(os.environ["NCCLKIT_EXTENSIONS_DIR"]).resolve()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "ncclkit" / "extensions"


def _file_stamp(path: str | None) -> list[object] | None:
    """A program by its path, size and time: a reinstalled compiler builds anew."""
    if not path:
        return None
    stat = Path(path).stat()
    return [str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns]


def _cmake_package_digest() -> str:
    digest = hashlib.sha256()
    root = built_dir() / "cmake"
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _torch_facts() -> dict[str, str]:
    import torch

    return {"version": torch.__version__, "dir": str(Path(torch.__file__).parent)}


def toolchain(*, torch: bool) -> dict[str, Any]:
    """What, besides the sources and the options, decides the binary."""
    environment = {name: value for name, value in os.environ.items() if name in _BUILD_ENVIRONMENT}
    environment.update(
        (name, value)
        for name, value in os.environ.items()
        if name.startswith("NCCLKIT_") and name not in _NOT_BUILD_ENVIRONMENT
    )
    nvcc = os.environ.get("CUDACXX") or shutil.which("nvcc") or shutil.which("/usr/local/cuda/bin/nvcc")
    return {
        "python": [sys.executable, sys.version, sysconfig.get_config_var("EXT_SUFFIX")],
        "ncclkit_cmake": _cmake_package_digest(),
        "cmake": _file_stamp(_cmake()),
        "nvcc": _file_stamp(nvcc),
        "nccl_wheels": installed_nccl_wheels(),
        "environment": dict(sorted(environment.items())),
        "torch": _torch_facts() if torch else None,
    }


def build_key(name: str, sources: Sequence[Path], options: Options, tools: Mapping[str, Any]) -> str:
    digest = hashlib.sha256()
    for path in sources:
        digest.update(str(path).encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    digest.update(json.dumps([name, asdict(options), tools], sort_keys=True).encode())
    return digest.hexdigest()[:16]


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on `path`, held by one process at a time, released if it dies."""
    with path.open("a") as file:
        fcntl.flock(file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(file, fcntl.LOCK_UN)


def _cmake() -> str | None:
    """CMake: the `cmake` package's (as scikit-build-core takes it), else the one on PATH."""
    try:
        from cmake import CMAKE_BIN_DIR
    except ImportError:  # no such package, or only a directory named cmake (a project's) on sys.path
        return shutil.which("cmake")
    return str(Path(CMAKE_BIN_DIR) / "cmake")


def _ninja() -> str | None:
    try:
        from ninja import BIN_DIR
    except ImportError:
        return shutil.which("ninja")
    return str(Path(BIN_DIR) / "ninja")


def _pybind11_dir() -> str | None:
    try:
        import pybind11

        return pybind11.get_cmake_dir()
    except ImportError:
        return None


def _configure_command(cmake: str, project: Path) -> list[str]:
    command = [cmake, "-S", str(project), "-B", str(project / "build"), "-DCMAKE_BUILD_TYPE=Release"]
    command += [f"-DPython_EXECUTABLE={sys.executable}", f"-Dncclkit_DIR={built_dir() / 'cmake'}"]
    ninja = _ninja()
    if ninja:
        command += ["-G", "Ninja", f"-DCMAKE_MAKE_PROGRAM={ninja}"]
    pybind11_dir = _pybind11_dir()
    if pybind11_dir:
        command.append(f"-Dpybind11_DIR={pybind11_dir}")
    return command


def _run_step(name: str, step: str, command: list[str], log: Path, *, verbose: bool) -> None:
    with log.open("a") as file:
        file.write(f"$ {' '.join(command)}\n")
        file.flush()
        proc = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
        file.write(proc.stdout)
    if verbose:
        sys.stderr.write(proc.stdout)
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.rstrip().splitlines()[-_OUTPUT_LINES:])
        msg = (
            f"ncclkit.load({name!r}): the {step} step failed (exit {proc.returncode}); its output ends:\n{tail}\n"
            f"The command: {' '.join(command)}\nAll of its output: {log}"
        )
        raise ExtensionBuildError(msg, proc.stdout, str(log))


def _build(name: str, project: Path, sources: Sequence[Path], options: Options, *, verbose: bool) -> None:
    cmake = _cmake()
    if cmake is None:
        msg = f"ncclkit.load({name!r}) builds with CMake, and there is none: pip install cmake (or put one on PATH)"
        raise ExtensionBuildError(msg)
    shutil.rmtree(project, ignore_errors=True)  # an unfinished build's leftovers
    project.mkdir(parents=True)
    (project / "CMakeLists.txt").write_text(cmakelists(name, sources, options))
    log = project / "build.log"
    _run_step(name, "configure", _configure_command(cmake, project), log, verbose=verbose)
    jobs = os.environ.get("MAX_JOBS") or str(os.cpu_count() or 1)
    _run_step(name, "build", [cmake, "--build", str(project / "build"), "--parallel", jobs], log, verbose=verbose)
    (project / _COMPLETE).write_text("")


def _import(name: str, build: Path) -> ModuleType:
    path = build / f"{name}{sysconfig.get_config_var('EXT_SUFFIX')}"
    if getattr(sys.modules.get(name), "__file__", None) == str(path):
        return sys.modules[name]
    record = json.loads((build / f"{name}{RECORD_SUFFIX}").read_text())
    check_build(record, name, full=False)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def load(
    name: str,
    sources: Sequence[str | os.PathLike[str]],
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    verbose: bool = False,
    **options: Any,
) -> ModuleType:
    """Build (once) and import the extension module `name` of `sources`, as
    ncclkit_add_extension(<name> SOURCES <sources> ...) builds it.

    Options, each ncclkit_add_extension's keyword or a setting of its target: nccl, torch,
    stable_abi, pybind11 (default: not torch), torch_target ("2.10"), archs (either spelling of
    NCCLKIT_CUDA_ARCHS), features (NCCL features required), include_dirs, libraries (names or
    paths), cflags (C++), cuda_cflags (nvcc), ldflags. List headers in `sources` too: a change
    to any listed file builds anew, and only to those.

    Raises ExtensionBuildError with the compiler's output when the build fails, and
    CompatibilityError when the build does not match this machine (as check_extension does).
    """
    name = check_name("ncclkit.load", name)
    paths = check_sources("ncclkit.load", sources)
    check_option_names("ncclkit.load", options)
    settings = build_options("ncclkit.load", **options)
    if not isinstance(verbose, bool):
        msg = f"ncclkit.load: verbose must be True or False, got {verbose!r}"
        raise TypeError(msg)
    root = cache_root(cache_dir)
    root.mkdir(parents=True, exist_ok=True)
    key = build_key(name, paths, settings, toolchain(torch=settings.torch))
    project = root / f"{name}-{key}"
    if not (project / _COMPLETE).exists():
        with _locked(root / f"{name}-{key}.lock"):
            if not (project / _COMPLETE).exists():  # another process built it while this one waited
                _build(name, project, paths, settings, verbose=verbose)
    return _import(name, project / "build")


def _inline_module(name: str, cpp_source: str, functions: Mapping[str, str], *, torch: bool) -> str:
    if torch and functions:
        includes = ["#include <torch/extension.h>"]
    elif torch:  # no pybind11: the module's library registers ops, and links no libtorch_python
        includes = ["#include <ATen/ATen.h>", "#include <torch/library.h>"]
    else:
        includes = ["#include <pybind11/pybind11.h>"]
    module = "TORCH_EXTENSION_NAME" if torch else name
    lines = [*includes, "", cpp_source, ""]
    if functions:
        lines.append(f"PYBIND11_MODULE({module}, m) {{")
        lines += [f"  m.def({json.dumps(f)}, &{f}, {json.dumps(doc)});" for f, doc in functions.items()]
        lines.append("}")
    return "\n".join(lines) + "\n"


def load_inline(
    name: str,
    cpp_source: str = "",
    cuda_source: str = "",
    *,
    functions: Sequence[str] | Mapping[str, str] = (),
    cache_dir: str | os.PathLike[str] | None = None,
    verbose: bool = False,
    **options: Any,
) -> ModuleType:
    """load() of sources given as strings: `cpp_source` (compiled as C++, after <torch/extension.h>
    for torch=True, <ATen/ATen.h> and <torch/library.h> for torch=True without functions, else
    <pybind11/pybind11.h>) and `cuda_source` (as CUDA). `functions` are the
    C++ functions to bind (names, or names with their docstrings), as pybind11 functions of the
    module; a torch extension without them is a module whose TORCH_LIBRARY blocks register ops."""
    for argument, text in (("cpp_source", cpp_source), ("cuda_source", cuda_source)):
        if not isinstance(text, str):
            msg = f"ncclkit.load_inline: {argument} must be a string, got {type(text).__name__}"
            raise TypeError(msg)
    if not cpp_source and not cuda_source:
        msg = "ncclkit.load_inline: cpp_source and cuda_source are both empty"
        raise ValueError(msg)
    if isinstance(functions, str) or not isinstance(functions, (Sequence, Mapping)):
        msg = (
            "ncclkit.load_inline: functions must be a list of names or a dict of names and docstrings, "
            f"got {functions!r}"
        )
        raise TypeError(msg)
    functions = dict(functions) if isinstance(functions, Mapping) else dict.fromkeys(functions, "")
    for function in functions:
        if not isinstance(function, str) or not function.isidentifier():
            msg = f"ncclkit.load_inline: functions: {function!r} is not the name of a C++ function"
            raise ValueError(msg)
    if "pybind11" in options:
        msg = (
            "ncclkit.load_inline: pybind11 is not an option here: the module is a pybind11 one when functions are named"
        )
        raise TypeError(msg)
    torch = options.get("torch", False)
    if not functions and torch is not True:
        msg = "ncclkit.load_inline: functions names nothing to bind, and without torch=True nothing else makes a module"
        raise ValueError(msg)
    options["pybind11"] = bool(functions)
    name = check_name("ncclkit.load_inline", name)
    texts = {f"{name}.cpp": _inline_module(name, cpp_source, functions, torch=torch is True)}
    if cuda_source:
        texts[f"{name}_cuda.cu"] = cuda_source
    digest = hashlib.sha256(json.dumps(texts, sort_keys=True).encode()).hexdigest()[:16]
    directory = cache_root(cache_dir) / "inline" / f"{name}-{digest}"
    directory.mkdir(parents=True, exist_ok=True)
    for file_name, text in texts.items():
        path = directory / file_name
        if not path.exists() or path.read_text() != text:
            temporary = path.with_suffix(f".{os.getpid()}.tmp")
            temporary.write_text(text)
            temporary.replace(path)  # whole, for ranks that read it at once
    return load(name, [directory / f for f in texts], cache_dir=cache_dir, verbose=verbose, **options)
