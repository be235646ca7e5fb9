"""ncclkit.load() and load_inline() build for real, with CPU-only sources: a pybind11 module, a
torch op linking NCCL (against CI's CPU torch), failures, the cache and its lock. A CUDA kernel
built this way runs in tests/gpu/test_load_on_gpu.py."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import ncclkit
import pytest
from cmake_output import words
from ncclkit import ExtensionBuildError

ADD = """#include <pybind11/pybind11.h>
int add(int a, int b) { return a + b; }
PYBIND11_MODULE(jit_add, m) { m.def("add", &add); }
"""
ARCHS = "80-real"  # one arch: quick to configure for, and nothing here compiles CUDA


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("extensions")


@pytest.fixture(scope="module")
def add_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sources") / "jit_add.cpp"
    path.write_text(ADD)
    return path


def load_in_a_process(source: Path, cache: Path) -> subprocess.Popen[str]:
    code = (
        "import sys, ncclkit\n"
        f"module = ncclkit.load('jit_add', [sys.argv[1]], cache_dir=sys.argv[2], archs={ARCHS!r})\n"
        "print(module.add(4, 5))"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code, str(source), str(cache)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_the_first_load_builds_records_and_imports(cache: Path, add_source: Path) -> None:
    module = ncclkit.load("jit_add", [add_source], cache_dir=cache, archs=ARCHS)
    assert module.add(2, 3) == 5
    (project,) = cache.glob("jit_add-*/")
    record = json.loads((project / "build" / "jit_add.build.json").read_text())
    assert record["module"] == "jit_add"
    assert record["nccl"]["provider"] == "off"
    assert record["torch"] is None
    assert ncclkit.load("jit_add", [add_source], cache_dir=cache, archs=ARCHS) is module


def test_another_process_imports_what_was_built_without_building(cache: Path, add_source: Path) -> None:
    (project,) = cache.glob("jit_add-*/")
    log = project / "build.log"
    built = log.stat().st_mtime_ns
    proc = load_in_a_process(add_source, cache)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert out.strip() == "9"
    assert log.stat().st_mtime_ns == built
    assert len(list(cache.glob("jit_add-*/"))) == 1


def test_processes_that_load_at_once_build_once(tmp_path: Path, add_source: Path) -> None:
    procs = [load_in_a_process(add_source, tmp_path) for _ in range(3)]
    results = [proc.communicate(timeout=600) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0, 0], [err for _, err in results]
    assert [out.strip() for out, _ in results] == ["9", "9", "9"]
    (project,) = tmp_path.glob("jit_add-*/")
    configures = [
        line for line in (project / "build.log").read_text().splitlines() if line.startswith("$ ") and " -S " in line
    ]
    assert len(configures) == 1


def test_a_compile_error_is_raised_with_the_compilers_output(cache: Path, tmp_path: Path) -> None:
    source = tmp_path / "jit_bad.cpp"
    source.write_text("int f() { return undefined_name; }\n")
    with pytest.raises(ExtensionBuildError) as raised:
        ncclkit.load("jit_bad", [source], cache_dir=cache, archs=ARCHS)
    message = str(raised.value)
    assert message.startswith("ncclkit.load('jit_bad'): the build step failed (exit 1); its output ends:")
    assert "jit_bad.cpp:1:" in message
    assert "undefined_name" in message
    assert raised.value.log in message
    assert "undefined_name" in Path(raised.value.log).read_text()
    (project,) = cache.glob("jit_bad-*/")
    assert not (project / "complete").exists()


def test_bad_archs_are_a_configure_error_naming_them(tmp_path: Path, add_source: Path) -> None:
    with pytest.raises(ExtensionBuildError) as raised:
        ncclkit.load("jit_add", [add_source], cache_dir=tmp_path, archs="sm_90")
    message = words(str(raised.value))
    assert "ncclkit.load('jit_add'): the configure step failed (exit 1)" in message
    assert "ncclkit_target_cuda(jit_add) ARCHS: 'sm_90' is not an arch like 80, 90a, 80-real or 90-virtual" in message


def test_load_inline_binds_the_functions_named(cache: Path) -> None:
    module = ncclkit.load_inline(
        "jit_inline",
        "int mul(int a, int b) { return a * b; }",
        functions={"mul": "a times b"},
        cache_dir=cache,
        archs=ARCHS,
    )
    assert module.mul(6, 7) == 42
    assert "a times b" in module.mul.__doc__


TORCH_OPS = """#include <nccl.h>

int64_t nccl_version() {
  int version = 0;
  TORCH_CHECK(ncclGetVersion(&version) == ncclSuccess, "ncclGetVersion failed");
  return version;
}

at::Tensor scaled(const at::Tensor& x, double scale) { return x * scale; }

TORCH_LIBRARY(jit_torch_ops, m) {
  m.def("nccl_version() -> int", &nccl_version);
  m.def("scaled(Tensor x, float scale) -> Tensor", &scaled);
}
"""


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="needs torch (CI: torch==2.13.0)")
def test_a_torch_op_linking_nccl_is_built_inline(tmp_path: Path) -> None:
    """A TORCH extension: a plain module whose library registers ops, against this torch; then its
    record, tampered with, is refused as an installed extension's is."""
    import torch

    ncclkit.load_inline("jit_torch_ops", TORCH_OPS, torch=True, nccl=True, cache_dir=tmp_path, archs=ARCHS)
    assert torch.ops.jit_torch_ops.nccl_version() == ncclkit.get_version()
    x = torch.randn(64, dtype=torch.float64)
    assert torch.equal(torch.ops.jit_torch_ops.scaled(x, 0.75), x * 0.75)
    (project,) = tmp_path.glob("jit_torch_ops-*/")
    record_file = project / "build" / "jit_torch_ops.build.json"
    record = json.loads(record_file.read_text())
    assert record["torch"]["mode"] == "torch"
    assert record["torch"]["version"] == torch.__version__

    record_file.write_text(json.dumps({**record, "torch": {**record["torch"], "version": "2.12.0"}}))
    code = (
        "import sys, ncclkit\n"
        "ncclkit.load_inline('jit_torch_ops', sys.argv[1], torch=True, nccl=True, cache_dir=sys.argv[2], "
        f"archs={ARCHS!r})"
    )
    proc = subprocess.run([sys.executable, "-c", code, TORCH_OPS, str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 1
    assert "ncclkit.errors.CompatibilityError: jit_torch_ops does not match this machine" in proc.stderr
    assert f"found torch {torch.__version__}; expected torch 2.12.0, the one it was built against" in proc.stderr
