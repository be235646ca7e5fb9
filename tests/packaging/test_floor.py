"""The wheel built from this checkout installs beside every torch: it requires the NCCL of its
floor, not of the header it was built against, and binds what came after the floor weakly."""

from __future__ import annotations

import email
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import fake_libnccl
import pytest

FLOOR = "2.27.7"  # the floor for CUDA 13: the oldest nvidia-nccl-cu13
# torch 2.14.1 pins nvidia-nccl-cu13==2.30.7 (its METADATA; checked below).
TORCH, TORCH_NCCL = "torch==2.14.1", "2.30.7"


def comm_record(unpacked_wheel: Path) -> dict:
    return json.loads((unpacked_wheel / "ncclkit" / "_comm.build.json").read_text())


def test_requires_the_nccl_wheel_from_the_floor_on_whatever_the_header(built_wheel: Path, unpacked_wheel: Path) -> None:
    nccl = comm_record(unpacked_wheel)["nccl"]
    assert (nccl["floor"], nccl["floor_reason"]) == (FLOOR, "the floor for CUDA 13")
    assert nccl["requirement"] == f"nvidia-nccl-cu13>={FLOOR},<3"
    (metadata,) = unpacked_wheel.glob("*.dist-info/METADATA")
    required = email.message_from_string(metadata.read_text()).get_all("Requires-Dist")
    assert [r for r in required if r.startswith("nvidia-nccl")] == [f"nvidia-nccl-cu13>={FLOOR},<3"]


def resolve(wheel: Path, requirement: str, tmp_path: Path) -> dict[str, str]:
    """What `pip install --dry-run` would install for the wheel beside `requirement`, in an empty environment."""
    report = tmp_path / "report.json"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--ignore-installed", "--report", str(report)]
        + [str(wheel), requirement],
        check=True,
    )
    return {i["metadata"]["name"]: i["metadata"]["version"] for i in json.loads(report.read_text())["install"]}


@pytest.mark.parametrize(
    ("beside", "nccl"),
    [(f"nvidia-nccl-cu13=={FLOOR}", FLOOR), (f"nvidia-nccl-cu13=={TORCH_NCCL}", TORCH_NCCL), (TORCH, TORCH_NCCL)],
)
def test_resolves_beside_the_oldest_nccl_and_torchs_pin(
    built_wheel: Path, tmp_path: Path, beside: str, nccl: str
) -> None:
    installed = resolve(built_wheel, beside, tmp_path)
    assert installed["ncclkit"] == built_wheel.name.split("-")[1]
    assert installed["nvidia-nccl-cu13"] == nccl


def test_entry_points_newer_than_the_floor_are_weak_and_the_rest_strong(unpacked_wheel: Path) -> None:
    record = comm_record(unpacked_wheel)
    (comm,) = (unpacked_wheel / "ncclkit").glob("_comm.*.so")
    symbols = fake_libnccl.undefined_nccl_symbols(comm)
    weak = {name for name, kind in symbols.items() if kind == "w"}
    assert weak <= set(record["nccl"]["weak_entry_points"])
    if record["nccl"]["version_code"] >= 23004:  # a header with all three
        assert {"ncclAlltoAll", "ncclCommRevoke", "ncclParamGetAllParameterKeys"} <= weak
    # What the floor has stays a strong reference: a library without it must fail to load.
    assert {"ncclAllReduce", "ncclCommShrink", "ncclGetVersion"} <= {n for n, k in symbols.items() if k == "U"}
    tabled = {e: gate["since"] for gate in record["nccl"]["features"].values() for e in gate["entry_points"]}
    assert all(version(tabled[name]) > version(FLOOR) for name in weak if name in tabled)
    # Every strong reference is to an entry point of the floor's NCCL, or the floor would not load it.
    strong = {name for name, kind in symbols.items() if kind == "U"}
    assert {name: tabled.get(name) for name in strong if version(tabled.get(name, "99.0.0")) > version(FLOOR)} == {}


def version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def test_torch_pins_the_nccl_the_tests_resolve_against(tmp_path: Path) -> None:
    report = tmp_path / "torch.json"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--ignore-installed", "--no-deps"]
        + ["--report", str(report), TORCH],
        check=True,
    )
    (torch,) = json.loads(report.read_text())["install"]
    assert f"nvidia-nccl-cu13=={TORCH_NCCL}" in "".join(torch["metadata"]["requires_dist"]).replace(" ", "")


def test_record_lists_each_feature_with_its_release(unpacked_wheel: Path) -> None:
    record = comm_record(unpacked_wheel)
    features = record["nccl"]["features"]
    assert features["COMM_REVOKE"] == {"since": "2.28.7", "entry_points": ["ncclCommRevoke"]}
    assert features["FP8"] == {"since": "2.24.0", "entry_points": []}
    assert set(features) == {k.removeprefix("NCCLKIT_HAS_") for k in record["features"] if k.startswith("NCCLKIT_HAS_")}
    assert record["nccl"]["required_features"] == []


def test_wheel_holds_the_binding_header_for_consumers(built_wheel: Path) -> None:
    with zipfile.ZipFile(built_wheel) as whl:
        names = set(whl.namelist())
    package = {"nccl.h.in", "NcclkitNcclBinding.cmake", "NcclkitNcclFloor.cmake"}
    assert {f"ncclkit/cmake/{name}" for name in package} <= names
