"""bench/nccl_tests.py without a GPU: the build command, the NCCL home it makes, and the table and
goal from nccl-tests' JSON (its -J layout) beside ncclkit's."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "nccl_tests.py"
spec = importlib.util.spec_from_file_location("nccl_tests", SCRIPT)
nccl_tests = importlib.util.module_from_spec(spec)
spec.loader.exec_module(nccl_tests)

MiB = 2**20


def document(busbw: dict[int, float]) -> dict:
    """Results as both write them: size, count, type, redop, root, and a record per placement."""
    return {
        "results": [
            {
                "size": size,
                "count": size // 4,
                "type": "float32",
                "redop": "sum",
                "root": -1,
                "out_of_place": {"time": 1.0, "alg_bw": bw, "bus_bw": bw, "nwrong": 0},
                "in_place": {"time": 1.0, "alg_bw": bw, "bus_bw": bw, "nwrong": 0},
            }
            for size, bw in busbw.items()
        ]
    }


def busbw(values: dict[int, float]) -> dict[int, float]:
    return nccl_tests.busbw_by_size([document(values)])


def test_busbw_is_the_median_of_the_repeats() -> None:
    runs = [document({64 * MiB: bw, 128 * MiB: 300.0}) for bw in (250.0, 100.0, 240.0)]
    assert nccl_tests.busbw_by_size(runs) == {64 * MiB: 240.0, 128 * MiB: 300.0}


def test_rows_pair_the_sizes_both_ran() -> None:
    theirs = busbw({32 * MiB: 200.0, 64 * MiB: 250.0, 128 * MiB: 300.0})
    ours = busbw({64 * MiB: 247.5, 128 * MiB: 300.0, 256 * MiB: 310.0})
    assert nccl_tests.rows("all_reduce", ours, theirs) == [
        f"| all_reduce | {64 * MiB} | 250.0 | 247.5 | 0.990 |",
        f"| all_reduce | {128 * MiB} | 300.0 | 300.0 | 1.000 |",
    ]


def test_goal_is_the_lowest_ratio_from_64_mib() -> None:
    theirs = busbw({8 * MiB: 100.0, 64 * MiB: 250.0, 128 * MiB: 300.0})
    assert nccl_tests.goal("all_gather", busbw({8 * MiB: 10.0, 64 * MiB: 245.0, 128 * MiB: 300.0}), theirs) == (
        "all_gather: lowest ratio from 64 MiB up 0.980 (met)"
    )
    assert nccl_tests.goal("all_gather", busbw({64 * MiB: 240.0, 128 * MiB: 300.0}), theirs).endswith("0.960 (MISSED)")
    assert nccl_tests.goal("all_gather", busbw({8 * MiB: 1.0}), theirs) == (
        f"all_gather: no size from {64 * MiB} bytes up was run"
    )


def test_build_against_the_loaded_nccl(tmp_path: Path) -> None:
    library = tmp_path / "wheel" / "nvidia" / "nccl" / "lib" / "libnccl.so.2"
    header = tmp_path / "wheel" / "nvidia" / "nccl" / "include" / "nccl.h"
    for path in (library, header):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")
    home = nccl_tests.nccl_home(library, header, tmp_path / "home")
    assert (home / "lib" / "libnccl.so").resolve() == library
    assert (home / "include" / "nccl.h").resolve() == header
    command = nccl_tests.build_command(tmp_path / "src", tmp_path / "out", home, "90;100", ["all_reduce", "all_to_all"])
    assert command[:3] == ["make", "-C", str(tmp_path / "src" / "src")]
    assert command[-4:] == [
        f"NCCL_HOME={home}",
        "NVCC_GENCODE=-gencode=arch=compute_90,code=sm_90 -gencode=arch=compute_100,code=sm_100",
        f"BUILDDIR={(tmp_path / 'out').resolve()}",
        "BIN_FILES_LIST=all_reduce alltoall",  # only what is measured
    ]


def test_unknown_collective_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        nccl_tests.main(["--collectives", "allreduce"])
    assert "unknown collective allreduce: choose from all_reduce, all_gather" in capsys.readouterr().err
