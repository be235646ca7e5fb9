"""Finish a built wheel with the requirements that only CMake's choices decide."""

from __future__ import annotations

import base64
import hashlib
import json
import zipfile
from pathlib import Path

# The build record of the extension that links NCCL; a build without NCCL has none.
NCCL_RECORD = "ncclkit/_comm.build.json"


def runtime_requirements(build_info: dict) -> list[str]:
    """The nvidia-nccl wheel the extension was linked against, from its floor on, of the same NCCL
    major (cmake/NcclkitNcclFloor.cmake writes it into the record); none for NCCL from elsewhere."""
    requirement = build_info["nccl"]["requirement"]
    return [requirement] if requirement else []


def _with_requirements(metadata: str, requirements: list[str]) -> str:
    # Headers end at the first blank line; the long description follows it.
    headers, sep, body = metadata.partition("\n\n")
    headers = headers.rstrip("\n") + "".join(f"\nRequires-Dist: {r}" for r in requirements)
    return headers + (sep + body if sep else "\n")


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def finish_wheel(wheel: Path) -> None:
    """Add the NCCL requirement from the build record to METADATA (and its line in RECORD), in place."""
    with zipfile.ZipFile(wheel) as zin:
        entries = [(info, zin.read(info)) for info in zin.infolist()]
    files = {info.filename: data for info, data in entries}
    requirements = runtime_requirements(json.loads(files[NCCL_RECORD])) if NCCL_RECORD in files else []
    if not requirements:
        return
    dist_info = next(name.split("/")[0] for name in files if name.endswith(".dist-info/METADATA"))
    files[f"{dist_info}/METADATA"] = _with_requirements(files[f"{dist_info}/METADATA"].decode(), requirements).encode()

    record_name = f"{dist_info}/RECORD"
    records = []
    for line in files[record_name].decode().splitlines():
        name = line.rsplit(",", 2)[0]
        if name == record_name:
            records.append(f"{name},,")
        elif name in files:
            records.append(_record_line(name, files[name]))
    files[record_name] = ("\n".join(records) + "\n").encode()

    with zipfile.ZipFile(wheel.with_suffix(".tmp"), "w") as zout:
        for info, _ in entries:
            zout.writestr(info, files[info.filename])
    wheel.with_suffix(".tmp").replace(wheel)
