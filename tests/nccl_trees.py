"""Fake NCCL installs for the build tests.

Each function lays out one kind of install under a directory the test owns and returns what a
correct search reports for it.  A fake holds only what a search reads: the version macros of
``nccl.h`` and the ``NCCL version X.Y.Z+cudaA.B`` string of the library, no NCCL code.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

MULTIARCH = f"{platform.machine()}-linux-gnu"  # as CMake spells it with no language enabled

# Variables that point a search at the machine's own NCCL, CUDA or Python packages.
HOST_HINTS = frozenset(
    {
        "NCCL_ROOT",
        "NCCL_HOME",
        "NCCL_INCLUDE_DIR",
        "NCCL_LIB_DIR",
        "NCCL_DIR",
        "CUDAToolkit_ROOT",
        "CUDA_HOME",
        "CUDA_PATH",
        "CMAKE_PREFIX_PATH",
        "PYTHONPATH",
    }
)


@dataclass(frozen=True)
class FakeNccl:
    version: str
    include_dir: Path
    library: Path  # the path a search reports, which may be a link
    static_library: Path | None = None

    @property
    def version_code(self) -> int:
        return version_code(self.version)


def version_code(version: str) -> int:
    """nccl.h's NCCL_VERSION(X, Y, Z)."""
    major, minor, patch = (int(part) for part in version.split("."))
    if major <= 2 and minor <= 8:
        return major * 1000 + minor * 100 + patch
    return major * 10000 + minor * 100 + patch


def write_header(include_dir: Path, version: str, *, suffix: str = "", with_code: bool = True) -> Path:
    """nccl.h with its version macros only; old headers had no NCCL_VERSION_CODE."""
    major, minor, patch = version.split(".")
    lines = [
        "#ifndef NCCL_H_",
        "#define NCCL_H_",
        f"#define NCCL_MAJOR {major}",
        f"#define NCCL_MINOR {minor}",
        f"#define NCCL_PATCH {patch}",
        f'#define NCCL_SUFFIX "{suffix}"',
    ]
    if with_code:
        lines.append(f"#define NCCL_VERSION_CODE {version_code(version)}")
    lines.append("#endif")
    include_dir.mkdir(parents=True, exist_ok=True)
    header = include_dir / "nccl.h"
    header.write_text("\n".join(lines) + "\n")
    return header


def write_library(path: Path, version: str, *, cuda: str = "13.0", archive: bool = False) -> Path:
    """A library file whose only content of note is the version string the real one carries."""
    magic = b"!<arch>\n" if archive else b"\x7fELF\x02\x01\x01\x00"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(magic + b"\x00" * 56 + f"NCCL version {version}+cuda{cuda}".encode() + b"\x00")
    return path


def write_versioned_library(lib_dir: Path, version: str) -> Path:
    """A distribution's layout: libnccl.so -> libnccl.so.2 -> libnccl.so.X.Y.Z."""
    real = write_library(lib_dir / f"libnccl.so.{version}", version)
    (lib_dir / "libnccl.so.2").symlink_to(real.name)
    (lib_dir / "libnccl.so").symlink_to("libnccl.so.2")
    return lib_dir / "libnccl.so"


def prefix_tree(
    prefix: Path, version: str, *, library_version: str | None = None, static: bool = False, with_code: bool = True
) -> FakeNccl:
    """An install prefix as NCCL_ROOT names it: include/nccl.h, lib/libnccl.so*[, lib/libnccl_static.a]."""
    write_header(prefix / "include", version, with_code=with_code)
    library = write_versioned_library(prefix / "lib", library_version or version)
    static_library = None
    if static:
        static_library = write_library(prefix / "lib" / "libnccl_static.a", version, archive=True)
    return FakeNccl(version, prefix / "include", library, static_library)


def system_tree(sysroot: Path, version: str, *, library_version: str | None = None) -> FakeNccl:
    """Debian's libnccl-dev under a sysroot: usr/include and usr/lib/<multiarch>."""
    write_header(sysroot / "usr" / "include", version)
    library = write_versioned_library(sysroot / "usr" / "lib" / MULTIARCH, library_version or version)
    return FakeNccl(version, sysroot / "usr" / "include", library)


