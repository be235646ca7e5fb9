"""Real NCCL headers for the build tests: the nccl.h of a released nvidia-nccl wheel, beside a
stand-in libnccl.so.2 that names the version and defines nothing (a module may leave NCCL's
symbols undefined), so that the real project configures, compiles and links against the header
of a release whose library this machine cannot use."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def real_nccl(root: Path, version: str, *, cuda_major: int = 13) -> tuple[Path, Path]:
    """(include dir, lib dir) of NCCL `version`: the nvidia-nccl-cuXX wheel's nccl.h and a stand-in
    library. The wheel (some hundred MB, read for one header) is deleted."""
    platforms = ["manylinux1_x86_64"] if cuda_major == 12 else ["manylinux_2_18_x86_64", "manylinux_2_17_x86_64"]
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:"]
        + [flag for platform in platforms for flag in ("--platform", platform)]
        + ["--dest", str(root), f"nvidia-nccl-cu{cuda_major}=={version}"],
        check=True,
    )
    (wheel,) = root.glob("*.whl")
    include = root / "include"
    include.mkdir()
    with zipfile.ZipFile(wheel) as whl:
        (include / "nccl.h").write_bytes(whl.read("nvidia/nccl/include/nccl.h"))
    wheel.unlink()
    lib = root / "lib"
    lib.mkdir()
    source = root / "banner.c"
    source.write_text(f'const char ncclkit_test_banner[] = "NCCL version {version}+cuda13.0";\n')
    subprocess.run(
        ["cc", "-shared", "-fPIC", "-Wl,-soname,libnccl.so.2", "-o", str(lib / "libnccl.so.2"), str(source)], check=True
    )
    (lib / "libnccl.so").symlink_to("libnccl.so.2")
    return include, lib


def configure_against(include: Path, lib: Path, build: Path) -> None:
    """Configure this checkout in `build` against that NCCL (a system install, by its directories)."""
    import pybind11

    subprocess.run(
        [
            "cmake",
            "-S",
            str(REPO),
            "-B",
            str(build),
            "-G",
            "Ninja",
            "-DNCCLKIT_NCCL=system",
            f"-DNCCL_INCLUDE_DIR={include}",
            f"-DNCCL_LIB_DIR={lib}",
            "-DNCCLKIT_CUDA_ARCHS=80-real",
            f"-Dpybind11_DIR={pybind11.get_cmake_dir()}",
            f"-DPython_EXECUTABLE={sys.executable}",
        ],
        check=True,
        capture_output=True,
    )
