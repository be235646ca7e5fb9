"""The rules on the extensions themselves: where they load libraries from, what is grafted in or
left out, what they export, their device code, and the manylinux tag their symbols allow."""

from __future__ import annotations

import json
import posixpath
import re
import subprocess
from pathlib import Path
from typing import Any

from . import elf, tools
from .contents import Extension
from .results import Result, Status


def rpaths(extensions: list[Extension]) -> Result:
    wrong, missing = [], []
    for e in extensions:
        needed = e.dynamic.get("NEEDED", [])
        paths = e.dynamic.get("RUNPATH", []) + e.dynamic.get("RPATH", [])
        resolved = []
        for p in paths:
            relative = re.sub(r"^\$(ORIGIN|\{ORIGIN\})/?", "", p)
            inside = posixpath.normpath(posixpath.join(posixpath.dirname(e.name), relative))
            if relative == p or inside.startswith(".."):
                wrong.append(f"{e.name}: {p}")
            resolved.append(inside)
        from_wheel = e.record["nccl"]["provider"] == "wheel" and "libnccl.so.2" in needed
        if from_wheel and "nvidia/nccl/lib" not in resolved:
            missing.append(e.name)
    if missing:
        return Result(
            "rpath",
            Status.FAIL,
            f"{', '.join(missing)} load libnccl.so.2 from the nvidia-nccl wheel and have no RPATH to "
            "nvidia/nccl/lib. Fix: if auditwheel grafted a library into the wheel, it dropped that entry "
            "(auditwheel issue #404): repair with --exclude for what it grafted, or restore the RPATH",
        )
    if wrong:
        return Result(
            "rpath",
            Status.FAIL,
            f"RPATH entries outside the wheel and site-packages: {'; '.join(wrong)}. "
            "Fix: take NCCL from the nvidia-nccl wheel (NCCLKIT_NCCL=wheel), or link it statically "
            "(NCCLKIT_NCCL_STATIC=ON)",
        )
    return Result("rpath", Status.OK, "every entry is $ORIGIN-relative and stays in site-packages")


def static_symbols(extensions: list[Extension]) -> Result:
    exported = []
    for e in (e for e in extensions if e.record["nccl"].get("static")):
        exported += [f"{e.name}: {n}" for n in sorted(elf.exported_symbols(e.path)) if re.match(r"p?nccl", n)]
    if exported:
        return Result(
            "static NCCL hidden",
            Status.FAIL,
            f"NCCL symbols exported: {', '.join(exported[:5])}{' ...' if len(exported) > 5 else ''}. "
            "Fix: link with -Wl,--exclude-libs,libnccl_static.a (ncclkit_add_extension does)",
        )
    return Result("static NCCL hidden", Status.OK, "no extension exports an NCCL symbol")


def archs(extensions: list[Extension]) -> Result:
    if skipped := tools.skipped_without("archs", "cuobjdump"):
        return skipped
    wrong = []
    for e in (e for e in extensions if "cuda" in e.record):
        sass = set(re.findall(r"\.sm_(\w+)\.cubin", tools.run("cuobjdump", "--list-elf", str(e.path))))
        ptx = set(re.findall(r"\.sm_(\w+)\.ptx", tools.run("cuobjdump", "--list-ptx", str(e.path))))
        recorded_sass, recorded_ptx = set(e.record["cuda"]["archs_sass"]), set(e.record["cuda"]["archs_ptx"])
        if (sass or ptx) and (sass, ptx) != (recorded_sass, recorded_ptx):
            wrong.append(
                f"{e.name} holds SASS {sorted(sass)}, PTX {sorted(ptx)}; "
                f"its record lists SASS {sorted(recorded_sass)}, PTX {sorted(recorded_ptx)}"
            )
    if wrong:
        detail = "; ".join(wrong) + ". Fix: rebuild; the record and the binary must come from one build"
        return Result("archs", Status.FAIL, detail)
    return Result("archs", Status.OK, "the device code of every extension is the archs its record lists")


def _external_reason(library: str, record: dict[str, Any]) -> str | None:
    """Why the machine the wheel runs on, or another wheel, provides ``library``; None when it is
    auditwheel's to judge (system libraries it allows, or ones it grafts)."""
    nccl = record["nccl"]
    if library == "libcuda.so.1":
        return "the CUDA driver, part of the GPU driver of the machine it runs on"
    if library == "libnccl.so.2" and nccl["provider"] == "wheel":
        return f"from the {nccl['wheel']} wheel it requires, the NCCL torch loads too"
    if library == "libnccl.so.2":
        return f"the NCCL of the machine it runs on (NCCLKIT_NCCL={nccl['provider']})"
    if re.fullmatch(r"libcudart\.so\.\d+", library):
        return "the CUDA runtime, from the CUDA toolkit or the nvidia-cuda-runtime wheel"
    if library == "librccl.so.1" or re.fullmatch(r"libamdhip64\.so\.\d+", library):
        return "the ROCm runtime of the machine it runs on"
    return None


