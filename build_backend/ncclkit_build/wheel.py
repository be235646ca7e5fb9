"""Finish a built wheel with the requirements that only CMake's choices decide."""

from __future__ import annotations

import base64
import hashlib
import json
import re
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


def _renamed(filename: str, old_dist_info: str, new_dist_info: str) -> str:
    top, sep, rest = filename.partition("/")
    return f"{new_dist_info}{sep}{rest}" if top == old_dist_info else filename


def finish_wheel(wheel: Path, name_suffix: str = "") -> Path:
    """Add the NCCL requirement from the build record and, given ``name_suffix`` (``cu13``), rename
    the distribution to ``<name>-<suffix>`` (METADATA, .dist-info, file name; the import package
    stays ``ncclkit``).

    Returns the finished wheel, which replaces ``wheel``.
    """
    with zipfile.ZipFile(wheel) as zin:
        entries = [(info, zin.read(info)) for info in zin.infolist()]
    files = {info.filename: data for info, data in entries}
    requirements = runtime_requirements(json.loads(files[NCCL_RECORD])) if NCCL_RECORD in files else []
    if not requirements and not name_suffix:
        return wheel
    dist_info = next(name.split("/")[0] for name in files if name.endswith(".dist-info/METADATA"))
    new_dist_info = dist_info
    metadata = _with_requirements(files[f"{dist_info}/METADATA"].decode(), requirements)
    if name_suffix:
        metadata = re.sub(r"^Name: (.*)$", rf"Name: \1-{name_suffix}", metadata, count=1, flags=re.MULTILINE)
        # File names spell the name with underscores: ncclkit_cu13-0.1.0.dist-info
        new_dist_info = re.sub(r"^([^-]+)", rf"\1_{name_suffix}", dist_info)
    files[f"{dist_info}/METADATA"] = metadata.encode()

    record_name = f"{dist_info}/RECORD"
    records = []
    for line in files[record_name].decode().splitlines():
        name = line.rsplit(",", 2)[0]
        if name == record_name:
            records.append(f"{_renamed(name, dist_info, new_dist_info)},,")
        elif name in files:
            records.append(_record_line(_renamed(name, dist_info, new_dist_info), files[name]))
    files[record_name] = ("\n".join(records) + "\n").encode()

    stem, new_stem = dist_info.removesuffix(".dist-info"), new_dist_info.removesuffix(".dist-info")
    finished = wheel.with_name(new_stem + wheel.name.removeprefix(stem))
    with zipfile.ZipFile(wheel.with_suffix(".tmp"), "w") as zout:
        for info, _ in entries:
            data = files[info.filename]
            info.filename = _renamed(info.filename, dist_info, new_dist_info)
            zout.writestr(info, data)
    wheel.unlink()
    wheel.with_suffix(".tmp").replace(finished)
    return finished
