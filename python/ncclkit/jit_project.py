"""The CMake project that ncclkit.load() builds: its options, checked as they are given, and the
CMakeLists.txt that turns them into one ncclkit_add_extension() call."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path

SOURCE_SUFFIXES = (".cpp", ".cc", ".cxx", ".c", ".cu")
HEADER_SUFFIXES = (".h", ".hpp", ".hh", ".cuh", ".inl")
# What a CMake quoted argument would read as something else: a variable, a list, its end.
_CMAKE_UNSAFE = re.compile(r'[\\"$;]')
_RELEASE = re.compile(r"\d+\.\d+")


@dataclass(frozen=True)
class Options:
    """What ncclkit.load() builds, as ncclkit_add_extension's keywords and a target's settings."""

    nccl: bool = False
    torch: bool = False
    stable_abi: bool = False
    pybind11: bool = True
    torch_target: str | None = None
    archs: str | None = None
    features: tuple[str, ...] = ()
    include_dirs: tuple[str, ...] = ()
    libraries: tuple[str, ...] = ()
    cflags: tuple[str, ...] = ()
    cuda_cflags: tuple[str, ...] = ()
    ldflags: tuple[str, ...] = ()


def check_option_names(caller: str, options: Sequence[str]) -> None:
    unknown = sorted(set(options) - {field.name for field in fields(Options)})
    if unknown:
        known = ", ".join(field.name for field in fields(Options))
        msg = f"{caller}: unknown option{'s' * (len(unknown) > 1)} {', '.join(unknown)}; the options are {known}"
        raise TypeError(msg)


def _strings(caller: str, argument: str, value: object) -> tuple[str, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        msg = f"{caller}: {argument} must be a list of strings, got {type(value).__name__}"
        raise TypeError(msg)
    for index, item in enumerate(value):
        if not isinstance(item, (str, os.PathLike)):
            msg = f"{caller}: {argument}[{index}] must be a string, got {type(item).__name__}"
            raise TypeError(msg)
        if _CMAKE_UNSAFE.search(os.fspath(item)):
            msg = (
                f'{caller}: {argument}[{index}] {os.fspath(item)!r} holds one of \\ " $ ; which CMake would not pass on'
            )
            raise ValueError(msg)
    return tuple(os.fspath(item) for item in value)


def _flag(caller: str, argument: str, value: object) -> bool:
    if not isinstance(value, bool):
        msg = f"{caller}: {argument} must be True or False, got {value!r}"
        raise TypeError(msg)
    return value


def check_name(caller: str, name: object) -> str:
    if not isinstance(name, str):
        msg = f"{caller}: name must be a string, got {type(name).__name__}"
        raise TypeError(msg)
    if not name.isidentifier():
        msg = f"{caller}: name {name!r} must be a Python identifier: it is the module's name"
        raise ValueError(msg)
    return name


def check_sources(caller: str, sources: object) -> tuple[Path, ...]:
    """The sources as absolute paths: each an existing file of a C, C++ or CUDA suffix, or a header
    (listed so that its changes rebuild the extension)."""
    paths = tuple(Path(source).resolve() for source in _strings(caller, "sources", sources))
    for index, path in enumerate(paths):
        if not path.is_file():
            msg = f"{caller}: sources[{index}] {os.fspath(sources[index])!r} is not a file ({path})"
            raise ValueError(msg)
        if path.suffix not in SOURCE_SUFFIXES + HEADER_SUFFIXES:
            known = " ".join(SOURCE_SUFFIXES + HEADER_SUFFIXES)
            msg = f"{caller}: sources[{index}] {path.name!r} is no C, C++ or CUDA source or header ({known})"
            raise ValueError(msg)
    if not any(path.suffix in SOURCE_SUFFIXES for path in paths):
        msg = f"{caller}: sources names no file to compile (one of {' '.join(SOURCE_SUFFIXES)})"
        raise ValueError(msg)
    return paths


def build_options(
    caller: str,
    *,
    nccl: bool = False,
    torch: bool = False,
    stable_abi: bool = False,
    pybind11: bool | None = None,
    torch_target: str | None = None,
    archs: str | Sequence[str] | None = None,
    features: Sequence[str] = (),
    include_dirs: Sequence[str | os.PathLike[str]] = (),
    libraries: Sequence[str | os.PathLike[str]] = (),
    cflags: Sequence[str] = (),
    cuda_cflags: Sequence[str] = (),
    ldflags: Sequence[str] = (),
) -> Options:
    """The options of a load() call, each checked: TypeError or ValueError naming the argument."""
    nccl = _flag(caller, "nccl", nccl)
    torch = _flag(caller, "torch", torch)
    stable_abi = _flag(caller, "stable_abi", stable_abi)
    if pybind11 is None:
        pybind11 = not torch  # a torch extension registers ops; pybind11 is for passing tensors to Python
    pybind11 = _flag(caller, "pybind11", pybind11)
    if stable_abi and not torch:
        msg = f"{caller}: stable_abi=True builds against torch's stable ABI; add torch=True"
        raise ValueError(msg)
    if stable_abi and pybind11:
        msg = (
            f"{caller}: stable_abi=True and pybind11=True exclude each other (libtorch_python is torch's unstable ABI)"
        )
        raise ValueError(msg)
    if torch_target is not None:
        if not stable_abi:
            msg = f"{caller}: torch_target is the stable ABI's target release; add stable_abi=True"
            raise ValueError(msg)
        if not isinstance(torch_target, str) or not _RELEASE.fullmatch(torch_target):
            msg = f"{caller}: torch_target must be a torch release 'X.Y' (e.g. '2.10'), got {torch_target!r}"
            raise ValueError(msg)
    if archs is not None:
        archs = ";".join(_strings(caller, "archs", [archs] if isinstance(archs, str) else archs))
        if not archs:
            msg = f"{caller}: archs names no arch; leave it None for NCCLKIT_CUDA_ARCHS or the visible GPUs'"
            raise ValueError(msg)
    features = _strings(caller, "features", features)
    if features and not nccl:
        msg = f"{caller}: features are NCCL features; add nccl=True"
        raise ValueError(msg)
    return Options(
        nccl=nccl,
        torch=torch,
        stable_abi=stable_abi,
        pybind11=pybind11,
        torch_target=torch_target,
        archs=archs,
        features=features,
        include_dirs=tuple(str(Path(p).resolve()) for p in _strings(caller, "include_dirs", include_dirs)),
        libraries=_strings(caller, "libraries", libraries),
        cflags=_strings(caller, "cflags", cflags),
        cuda_cflags=_strings(caller, "cuda_cflags", cuda_cflags),
        ldflags=_strings(caller, "ldflags", ldflags),
    )


def _quoted(values: Sequence[str | Path]) -> str:
    return " ".join(f'"{Path(v).as_posix() if isinstance(v, Path) else v}"' for v in values)


def _per_language(language: str, flags: Sequence[str]) -> str:
    """Each flag for one language's sources only, spelled so that a generator expression keeps it
    whole (a comma or '>' would end it)."""
    spelled = (flag.replace(">", "$<ANGLE-R>").replace(",", "$<COMMA>") for flag in flags)
    return " ".join(f'"$<$<COMPILE_LANGUAGE:{language}>:{flag}>"' for flag in spelled)


def cmakelists(name: str, sources: Sequence[Path], options: Options) -> str:
    """The generated project: ncclkit_add_extension(<name> NO_INSTALL ...), then the settings of
    its target that ncclkit_add_extension has no keyword for."""
    keywords = [f"SOURCES {_quoted(sources)}"]
    switches = {
        "NCCL": options.nccl,
        "TORCH": options.torch,
        "STABLE_ABI": options.stable_abi,
        "PYBIND11": options.torch and options.pybind11,  # without torch, pybind11 is the default
    }
    keywords += [word for word, wanted in switches.items() if wanted]
    if options.torch_target:
        keywords.append(f"TORCH_TARGET {options.torch_target}")
    if options.archs:
        keywords.append(f'ARCHS "{options.archs}"')
    if options.features:
        keywords.append(f"FEATURES {_quoted(options.features)}")
    lines = [
        "# Generated by ncclkit.load(): one extension, built where it is and imported from here.",
        "cmake_minimum_required(VERSION 3.25)",
        f"project({name} LANGUAGES CXX CUDA)",
        "find_package(ncclkit CONFIG REQUIRED)",
        f"ncclkit_add_extension({name} NO_INSTALL {' '.join(keywords)})",
    ]
    if options.include_dirs:
        lines.append(f"target_include_directories({name} PRIVATE {_quoted(options.include_dirs)})")
    if options.libraries:
        lines.append(f"target_link_libraries({name} PRIVATE {_quoted(options.libraries)})")
    for language, flags in (("CXX", options.cflags), ("CUDA", options.cuda_cflags)):
        if flags:
            lines.append(f"target_compile_options({name} PRIVATE {_per_language(language, flags)})")
    if options.ldflags:
        lines.append(f"target_link_options({name} PRIVATE {_quoted(options.ldflags)})")
    return "\n".join(lines) + "\n"
