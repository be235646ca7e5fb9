"""The rules on what an index and pip read: the file name, the tags, the version's label, the
requirements, the size."""

from __future__ import annotations

import email
import email.message
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from . import wheel_name
from .contents import Extension
from .results import Result, Status

# A wheel of ncclkit's own is a few MiB; past this, something (an arch list, a grafted library)
# has grown that an index and every download pay for.
DEFAULT_SIZE_BUDGET_MIB = 50


def _named_otherwise(
    said: wheel_name.WheelName, metadata: email.message.Message, wheel_info: email.message.Message
) -> list[str]:
    """Where the parsed file name ``said`` disagrees with METADATA or WHEEL."""
    tag_lines = wheel_info.get_all("Tag") or []
    distribution, build = wheel_name.spelled(metadata["Name"]), wheel_info["Build"] or "none"
    compared = [  # what, as the file name says it, where else, as that says it, and whether the two differ
        ("distribution", said.distribution, "METADATA", distribution, said.distribution != distribution),
        ("version", said.version, "METADATA", metadata["Version"], said.version != Version(metadata["Version"])),
        ("build", said.build or "none", "WHEEL", build, (said.build or "none") != build),
        (
            "tags",
            f"{said.python}-{said.abi}-{said.platform}",
            "WHEEL",
            ", ".join(tag_lines) or "none",
            said.tags != wheel_name.wheel_tags(wheel_info),
        ),
    ]
    return [
        f"the file name says {what} {named}, {where} says {inside}"
        for what, named, where, inside, differs in compared
        if differs
    ]


def file_name(wheel: Path, dist_info: Path, metadata: email.message.Message) -> Result:
    """The file name is what the wheel holds: METADATA's name and version, WHEEL's build and tags, and the
    .dist-info directory of that name and version. pip and an index believe the name, not the contents."""
    wheel_info = email.message_from_string((dist_info / "WHEEL").read_text())
    expected = wheel_name.expected_file_name(metadata, wheel_info)
    rename = f"rename the file to {expected}, the name its METADATA and WHEEL give, or rebuild"
    rebuild = "rebuild: the file name, METADATA, WHEEL and the .dist-info directory come from one build"
    said = wheel_name.WheelName.parse(wheel.name)
    if said is None:
        return Result(
            "file name",
            Status.FAIL,
            f"{wheel.name} is not a wheel's file name, {wheel_name.PATTERN}. Fix: {rename if expected else rebuild}",
        )
    wrong = _named_otherwise(said, metadata, wheel_info)
    dist_info_name = wheel_name.dist_info_name(metadata)
    inside_agrees = dist_info.name == dist_info_name
    if not inside_agrees:
        wrong.append(f"the .dist-info directory is {dist_info.name}, METADATA says {dist_info_name}")
    if not wrong:
        return Result("file name", Status.OK, f"{wheel.name} is the name, version and tags its METADATA and WHEEL give")
    fix = rename if expected and inside_agrees else rebuild  # renaming the file cannot mend what is inside
    return Result("file name", Status.FAIL, f"{'; '.join(wrong)}. Fix: {fix}")


def python_tag(wheel: Path, extensions: list[Extension]) -> Result:
    said = wheel_name.WheelName.parse(wheel.name)
    if said is None:
        return Result("python tag", Status.SKIP, "not looked at: the file name has no tags (see the file name rule)")
    wanted = {"cp" + "".join(e.record["python"]["version"].split(".")[:2]) for e in extensions}
    if {t.interpreter for t in said.tags} == {t.abi for t in said.tags} == wanted and len(wanted) == 1:
        return Result("python tag", Status.OK, f"{said.python}-{said.abi}, the Python the extensions were built for")
    return Result(
        "python tag",
        Status.FAIL,
        f"the wheel is tagged {said.python}-{said.abi}, its extensions were built for {', '.join(sorted(wanted))}. "
        "Fix: build the wheel with the interpreter it is for (python3.X -m pip wheel .)",
    )


def version_label(version: str, name: str, extensions: list[Extension]) -> Result:
    cuda = {e.record["cuda"]["runtime_version"] for e in extensions if "cuda" in e.record}
    if len(cuda) != 1:
        return Result("CUDA label", Status.FAIL, f"the build records name CUDA {sorted(cuda) or 'none'}; expected one")
    major, minor = Version(next(iter(cuda))).release[:2]
    label = Version(version).local
    if label == f"cu{major}{minor}" or (not label and canonicalize_name(name).endswith(f"-cu{major}")):
        return Result(
            "CUDA label", Status.OK, f"{name} {version} is for CUDA {major}.{minor}, as the build records say"
        )
    return Result(
        "CUDA label",
        Status.FAIL,
        f"{name} {version} does not name CUDA {major}.{minor}, which its extensions were built with. "
        f"Fix: label it +cu{major}{minor} (NCCLKIT_LOCAL_VERSION), or name it {name}-cu{major} for an index",
    )


def _floor_requirement(nccl: dict[str, Any]) -> str | None:
    """The nvidia-nccl wheel an extension links, from its floor on, as its build recorded it; for a
    record from before floors, from the header's version."""
    if "requirement" in nccl:
        return nccl["requirement"]
    return f"{nccl['wheel']}>={nccl['version']},<{Version(nccl['version']).major + 1}" if nccl["wheel"] else None


def requirements(metadata: email.message.Message, extensions: list[Extension]) -> Result:
    required = sorted(
        r
        for r in metadata.get_all("Requires-Dist") or []
        if canonicalize_name(Requirement(r).name).startswith("nvidia-nccl")
    )
    wanted = sorted({_floor_requirement(e.record["nccl"]) for e in extensions} - {None})
    # Compared as requirements: >=2.27.7,<3 and <3,>=2.27.7 are one.
    if set(map(Requirement, required)) == set(map(Requirement, wanted)):
        return Result("requirements", Status.OK, ", ".join(required) or "no nvidia-nccl wheel, none linked")
    floors = ", ".join(
        sorted({f"{e.record['nccl']['floor']} ({e.name})" for e in extensions if e.record["nccl"].get("floor")})
    )
    return Result(
        "requirements",
        Status.FAIL,
        f"METADATA requires {required or 'no nvidia-nccl wheel'}; "
        f"the NCCL the extensions link, from their floor ({floors or 'none recorded'}), needs {wanted or 'none'}. "
        "Fix: build through ncclkit's backend, which writes them from the build record",
    )


def size(wheel: Path, budget_mib: float) -> Result:
    mib = wheel.stat().st_size / 2**20
    if mib <= budget_mib:
        return Result("size", Status.OK, f"{mib:.1f} MiB, budget {budget_mib:g} MiB")
    return Result(
        "size",
        Status.FAIL,
        f"{mib:.1f} MiB, over the budget of {budget_mib:g} MiB. Fix: build fewer archs (NCCLKIT_CUDA_ARCHS), "
        "or see what auditwheel grafted",
    )