def wheel_tree(site: Path, version: str, *, library_version: str | None = None, cuda_major: int = 13) -> FakeNccl:
    """The nvidia-nccl-cuXX wheel in a site directory: nvidia/nccl/{include/nccl.h,lib/libnccl.so.2}.

    Like the real wheel: no libnccl.so link and no __init__.py (nvidia.nccl is a namespace package).
    """
    nccl = site / "nvidia" / "nccl"
    write_header(nccl / "include", version)
    library = write_library(nccl / "lib" / "libnccl.so.2", library_version or version, cuda=f"{cuda_major}.0")
    dist_info = site / f"nvidia_nccl_cu{cuda_major}-{version}.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: nvidia-nccl-cu{cuda_major}\nVersion: {version}\n"
    )
    return FakeNccl(version, nccl / "include", library)


# NCCL's NCCLConfig.cmake as configure_package_config_file() installs it.  Its
# find_dependency(CUDAToolkit) is left out: a fake install must not depend on the machine's CUDA.
_CONFIG = """\
get_filename_component(PACKAGE_PREFIX_DIR "${{CMAKE_CURRENT_LIST_DIR}}/../../../" ABSOLUTE)

include(CMakeFindDependencyMacro)
find_dependency(Threads)

include("${{CMAKE_CURRENT_LIST_DIR}}/NCCLTargets.cmake")

set(NCCL_VERSION "{version}")
set(NCCL_INCLUDE_DIRS "${{PACKAGE_PREFIX_DIR}}/include")
set(NCCL_LIBRARIES NCCL::nccl)
"""

# The two files install(EXPORT NCCLTargets NAMESPACE NCCL::) writes for a Release build.
_TARGETS = """\
if(TARGET NCCL::nccl AND TARGET NCCL::nccl_static)
  return()
endif()
get_filename_component(_IMPORT_PREFIX "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)

add_library(NCCL::nccl SHARED IMPORTED)
set_target_properties(NCCL::nccl PROPERTIES
  INTERFACE_INCLUDE_DIRECTORIES "${_IMPORT_PREFIX}/include")

add_library(NCCL::nccl_static STATIC IMPORTED)
set_target_properties(NCCL::nccl_static PROPERTIES
  INTERFACE_INCLUDE_DIRECTORIES "${_IMPORT_PREFIX}/include"
  INTERFACE_LINK_LIBRARIES "Threads::Threads;dl;CUDA::cudart")

file(GLOB _nccl_config_files "${CMAKE_CURRENT_LIST_DIR}/NCCLTargets-*.cmake")
foreach(_nccl_config_file IN LISTS _nccl_config_files)
  include("${_nccl_config_file}")
endforeach()
unset(_IMPORT_PREFIX)
"""

_TARGETS_RELEASE = """\
set_property(TARGET NCCL::nccl APPEND PROPERTY IMPORTED_CONFIGURATIONS RELEASE)
set_target_properties(NCCL::nccl PROPERTIES
  IMPORTED_LOCATION_RELEASE "${{_IMPORT_PREFIX}}/lib/libnccl.so.{version}"
  IMPORTED_SONAME_RELEASE "libnccl.so.{major}")

set_property(TARGET NCCL::nccl_static APPEND PROPERTY IMPORTED_CONFIGURATIONS RELEASE)
set_target_properties(NCCL::nccl_static PROPERTIES
  IMPORTED_LINK_INTERFACE_LANGUAGES_RELEASE "CUDA;CXX"
  IMPORTED_LOCATION_RELEASE "${{_IMPORT_PREFIX}}/lib/libnccl_static.a")
"""

# CMake itself writes the version file, so its compatibility rules are CMake's.
_WRITE_VERSION_FILE = """\
include(CMakePackageConfigHelpers)
write_basic_package_version_file("${FILE}" VERSION "${VERSION}" COMPATIBILITY SameMajorVersion)
"""


def config_tree(prefix: Path, version: str) -> FakeNccl:
    """An install with NCCL's own CMake package, lib/cmake/NCCL, as NCCL >= 2.28 installs it.

    The package names the real library file, so that is what a search through it reports.
    """
    fake = prefix_tree(prefix, version, static=True)
    package = prefix / "lib" / "cmake" / "NCCL"
    package.mkdir(parents=True)
    (package / "NCCLConfig.cmake").write_text(_CONFIG.format(version=version))
    (package / "NCCLTargets.cmake").write_text(_TARGETS)
    (package / "NCCLTargets-release.cmake").write_text(
        _TARGETS_RELEASE.format(version=version, major=version.split(".")[0])
    )
    script = prefix / "write_version_file.cmake"
    script.write_text(_WRITE_VERSION_FILE)
    subprocess.run(
        ["cmake", f"-DFILE={package / 'NCCLConfigVersion.cmake'}", f"-DVERSION={version}", "-P", str(script)],
        check=True,
    )
    script.unlink()
    return FakeNccl(version, fake.include_dir, prefix / "lib" / f"libnccl.so.{version}", fake.static_library)


