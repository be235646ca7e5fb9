"""Fake NCCL installs for the build tests: version macros and version strings, no NCCL code.

Each helper lays out one kind of install under a directory the test owns and returns the paths
a correct search must report.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class FakeNccl:
    include_dir: Path
    library: Path  # the path FindNCCL should report (before symlinks are resolved)


def write_header(include_dir: Path, version: str, suffix: str = "") -> Path:
    major, minor, patch = (int(p) for p in version.split("."))
    include_dir.mkdir(parents=True, exist_ok=True)
    header = include_dir / "nccl.h"
    header.write_text(
        "#ifndef NCCL_H_\n#define NCCL_H_\n"
        f"#define NCCL_MAJOR {major}\n#define NCCL_MINOR {minor}\n#define NCCL_PATCH {patch}\n"
        f'#define NCCL_SUFFIX "{suffix}"\n'
        f"#define NCCL_VERSION_CODE {major * 10000 + minor * 100 + patch}\n"
        "#endif\n"
    )
    return header


def _banner(version: str, cuda: str) -> bytes:
    # What the real library carries: "NCCL version 2.28.3+cuda13.0", among binary data.
    return b"\x7fELF\x00\x00" + f"NCCL version {version}+cuda{cuda}".encode() + b"\x00"


def write_versioned_library(lib_dir: Path, version: str, cuda: str = "13.0") -> Path:
    """A distribution package's layout: libnccl.so -> libnccl.so.2 -> libnccl.so.X.Y.Z."""
    lib_dir.mkdir(parents=True, exist_ok=True)
    real = lib_dir / f"libnccl.so.{version}"
    real.write_bytes(_banner(version, cuda))
    (lib_dir / "libnccl.so.2").symlink_to(real.name)
    (lib_dir / "libnccl.so").symlink_to("libnccl.so.2")
    return lib_dir / "libnccl.so"


def write_static_library(lib_dir: Path, version: str, cuda: str = "13.0") -> Path:
    lib_dir.mkdir(parents=True, exist_ok=True)
    static = lib_dir / "libnccl_static.a"
    static.write_bytes(b"!<arch>\n" + _banner(version, cuda))
    return static


def prefix_install(root: Path, version: str, *, library_version: str | None = None, static: bool = False) -> FakeNccl:
    """An NCCL_ROOT-style prefix: include/nccl.h and lib/libnccl.so*."""
    write_header(root / "include", version)
    library = write_versioned_library(root / "lib", library_version or version)
    if static:
        library = write_static_library(root / "lib", version)
    return FakeNccl(root / "include", library)


def system_install(sysroot: Path, version: str) -> FakeNccl:
    """Debian's layout under a sysroot: usr/include and usr/lib/<multiarch>."""
    write_header(sysroot / "usr" / "include", version)
    library = write_versioned_library(sysroot / "usr" / "lib" / "x86_64-linux-gnu", version)
    return FakeNccl(sysroot / "usr" / "include", library)


def wheel_install(site: Path, version: str, cuda_major: int = 13) -> FakeNccl:
    """The nvidia-nccl-cuXX wheel: site/nvidia/nccl/{include,lib/libnccl.so.2} and its dist-info."""
    nccl = site / "nvidia" / "nccl"
    write_header(nccl / "include", version)
    (nccl / "lib").mkdir(parents=True)
    library = nccl / "lib" / "libnccl.so.2"
    library.write_bytes(_banner(version, f"{cuda_major}.0"))
    dist_info = site / f"nvidia_nccl_cu{cuda_major}-{version}.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: nvidia-nccl-cu{cuda_major}\nVersion: {version}\n")
    return FakeNccl(nccl / "include", library)


def isolated_python(bin_dir: Path, site: Path) -> Path:
    """A python3 that sees only `site`, so an installed nvidia-nccl wheel can't leak into a test."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    python = bin_dir / "python3"
    python.write_text(f'#!/bin/sh\nPYTHONPATH="{site}" exec "{sys.executable}" -S "$@"\n')
    python.chmod(0o755)
    return python


def config_install(prefix: Path, version: str) -> FakeNccl:
    """An install with NCCL's own CMake package (lib/cmake/NCCL), as NCCL >= 2.28 installs it."""
    fake = prefix_install(prefix, version)
    package = prefix / "lib" / "cmake" / "NCCL"
    package.mkdir(parents=True)
    (package / "NCCLTargets.cmake").write_text(
        'get_filename_component(_IMPORT_PREFIX "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)\n'
        "add_library(NCCL::nccl SHARED IMPORTED)\n"
        "set_target_properties(NCCL::nccl PROPERTIES\n"
        '  INTERFACE_INCLUDE_DIRECTORIES "${_IMPORT_PREFIX}/include"\n'
        f'  IMPORTED_LOCATION_RELEASE "${{_IMPORT_PREFIX}}/lib/libnccl.so.{version}"\n'
        "  IMPORTED_CONFIGURATIONS RELEASE)\n"
    )
    (package / "NCCLConfig.cmake").write_text(
        'include("${CMAKE_CURRENT_LIST_DIR}/NCCLTargets.cmake")\n'
        f'set(NCCL_VERSION "{version}")\n'
        'set(NCCL_INCLUDE_DIRS "${CMAKE_CURRENT_LIST_DIR}/../../../include")\n'
        "set(NCCL_LIBRARIES NCCL::nccl)\n"
    )
    (package / "NCCLConfigVersion.cmake").write_text(
        f'set(PACKAGE_VERSION "{version}")\n'
        'if(PACKAGE_FIND_VERSION_MAJOR AND NOT PACKAGE_FIND_VERSION_MAJOR EQUAL "' + version.split(".")[0] + '")\n'
        "  set(PACKAGE_VERSION_COMPATIBLE FALSE)\n"
        "elseif(PACKAGE_FIND_VERSION VERSION_GREATER PACKAGE_VERSION)\n"
        "  set(PACKAGE_VERSION_COMPATIBLE FALSE)\n"
        "else()\n  set(PACKAGE_VERSION_COMPATIBLE TRUE)\nendif()\n"
    )
    return FakeNccl(fake.include_dir, prefix / "lib" / f"libnccl.so.{version}")


def clean_environment() -> dict[str, str]:
    """The environment less everything that points FindNCCL at the machine's own NCCL or CUDA."""
    hints = {"NCCL_ROOT", "NCCL_HOME", "NCCL_INCLUDE_DIR", "NCCL_LIB_DIR", "CUDA_HOME", "CUDA_PATH",
             "CUDAToolkit_ROOT", "CMAKE_PREFIX_PATH", "PYTHONPATH"}
    return {k: v for k, v in os.environ.items() if k not in hints}
