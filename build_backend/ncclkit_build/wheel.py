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
    """The NCCL wheel the extension was linked against: same CUDA and NCCL major, not older."""
    nccl = build_info["nccl"]
    if nccl["provider"] != "wheel":
        return []
    major = int(nccl["version"].split(".")[0])
    return [f"{nccl['wheel']}>={nccl['version']},<{major + 1}"]


def _with_requirements(metadata: str, requirements: list[str]) -> str:
    # Headers end at the first blank line; the long description follows it.
    headers, sep, body = metadata.partition("\n\n")
    headers = headers.rstrip("\n") + "".join(f"\nRequires-Dist: {r}" for r in requirements)
    return headers + (sep + body if sep else "\n")


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def add_runtime_requirements(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zin:
        entries = [(info, zin.read(info)) for info in zin.infolist()]
    files = {info.filename: data for info, data in entries}
    requirements = runtime_requirements(json.loads(files[NCCL_RECORD])) if NCCL_RECORD in files else []
    if not requirements:
        return
    dist_info = next(name.split("/")[0] for name in files if name.endswith(".dist-info/METADATA"))
    metadata_name, record_name = f"{dist_info}/METADATA", f"{dist_info}/RECORD"
    files[metadata_name] = _with_requirements(files[metadata_name].decode(), requirements).encode()
    records = files[record_name].decode().splitlines()
    records = [
        _record_line(metadata_name, files[metadata_name]) if line.startswith(f"{metadata_name},") else line
        for line in records
    ]
    files[record_name] = ("\n".join(records) + "\n").encode()
    with zipfile.ZipFile(wheel.with_suffix(".tmp"), "w") as zout:
        for info, _ in entries:
            zout.writestr(info, files[info.filename])
    wheel.with_suffix(".tmp").replace(wheel)
