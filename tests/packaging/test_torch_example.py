"""examples/torch_extension, a torch extension built twice with ncclkit_add_extension: NCCL TORCH
(_ops) and NCCL TORCH STABLE_ABI (_stable_ops), without build isolation against the torch and the
ncclkit installed here, then imported.

A CPU torch (CI's) builds and runs each op's schema and its fake (Meta) implementation only: the
CUDA implementations need a CUDA torch (the CUDA stream of ATen or of torch's C shim,
libc10_cuda) and are built and run by tests/gpu/test_torch_example_on_gpu.py."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import fake_torch
import pytest
from wheel_rules import dynamic_section, imported_symbols

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "torch_extension"
pytestmark = pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="needs torch (CI: torch==2.13.0)")


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example installed into a directory of its own."""
    target = tmp_path_factory.mktemp("torch_example")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-build-isolation", "--no-deps", "--quiet"]
        + ["--target", str(target), str(EXAMPLE)],
        check=True,
        env={**os.environ, "NCCLKIT_CUDA_ARCHS": "80-real"},
    )
    return target


def run_python(target: Path, code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=target,
        env={**os.environ, "PYTHONPATH": str(target)},
    )


def test_the_record_holds_the_torch_built_against(target: Path) -> None:
    record = json.loads((target / "ncclkit_torch_example" / "_ops.build.json").read_text())
    assert record["module"] == "ncclkit_torch_example._ops"
    assert record["torch"] == fake_torch.record_of_installed()
    assert record["cuda"]["cudart"] == "shared"
    assert record["nccl"]["floor"]


def test_both_modules_are_of_the_python_limited_api(target: Path) -> None:
    """wheel.py-api = "cp310": one wheel for every Python from 3.10, as its tag says."""
    package = target / "ncclkit_torch_example"
    assert sorted(p.name for p in package.glob("*.so")) == ["_ops.abi3.so", "_stable_ops.abi3.so"]
    for name in ("_ops", "_stable_ops"):
        assert json.loads((package / f"{name}.build.json").read_text())["python"]["limited_api"] == "3.10"
    (wheel_file,) = target.glob("ncclkit_torch_example-*.dist-info/WHEEL")
    assert "Tag: cp310-abi3-linux_x86_64" in wheel_file.read_text()
    assert not [name for name in imported_symbols(package / "_ops.abi3.so") if name.startswith("_Py")]


def test_the_stable_record_holds_its_target_release(target: Path) -> None:
    record = json.loads((target / "ncclkit_torch_example" / "_stable_ops.build.json").read_text())
    assert record["module"] == "ncclkit_torch_example._stable_ops"
    assert record["torch"] == fake_torch.record_of_installed("stable_abi", "2.10")


# The namespaces of torch's C++ API (c10::, at::, torch::), mangled: what a TORCH build calls and
# a STABLE_ABI build must not, or it would need the torch it was built against.
UNSTABLE_PREFIXES = ("_ZN3c10", "_ZNK3c10", "_ZN2at", "_ZNK2at", "_ZN5torch", "_ZNK5torch")


def test_the_stable_build_needs_nothing_of_torchs_cpp_api(target: Path) -> None:
    (stable,) = (target / "ncclkit_torch_example").glob("_stable_ops.*.so")
    (unstable,) = (target / "ncclkit_torch_example").glob("_ops.*.so")
    needed = imported_symbols(stable)
    assert not sorted(name for name in needed if name.startswith(UNSTABLE_PREFIXES))
    assert any(name.startswith(("aoti_torch_", "torch_")) for name in needed)  # the C shim it calls instead
    assert any(name.startswith(UNSTABLE_PREFIXES) for name in imported_symbols(unstable))


def test_the_extension_links_torch_and_finds_it_beside_itself(target: Path) -> None:
    (extension,) = (target / "ncclkit_torch_example").glob("_ops.*.so")
    entries = dynamic_section(extension)
    assert {"libc10.so", "libtorch_cpu.so"} <= set(entries["NEEDED"])
    assert "libcudart_static.a" not in entries["NEEDED"]
    assert entries.get("RUNPATH", entries.get("RPATH"))[0] == "$ORIGIN/../torch/lib"


def test_the_op_is_registered_with_its_fake_implementation(target: Path) -> None:
    proc = run_python(
        target,
        "import json, torch, ncclkit_torch_example\n"
        "from torch._subclasses.fake_tensor import FakeTensorMode\n"
        "op = torch.ops.ncclkit_torch_example.fused_add_all_reduce\n"
        "meta = op(torch.empty(3, 4, device='meta'), torch.empty(3, 4, device='meta'), 2.0, 1)\n"
        "with FakeTensorMode():\n"
        "    fake = op(torch.empty(5, 2), torch.empty(5, 2), 0.5, 1)\n"
        "try:\n"
        "    op(torch.empty(3, device='meta'), torch.empty(3, device='meta', dtype=torch.float64), 1.0, 1)\n"
        "except RuntimeError as error:\n"
        "    dtype_error = str(error).splitlines()[0]\n"
        "print(json.dumps([str(op.default._schema), list(meta.shape), str(meta.device), list(fake.shape),\n"
        "                  dtype_error]))",
    )
    assert proc.returncode == 0, proc.stderr
    schema, meta_shape, meta_device, fake_shape, dtype_error = json.loads(proc.stdout)
    assert schema == (
        "ncclkit_torch_example::fused_add_all_reduce(Tensor x, Tensor residual, float alpha, int comm) -> Tensor"
    )
    assert (meta_shape, meta_device, fake_shape) == ([3, 4], "meta", [5, 2])
    assert dtype_error == "fused_add_all_reduce: x and residual must be float32, got Float and Double"


