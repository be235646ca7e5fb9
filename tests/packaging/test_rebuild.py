"""`pip wheel` again into the same build directory, under pip's build isolation (a new build
environment at a new path each time): with nothing changed ninja has nothing to do and the wheel
is the same; with one CUDA source changed, that source alone is compiled again. With a system
toolkit, and with NVIDIA's PyPI compiler wheels, which the build environment installs afresh each
time."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pypi_toolkit
import pytest
from checkouts import checkout_copy

CHANGED = Path("src/kernels/rms_norm.cu")
COMPILED = re.compile(r"Building (?:CXX|CUDA) object \S+/(\S+)\.o$", re.MULTILINE)


def pip_wheel(checkout: Path, build_dir: Path, out: Path, env: dict[str, str]) -> tuple[str, Path]:
    command = [sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "--wheel-dir", str(out)]
    command += [f"-Cbuild-dir={build_dir}", str(checkout)]
    proc = subprocess.run(command, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (wheel,) = out.glob("ncclkit-*.whl")
    return proc.stdout + proc.stderr, wheel


@pytest.mark.parametrize("toolkit", ["system", "pypi"])
def test_a_rebuild_compiles_only_what_changed(toolkit: str, tmp_path: Path) -> None:
    checkout = checkout_copy(tmp_path / "ncclkit")
    base = pypi_toolkit.hidden_toolkit_environment(NCCLKIT_CUDA_TOOLKIT="pypi") if toolkit == "pypi" else os.environ
    env = {
        **base,
        "NCCLKIT_CUDA_ARCHS": "90",
        "SOURCE_DATE_EPOCH": "1767225600",
        "NCCLKIT_GIT_COMMIT": "0123456789abcdef0123456789abcdef01234567",  # the copy has no .git
        "SCCACHE_DIR": str(tmp_path / "sccache"),
    }
    build_dir = tmp_path / "build"
    first_log, first = pip_wheel(checkout, build_dir, tmp_path / "one", env)
    assert "rms_norm.cu" in COMPILED.findall(first_log)

    again_log, again = pip_wheel(checkout, build_dir, tmp_path / "two", env)
    assert "ninja: no work to do." in again_log, again_log[-3000:]
    assert again.read_bytes() == first.read_bytes()

    source = checkout / CHANGED
    source.write_text(source.read_text() + "\n__device__ int ncclkit_test_change = 1;\n")
    changed_log, _ = pip_wheel(checkout, build_dir, tmp_path / "three", env)
    assert COMPILED.findall(changed_log) == ["rms_norm.cu"], changed_log[-3000:]