def isolated_python(bin_dir: Path, site: Path) -> Path:
    """A python3 that sees `site` and not the site-packages, so no installed wheel leaks in."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    python = bin_dir / "python3"
    python.write_text(f'#!/bin/sh\nPYTHONPATH="{site}" exec "{sys.executable}" -S "$@"\n')
    python.chmod(0o755)
    return python


def clean_environment() -> dict[str, str]:
    """The environment less HOST_HINTS."""
    return {name: value for name, value in os.environ.items() if name not in HOST_HINTS}


# NCCL source trees, as NCCLKIT_NCCL=source builds them.  A fake builds libnccl_static.a holding
# ncclGetVersion() alone (with default visibility, as NCCL's API has), generates nccl.h, and writes
# what it was given to <build dir>/received.json; each compile of the library appends a line to
# <build dir>/compiles.log.

_SOURCE_HEADER = """\
#pragma once
#define NCCL_MAJOR {major}
#define NCCL_MINOR {minor}
#define NCCL_PATCH {patch}
#define NCCL_SUFFIX ""
#define NCCL_VERSION_CODE {code}
typedef enum {{ ncclSuccess = 0 }} ncclResult_t;
#ifdef __cplusplus
extern "C" {{
#endif
ncclResult_t ncclGetVersion(int* version);
#ifdef __cplusplus
}}
#endif
"""

_SOURCE_LIBRARY = """\
#include "nccl.h"
extern "C" __attribute__((visibility("default"))) ncclResult_t ncclGetVersion(int* version) {
  *version = NCCL_VERSION_CODE;
  return ncclSuccess;
}
"""

# NCCL >= 2.28: CMakeLists.txt with the targets nccl (which must not be built) and nccl_static.
_SOURCE_CMAKELISTS = """\
cmake_minimum_required(VERSION 3.25)
project(NCCL LANGUAGES CXX)
file(MAKE_DIRECTORY "${CMAKE_BINARY_DIR}/include" "${CMAKE_BINARY_DIR}/lib")
configure_file(src/nccl.h "${CMAKE_BINARY_DIR}/include/nccl.h" COPYONLY)
add_custom_target(nccl ALL COMMAND "${CMAKE_COMMAND}" -E false)
add_library(nccl_static STATIC src/version.cc)
target_include_directories(nccl_static PUBLIC "${CMAKE_BINARY_DIR}/include")
set_target_properties(nccl_static PROPERTIES POSITION_INDEPENDENT_CODE ON
  ARCHIVE_OUTPUT_DIRECTORY "${CMAKE_BINARY_DIR}/lib")
add_custom_command(TARGET nccl_static POST_BUILD
  COMMAND "${CMAKE_COMMAND}" -E echo compiled >> "${CMAKE_BINARY_DIR}/compiles.log")