def test_the_stable_op_is_registered_with_its_fake_implementation(target: Path) -> None:
    proc = run_python(
        target,
        "import json, torch, ncclkit_torch_example\n"
        "op = torch.ops.ncclkit_torch_example_stable.fused_add_all_reduce\n"
        "meta = op(torch.empty(3, 4, device='meta'), torch.empty(3, 4, device='meta'), 2.0, 1)\n"
        "errors = []\n"
        "for residual in (torch.empty(3, device='meta', dtype=torch.float64), torch.empty(4, device='meta')):\n"
        "    try:\n"
        "        op(torch.empty(3, device='meta'), residual, 1.0, 1)\n"
        "    except RuntimeError as error:\n"
        "        errors.append(str(error).splitlines()[0])\n"
        "print(json.dumps([str(op.default._schema), list(meta.shape), errors]))",
    )
    assert proc.returncode == 0, proc.stderr
    schema, meta_shape, errors = json.loads(proc.stdout)
    assert schema.startswith("ncclkit_torch_example_stable::fused_add_all_reduce(Tensor x, Tensor residual")
    assert meta_shape == [3, 4]
    # STD_TORCH_CHECK puts the function, file and line of the check before its message.
    assert len(errors) == 2
    assert errors[0].endswith("fused_add_all_reduce: x and residual must be float32")
    assert errors[1].endswith("fused_add_all_reduce: x and residual must have one shape")


def test_a_cpu_tensor_is_refused_by_torch_naming_the_backend(target: Path) -> None:
    """The op has no CPU implementation (and with a CPU torch, no CUDA one)."""
    proc = run_python(
        target,
        "import torch, ncclkit_torch_example\n"
        "torch.ops.ncclkit_torch_example.fused_add_all_reduce(torch.ones(2), torch.ones(2), 1.0, 1)",
    )
    assert proc.returncode == 1
    assert (
        "NotImplementedError: Could not run 'ncclkit_torch_example::fused_add_all_reduce' with arguments from the "
        "'CPU' backend"
    ) in proc.stderr


def test_the_python_wrapper_wants_an_ncclkit_communicator(target: Path) -> None:
    proc = run_python(
        target,
        "import torch, ncclkit_torch_example\n"
        "x = torch.ones(2, device='meta')\n"
        "ncclkit_torch_example.fused_add_all_reduce(x, x, 1.0, 1234)",
    )
    assert proc.returncode == 1
    assert "TypeError: comm: expected an ncclkit.Communicator, got int" in proc.stderr


@pytest.mark.parametrize(
    ("operands", "expected"),
    [
        (
            "torch.ones(2, device='meta'), torch.ones(2, device='meta').double()",
            "TypeError: residual: expected a float32 tensor, got torch.float64",
        ),
        ("[1.0], torch.ones(2)", "TypeError: x: expected a float32 tensor, got list"),
        (
            "torch.ones(2, device='meta'), torch.ones(3, device='meta')",
            "ValueError: residual: expected the shape of x, (2,), got (3,)",
        ),
        ("torch.ones(2), torch.ones(2)", "ValueError: x and residual must be on one CUDA device, got cpu and cpu"),
    ],
)
def test_the_python_wrapper_checks_the_operands_first(target: Path, operands: str, expected: str) -> None:
    proc = run_python(
        target,
        "import torch, ncclkit_torch_example\n"
        f"ncclkit_torch_example.fused_add_all_reduce({operands}, 1.0, 1234, stable=True)",
    )
    assert proc.returncode == 1
    assert expected in proc.stderr


def test_another_torch_than_the_one_built_against_is_a_compatibility_error(target: Path, tmp_path: Path) -> None:
    """The record says 2.12.0: importing it with this torch is refused before the library loads."""
    import torch

    copy = tmp_path / "copy"
    shutil.copytree(target, copy)
    record_file = copy / "ncclkit_torch_example" / "_ops.build.json"
    record = json.loads(record_file.read_text())
    record["torch"]["version"] = "2.12.0"
    record_file.write_text(json.dumps(record))
    proc = run_python(copy, "import ncclkit_torch_example")
    assert proc.returncode == 1
    assert (
        f"- torch version of ncclkit_torch_example._ops: found torch {torch.__version__}; expected torch 2.12.0, the "
        "one it was built against"
    ) in proc.stderr
    assert "pip install torch==2.12.0, or rebuild ncclkit_torch_example against this torch" in proc.stderr
