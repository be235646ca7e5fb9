"""What the bindings compile in follows the header: built against the real nccl.h of NCCL releases
between the floor and today's, ncclkit._comm references exactly the entry points those releases
have, and binds the Python calls and config fields of each release only from it on."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from ncclkit.config import COMM_FIELDS
from ncclkit.features import nccl_version_code

REPO = Path(__file__).resolve().parents[2]

# A Python call of the bindings, by the name pybind11 gives it, and the release that brought it.
CALLS = {
    "register_window": "2.27.0",
    "shrink": "2.27.0",
    "revoke": "2.28.7",
    "grow": "2.29.0",
    "put_signal": "2.29.0",
    "window_user_ptr": "2.29.0",
    "suspend": "2.29.7",
    "memory_stat": "2.29.7",
    "set_encryption": "2.32.0",
}


def header_of(version: str, root: Path) -> Path:
    """The include directory of NCCL `version`'s real nccl.h, from its nvidia-nccl-cu13 wheel."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--only-binary=:all:",
            *("--platform", "manylinux_2_18_x86_64", "--platform", "manylinux_2_17_x86_64"),
            "--dest",
            str(root),
            f"nvidia-nccl-cu13=={version}",
        ],
        check=True,
    )
    (wheel,) = root.glob("*.whl")
    include = root / "include"
    include.mkdir()
    with zipfile.ZipFile(wheel) as whl:
        (include / "nccl.h").write_bytes(whl.read("nvidia/nccl/include/nccl.h"))
    wheel.unlink()  # 200 MB, read for one header
    return include


def stand_in_library(root: Path, version: str) -> Path:
    """A libnccl.so.2 that names `version` and defines nothing: _comm may leave NCCL undefined."""
    lib = root / "lib"
    lib.mkdir()
    source = root / "banner.c"
    source.write_text(f'const char ncclkit_test_banner[] = "NCCL version {version}+cuda13.0";\n')
    subprocess.run(
        ["cc", "-shared", "-fPIC", "-Wl,-soname,libnccl.so.2", "-o", str(lib / "libnccl.so.2"), str(source)], check=True
    )
    (lib / "libnccl.so").symlink_to("libnccl.so.2")
    return lib


def undefined_nccl_symbols(module: Path) -> set[str]:
    listed = subprocess.run(["nm", "-D", "--undefined-only", str(module)], capture_output=True, text=True, check=True)
    return {line.split()[-1] for line in listed.stdout.splitlines() if line.split()[-1].startswith("nccl")}


@pytest.mark.parametrize("version", ["2.27.7", "2.29.7", "2.30.7"])
def test_bindings_follow_the_header(version: str, tmp_path: Path) -> None:
    import pybind11

    include = header_of(version, tmp_path / "nccl")
    lib = stand_in_library(tmp_path / "nccl", version)
    build = tmp_path / "build"
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
    subprocess.run(["cmake", "--build", str(build), "--target", "_comm"], check=True, capture_output=True)
    (module,) = (build / "src").glob("_comm*.so")
    record = json.loads((build / "src" / "_comm.build.json").read_text())
    code = nccl_version_code(version)

    gates = record["nccl"]["features"]
    header_has = {
        e for gate in gates.values() if nccl_version_code(gate["since"]) <= code for e in gate["entry_points"]
    }
    referenced = undefined_nccl_symbols(module)
    assert referenced <= header_has, sorted(referenced - header_has)
    # What the floor (2.27.7) lacks is bound weakly: the record lists it.
    weak = set(record["nccl"]["weak_entry_points"])
    assert {"ncclPutSignal", "ncclCommGrow", "ncclAlltoAll"} & referenced <= weak

    binary = module.read_bytes()
    for call, since in CALLS.items():
        assert (call.encode() + b"\0" in binary) == (nccl_version_code(since) <= code), call
    for field, spec in COMM_FIELDS.items():
        assert (field.encode() + b"\0" in binary) == (nccl_version_code(spec.since) <= code), field
    # Each release's entry points are called from it on (ncclParam* from 2.30.4: by nm alone).
    expected = {"ncclCommWindowRegister": "2.27.0", "ncclGather": "2.28.0", "ncclPutSignal": "2.29.0"}
    expected |= {"ncclCommSuspend": "2.29.7", "ncclParamGetParameter": "2.30.4", "ncclSetEncryption": "2.32.0"}
    assert {name for name in expected if name in referenced} == {
        name for name, since in expected.items() if nccl_version_code(since) <= code
    }
