"""What the bindings compile in follows the header: built against the real nccl.h of NCCL releases
between the floor and today's, ncclkit._comm references exactly the entry points those releases
have, and binds the Python calls and config fields of each release only from it on."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from nccl_headers import configure_against, real_nccl
from ncclkit.config import COMM_FIELDS
from ncclkit.features import nccl_version_code

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


def undefined_nccl_symbols(module: Path) -> set[str]:
    listed = subprocess.run(["nm", "-D", "--undefined-only", str(module)], capture_output=True, text=True, check=True)
    return {line.split()[-1] for line in listed.stdout.splitlines() if line.split()[-1].startswith("nccl")}


@pytest.mark.parametrize("version", ["2.27.7", "2.29.7", "2.30.7"])
def test_bindings_follow_the_header(version: str, tmp_path: Path) -> None:
    build = tmp_path / "build"
    configure_against(*real_nccl(tmp_path / "nccl", version), build)
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