file(WRITE "${CMAKE_BINARY_DIR}/received.json" "{
  \\"CMAKE_CUDA_ARCHITECTURES\\": \\"${CMAKE_CUDA_ARCHITECTURES}\\",
  \\"CMAKE_CUDA_COMPILER_LAUNCHER\\": \\"${CMAKE_CUDA_COMPILER_LAUNCHER}\\",
  \\"CMAKE_CXX_COMPILER_LAUNCHER\\": \\"${CMAKE_CXX_COMPILER_LAUNCHER}\\",
  \\"CMAKE_CUDA_FLAGS\\": \\"${CMAKE_CUDA_FLAGS}\\",
  \\"CMAKE_BUILD_TYPE\\": \\"${CMAKE_BUILD_TYPE}\\"
}")
"""

# Older NCCL: a Makefile only.  `make src.build BUILDDIR=...` is the entry point ncclkit uses.
_SOURCE_MAKEFILE = """\
BUILDDIR ?= build
src.build: $(BUILDDIR)/lib/libnccl_static.a
\tprintf '{"NVCC_GENCODE": "%s", "NVCC": "%s", "CUDA_HOME": "%s", "jobs": "%s"}' \\
\t  "$(NVCC_GENCODE)" "$(NVCC)" "$(CUDA_HOME)" "$(filter -j%,$(MAKEFLAGS))" > $(BUILDDIR)/received.json
$(BUILDDIR)/lib/libnccl_static.a: src/version.cc src/nccl.h
\tmkdir -p $(BUILDDIR)/include $(BUILDDIR)/lib $(BUILDDIR)/obj
\tcp src/nccl.h $(BUILDDIR)/include/nccl.h
\t$(CXX) -fPIC -c src/version.cc -o $(BUILDDIR)/obj/version.o
\tar rcs $@ $(BUILDDIR)/obj/version.o
\techo compiled >> $(BUILDDIR)/compiles.log
"""


def source_tree(root: Path, version: str, *, style: str) -> Path:
    """An NCCL checkout of `version` whose build is CMake (style="cmake") or a Makefile ("make")."""
    major, minor, patch = version.split(".")
    (root / "makefiles").mkdir(parents=True)
    (root / "makefiles" / "version.mk").write_text(
        f"NCCL_MAJOR   := {major}\nNCCL_MINOR   := {minor}\nNCCL_PATCH   := {patch}\n"
        "NCCL_SUFFIX  :=\nPKG_REVISION := 1\n"
    )
    (root / "src").mkdir()
    header = _SOURCE_HEADER.format(major=major, minor=minor, patch=patch, code=version_code(version))
    (root / "src" / "nccl.h").write_text(header)
    (root / "src" / "version.cc").write_text(_SOURCE_LIBRARY)
    if style == "cmake":
        (root / "CMakeLists.txt").write_text(_SOURCE_CMAKELISTS)
    (root / "Makefile").write_text(_SOURCE_MAKEFILE)
    return root


def rocm_tree(prefix: Path, version: str, *, flat: bool = False) -> tuple[Path, Path]:
    """RCCL as ROCm installs it: include/rccl/rccl.h (include/rccl.h when `flat`, as before
    ROCm 5.x) with NCCL-compatible version macros, and lib/librccl.so -> librccl.so.1.

    Returns the include directory and the library.
    """
    header = prefix / "include" / ("rccl.h" if flat else "rccl/rccl.h")
    write_header(header.parent, version)
    (header.parent / "nccl.h").rename(header)
    lib = prefix / "lib"
    lib.mkdir(parents=True)
    (lib / "librccl.so.1.0").write_bytes(b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 56)
    (lib / "librccl.so.1").symlink_to("librccl.so.1.0")
    (lib / "librccl.so").symlink_to("librccl.so.1")
    return prefix / "include", lib / "librccl.so"


def rccl_api_tree(prefix: Path, nccl_header: Path) -> tuple[str, Path]:
    """An RCCL install with the real NCCL API, to compile against: include/rccl/rccl.h is
    `nccl_header` (a real nccl.h) in HIP's spelling, as RCCL ships it, and lib/librccl.so is an
    empty library with RCCL's soname. It links; nothing in it runs.

    Returns the header's version and the library.
    """
    text = nccl_header.read_text()
    for cuda, hip in (
        ("<cuda_runtime.h>", "<hip/hip_runtime.h>"),
        ("<cuda_fp16.h>", "<hip/hip_fp16.h>"),
        ("cudaStream_t", "hipStream_t"),
        ("cudaEvent_t", "hipEvent_t"),
    ):
        text = text.replace(cuda, hip)
    header = prefix / "include" / "rccl" / "rccl.h"
    header.parent.mkdir(parents=True)
    header.write_text(text)
    macros = dict(re.findall(r"^#define NCCL_(MAJOR|MINOR|PATCH) +(\d+)", text, re.M))
    lib = prefix / "lib"
    lib.mkdir(parents=True)
    empty = lib / "empty.c"
    empty.write_text("")
    subprocess.run(
        ["cc", "-shared", "-Wl,-soname,librccl.so.1", "-o", str(lib / "librccl.so.1"), str(empty)], check=True
    )
    (lib / "librccl.so").symlink_to("librccl.so.1")
    return f"{macros['MAJOR']}.{macros['MINOR']}.{macros['PATCH']}", lib / "librccl.so"