def external_libraries(extensions: list[Extension]) -> dict[str, str]:
    """The libraries the extensions need that must not be in the wheel, each with the reason:
    what `auditwheel repair --exclude` is given."""
    external = {}
    for e in extensions:
        for library in e.dynamic.get("NEEDED", []):
            reason = _external_reason(library, e.record)
            if reason:
                external[library] = reason
    return external


def bundled_externals(root: Path, extensions: list[Extension]) -> Result:
    external = external_libraries(extensions)
    # auditwheel renames what it grafts (libnccl-1a2b3c4d.so.2) into <package>.libs/
    grafted = [
        p.relative_to(root).as_posix()
        for p in root.glob("*.libs/*")
        if re.match(r"lib(nccl|cuda|cudart|rccl|amdhip64)[-.]", p.name)
    ]
    if grafted:
        return Result(
            "external libraries",
            Status.FAIL,
            f"the wheel carries {', '.join(grafted)}, which must come from outside it: a second copy "
            "beside the one torch loads. Fix: auditwheel repair --exclude for each (ci/repair_wheel.sh does)",
        )
    if not external:
        return Result("external libraries", Status.OK, "none: every library is in the wheel or one auditwheel allows")
    left = "; ".join(f"{library}: {reason}" for library, reason in sorted(external.items()))
    return Result("external libraries", Status.OK, f"left out of the wheel on purpose: {left}")


_LEGACY_MANYLINUX = {
    "manylinux1": "manylinux_2_5",
    "manylinux2010": "manylinux_2_12",
    "manylinux2014": "manylinux_2_17",
}


def _oldest_glibc(platform: str) -> tuple[int, int]:
    """The oldest glibc a (possibly compound: manylinux_2_5_x86_64.manylinux1_x86_64) tag claims."""
    versions = []
    for tag in platform.split("."):
        arch_start = tag.index("_x86_64") if "_x86_64" in tag else tag.rindex("_")
        name = _LEGACY_MANYLINUX.get(tag[:arch_start], tag[:arch_start])
        major, minor = name.removeprefix("manylinux_").split("_")
        versions.append((int(major), int(minor)))
    return min(versions)


def manylinux(wheel: Path, extensions: list[Extension]) -> Result:
    if skipped := tools.skipped_without("manylinux", "auditwheel"):
        return skipped
    on_purpose = external_libraries(extensions)  # auditwheel finds these missing, as they are meant to be
    out = subprocess.run(["auditwheel", "show", "--json", str(wheel)], capture_output=True, text=True, check=False)
    try:
        report = json.loads(out.stdout)
    except json.JSONDecodeError:
        return Result("manylinux", Status.FAIL, f"auditwheel show --json failed: {out.stderr.strip()[-500:]}")
    needed_tag = report["sym_tag"]  # what the versioned glibc/libstdc++ symbols allow
    outside = sorted(set(report["external_libs"]) - set(on_purpose))
    if outside:
        return Result(
            "manylinux",
            Status.FAIL,
            f"the extensions need {', '.join(outside)}, which neither the wheel nor the manylinux policy "
            "provides. Fix: repair the wheel with auditwheel (ci/repair_wheel.sh), which copies them in",
        )
    platform = wheel.name.removesuffix(".whl").split("-")[-1]
    left_out = f"; outside it on purpose: {', '.join(sorted(on_purpose))}" if on_purpose else ""
    if not platform.startswith("manylinux"):
        detail = f"{needed_tag} once repaired (ci/repair_wheel.sh); tagged {platform}{left_out}"
        return Result("manylinux", Status.OK, detail)
    if not needed_tag.startswith("manylinux") or _oldest_glibc(platform) < _oldest_glibc(needed_tag):
        return Result(
            "manylinux",
            Status.FAIL,
            f"tagged {platform}, and its symbols need {needed_tag}: it would install where it cannot load. "
            "Fix: build in a manylinux image as old as the tag (cibuildwheel does) and repair with auditwheel",
        )
    return Result("manylinux", Status.OK, f"tagged {platform}, its symbols need {needed_tag}{left_out}")
