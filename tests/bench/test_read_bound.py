"""bench/read_bound.py: its XOR, its kernels' build, and (on a GPU) that each kernel reads every byte
of a buffer once, at sizes that end in a partial round and blocks of odd sizes."""

from __future__ import annotations

import importlib.util
import shutil
from functools import reduce
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "read_bound.py"
spec = importlib.util.spec_from_file_location("read_bound", SCRIPT)
read_bound = importlib.util.module_from_spec(spec)
spec.loader.exec_module(read_bound)

needs_nvcc = pytest.mark.skipif(
    not (shutil.which("nvcc") or Path("/usr/local/cuda/bin/nvcc").exists()), reason="needs nvcc (the CUDA toolkit)"
)


@pytest.mark.parametrize("words", [1, 2, 7, 1000, 4097])
def test_xor_all_is_the_xor_of_every_word(words: int) -> None:
    generator = torch.Generator().manual_seed(words)
    data = torch.randint(0, 256, (4 * words,), dtype=torch.uint8, generator=generator)
    raw = bytes(data.tolist())
    expected = reduce(lambda a, b: a ^ b, (int.from_bytes(raw[i : i + 4], "little") for i in range(0, len(raw), 4)))
    assert read_bound.xor_all(data) == expected


@needs_nvcc
def test_kernels_build_for_sm_90(tmp_path: Path) -> None:
    lib = read_bound.build(tmp_path, "90")
    assert (tmp_path / "read_bound.so").is_file()
    invalid_value = 1  # cudaErrorInvalidValue: a kind it does not have, refused before any launch
    assert lib.read_bound(len(read_bound.KINDS), None, 16, 16, read_bound.BLOCKS_PER_SM, None, None) == invalid_value


@pytest.mark.gpu
@needs_nvcc
@pytest.mark.parametrize("kind", range(len(read_bound.KINDS)), ids=read_bound.KINDS)
@pytest.mark.parametrize(("nbytes", "per_block"), [(16 * 1001, 16 * 37), (8_921_088, 17_424), (3 * 2**20, 2**20)])
def test_each_kernel_reads_every_byte_once(tmp_path: Path, kind: int, nbytes: int, per_block: int) -> None:
    lib = read_bound.build(tmp_path, read_bound.device_arch())
    buf = torch.empty(nbytes, dtype=torch.uint8, device="cuda").random_()
    read_bound.check_read(lib, kind, buf, per_block)
