"""The check of a built wheel before it is published: `ncclkit check-wheel FILE` (ci/check_wheel.py).

It reads the wheel as an index would see it, and each extension's build record inside it, and
says for every rule what is wrong and what to change. The ELF rules run binutils (readelf, nm)
and, for the archs, the CUDA toolkit's cuobjdump; the manylinux rule runs auditwheel. A rule whose
tool is missing is skipped: it prints as `skip`, and neither passes nor fails.
"""

from __future__ import annotations

import argparse
import contextlib
import email
import enum
import functools
import importlib.util
import itertools
import json
import os
import posixpath
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HELP = "check a built wheel before publishing it; exit 1 when a rule fails"

# A wheel of ncclkit's own is a few MiB; past this, something (an arch list, a grafted library)
# has grown that an index and every download pay for.
DEFAULT_SIZE_BUDGET_MIB = 50


class Status(enum.Enum):
    OK = "ok"
    FAIL = "FAIL"
    SKIP = "skip"  # not looked at (a tool it runs is missing, or the file name has no tags): neither passed nor failed


@dataclass(frozen=True)
class Result:
    rule: str
    status: Status
    detail: str

    def __str__(self) -> str:
        return f"{self.status.value:<4} {self.rule}: {self.detail}"


@dataclass(frozen=True)
class Extension:
    path: Path  # unpacked
    name: str  # inside the wheel, e.g. ncclkit/_comm.cpython-312-x86_64-linux-gnu.so
    record: dict[str, Any]

    @functools.cached_property
    def dynamic(self) -> dict[str, list[str]]:
        """Its NEEDED and RUNPATH/RPATH entries: read once, by the first rule that asks (each runs readelf)."""
        return dynamic_section(self.path)


# Where each tool the rules run comes from, for the message of a rule skipped without it.
_TOOLS = {
    "readelf": "binutils",
    "nm": "binutils",
    "cuobjdump": "CUDA toolkit, or pip install nvidia-cuda-cuobjdump",
    "auditwheel": "pip install auditwheel",
}


def _which(tool: str) -> str | None:
    # cuobjdump is in the CUDA toolkit, which is often not on PATH, or in NVIDIA's wheel of it
    # (nvidia-cuda-cuobjdump: nvidia/cu13/bin).
    places = [Path(os.environ.get("CUDA_HOME", "/usr/local/cuda"), "bin")]
    nvidia = importlib.util.find_spec("nvidia")
    if nvidia and nvidia.submodule_search_locations:
        places += sorted(b for location in nvidia.submodule_search_locations for b in Path(location).glob("*/bin"))
    return shutil.which(tool) or next(filter(None, (shutil.which(tool, path=str(p)) for p in places)), None)


def _run(tool: str, *args: str) -> str:
    found = _which(tool)
    if found is None:
        msg = f"check-wheel needs `{tool}` ({_TOOLS[tool]}) on PATH"
        raise RuntimeError(msg)
    return subprocess.run([found, *args], capture_output=True, text=True, check=False).stdout


def _skipped_without(rule: str, *tools: str) -> Result | None:
    """``rule`` skipped, naming what to install, where a tool it runs is missing; None when every one is there."""
    missing = [f"{tool} is not installed ({_TOOLS[tool]})" for tool in tools if _which(tool) is None]
    return Result(rule, Status.SKIP, "not looked at: " + ", ".join(missing)) if missing else None


def dynamic_section(library: Path) -> dict[str, list[str]]:
    """NEEDED and RUNPATH/RPATH entries, as readelf prints them."""
    out = _run("readelf", "-d", str(library))
    entries: dict[str, list[str]] = {}
    for tag, value in re.findall(r"\((NEEDED|RUNPATH|RPATH)\)\s+\S+.*?\[(.*)\]", out):
        entries.setdefault(tag, []).extend(value.split(":"))
    return entries


def exported_symbols(library: Path) -> set[str]:
    """The names the library defines in its dynamic symbol table."""
    out = _run("nm", "-D", "--defined-only", str(library))
    return {line.split()[-1] for line in out.splitlines() if line.strip()}


# The binary distribution format's file name: {distribution}-{version}(-{build})?-{python}-{abi}-{platform}.whl,
# each tag part possibly a .-separated set (manylinux_2_17_x86_64.manylinux2014_x86_64).
_WHEEL_FILE_NAME = re.compile(
    r"(?P<distribution>[^-]+)-(?P<version>[^-]+)(?:-(?P<build>\d[^-]*))?"
    r"-(?P<python>[^-]+)-(?P<abi>[^-]+)-(?P<platform>[^-]+)\.whl"
)


def _normalized_name(name: str) -> str:
    """A distribution name as wheel file names spell it: nccl_kit for NCCL-Kit."""
    return re.sub(r"[-_.]+", "_", name).lower()


def _expanded_tags(compressed: str) -> set[str]:
    """Every python-abi-platform tag a file name's compressed tags stand for."""
    python, abi, platform = (part.split(".") for part in compressed.split("-"))
    return {"-".join(tag) for tag in itertools.product(python, abi, platform)}


def _compressed_tags(tags: list[str]) -> str | None:
    """The file name's tags for WHEEL's Tag lines; None where no file name stands for exactly them."""
    if not tags or any(tag.count("-") != 2 for tag in tags):
        return None
    parts = zip(*(tag.split("-") for tag in tags))
    compressed = "-".join(".".join(dict.fromkeys(part)) for part in parts)  # in WHEEL's order
    return compressed if _expanded_tags(compressed) == set(tags) else None


def _expected_file_name(metadata: email.message.Message, wheel_info: email.message.Message) -> str | None:
    """The file name METADATA and WHEEL give; None where WHEEL's tags make none."""
    tags = _compressed_tags(wheel_info.get_all("Tag") or [])
    build = f"-{wheel_info['Build']}" if wheel_info["Build"] else ""
    return f"{_normalized_name(metadata['Name'])}-{metadata['Version']}{build}-{tags}.whl" if tags else None


def _named_otherwise(
    said: re.Match[str], metadata: email.message.Message, wheel_info: email.message.Message
) -> list[str]:
    """Where the parsed file name ``said`` disagrees with METADATA or WHEEL."""
    tags = wheel_info.get_all("Tag") or []
    compared = [
        ("distribution", said["distribution"], "METADATA", _normalized_name(metadata["Name"])),
        ("version", said["version"], "METADATA", metadata["Version"]),
        ("build", said["build"] or "none", "WHEEL", wheel_info["Build"] or "none"),
    ]
    wrong = [
        f"the file name says {what} {named}, {where} says {inside}"
        for what, named, where, inside in compared
        if named != inside
    ]
    named_tags = "-".join(said.group("python", "abi", "platform"))
    if _expanded_tags(named_tags) != set(tags):
        wrong.append(f"the file name says tags {named_tags}, WHEEL says {', '.join(tags) or 'none'}")
    return wrong


def file_name(wheel: Path, dist_info: Path, metadata: email.message.Message) -> Result:
    """The file name is what the wheel holds: METADATA's name and version, WHEEL's build and tags, and the
    .dist-info directory of that name and version. pip and an index believe the name, not the contents."""
    wheel_info = email.message_from_string((dist_info / "WHEEL").read_text())
    expected = _expected_file_name(metadata, wheel_info)
    rename = f"rename the file to {expected}, the name its METADATA and WHEEL give, or rebuild"
    rebuild = "rebuild: the file name, METADATA, WHEEL and the .dist-info directory come from one build"
    said = _WHEEL_FILE_NAME.fullmatch(wheel.name)
    if said is None:
        return Result(
            "file name",
            Status.FAIL,
            f"{wheel.name} is not a wheel's file name, {{distribution}}-{{version}}(-{{build}})?-{{python}}-{{abi}}-"
            f"{{platform}}.whl. Fix: {rename if expected else rebuild}",
        )
    wrong = _named_otherwise(said, metadata, wheel_info)
    dist_info_name = f"{_normalized_name(metadata['Name'])}-{metadata['Version']}.dist-info"
    inside_agrees = dist_info.name == dist_info_name
    if not inside_agrees:
        wrong.append(f"the .dist-info directory is {dist_info.name}, METADATA says {dist_info_name}")
    if not wrong:
        return Result("file name", Status.OK, f"{wheel.name} is the name, version and tags its METADATA and WHEEL give")
    fix = rename if expected and inside_agrees else rebuild  # renaming the file cannot mend what is inside
    return Result("file name", Status.FAIL, f"{'; '.join(wrong)}. Fix: {fix}")


def python_tag(wheel: Path, extensions: list[Extension]) -> Result:
    said = _WHEEL_FILE_NAME.fullmatch(wheel.name)
    if said is None:
        return Result("python tag", Status.SKIP, "not looked at: the file name has no tags (see the file name rule)")
    python, abi = said["python"], said["abi"]
    wanted = {"cp" + "".join(e.record["python"]["version"].split(".")[:2]) for e in extensions}
    if len(wanted) == 1 and python == abi == next(iter(wanted)):
        return Result("python tag", Status.OK, f"{python}-{abi}, the Python the extensions were built for")
    return Result(
        "python tag",
        Status.FAIL,
        f"the wheel is tagged {python}-{abi}, its extensions were built for {', '.join(sorted(wanted))}. "
        "Fix: build the wheel with the interpreter it is for (python3.X -m pip wheel .)",
    )


def version_label(version: str, name: str, extensions: list[Extension]) -> Result:
    cuda = {e.record["cuda"]["runtime_version"] for e in extensions if "cuda" in e.record}
    if len(cuda) != 1:
        return Result("CUDA label", Status.FAIL, f"the build records name CUDA {sorted(cuda) or 'none'}; expected one")
    major, minor = next(iter(cuda)).split(".")[:2]
    label = version.partition("+")[2]
    if label == f"cu{major}{minor}" or (not label and name.endswith(f"-cu{major}")):
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
    return f"{nccl['wheel']}>={nccl['version']},<{int(nccl['version'].split('.')[0]) + 1}" if nccl["wheel"] else None


def requirements(metadata: email.message.Message, extensions: list[Extension]) -> Result:
    required = sorted(r for r in metadata.get_all("Requires-Dist") or [] if r.startswith("nvidia-nccl"))
    wanted = sorted({_floor_requirement(e.record["nccl"]) for e in extensions} - {None})
    if required == wanted:
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


def rpaths(extensions: list[Extension]) -> Result:
    if skipped := _skipped_without("rpath", "readelf"):
        return skipped
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
    if skipped := _skipped_without("static NCCL hidden", "nm"):
        return skipped
    exported = []
    for e in (e for e in extensions if e.record["nccl"].get("static")):
        exported += [f"{e.name}: {n}" for n in sorted(exported_symbols(e.path)) if re.match(r"p?nccl", n)]
    if exported:
        return Result(
            "static NCCL hidden",
            Status.FAIL,
            f"NCCL symbols exported: {', '.join(exported[:5])}{' ...' if len(exported) > 5 else ''}. "
            "Fix: link with -Wl,--exclude-libs,libnccl_static.a (ncclkit_add_extension does)",
        )
    return Result("static NCCL hidden", Status.OK, "no extension exports an NCCL symbol")


def archs(extensions: list[Extension]) -> Result:
    if skipped := _skipped_without("archs", "cuobjdump"):
        return skipped
    wrong = []
    for e in (e for e in extensions if "cuda" in e.record):
        sass = set(re.findall(r"\.sm_(\w+)\.cubin", _run("cuobjdump", "--list-elf", str(e.path))))
        ptx = set(re.findall(r"\.sm_(\w+)\.ptx", _run("cuobjdump", "--list-ptx", str(e.path))))
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
    what `auditwheel repair --exclude` is given. It reads their dynamic sections: readelf."""
    external = {}
    for e in extensions:
        for library in e.dynamic.get("NEEDED", []):
            reason = _external_reason(library, e.record)
            if reason:
                external[library] = reason
    return external


def bundled_externals(root: Path, extensions: list[Extension]) -> Result:
    if skipped := _skipped_without("external libraries", "readelf"):
        return skipped
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
    if skipped := _skipped_without("manylinux", "auditwheel", "readelf"):
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


@contextlib.contextmanager
def _unpacked(wheel: Path) -> Iterator[tuple[Path, Path, email.message.Message, list[Extension]]]:
    """The unpacked wheel, its .dist-info directory, its METADATA, and every extension with a build record."""
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(wheel) as archive:
        archive.extractall(tmp)
        root = Path(tmp)
        (metadata_file,) = root.glob("*.dist-info/METADATA")
        extensions = []
        for record_file in sorted(root.rglob("*.build.json")):
            (library,) = record_file.parent.glob(record_file.name.removesuffix(".build.json") + ".*.so")
            record = json.loads(record_file.read_text())
            extensions.append(Extension(library, library.relative_to(root).as_posix(), record))
        yield root, metadata_file.parent, email.message_from_string(metadata_file.read_text()), extensions


def check_wheel(wheel: Path, *, size_budget_mib: float = DEFAULT_SIZE_BUDGET_MIB) -> list[Result]:
    with _unpacked(wheel) as (root, dist_info, metadata, extensions):
        if not extensions:
            return [
                Result("build records", Status.FAIL, "no <extension>.build.json in the wheel: ncclkit did not build it")
            ]
        return [
            file_name(wheel, dist_info, metadata),
            python_tag(wheel, extensions),
            version_label(metadata["Version"], metadata["Name"], extensions),
            requirements(metadata, extensions),
            rpaths(extensions),
            bundled_externals(root, extensions),
            static_symbols(extensions),
            archs(extensions),
            size(wheel, size_budget_mib),
            manylinux(wheel, extensions),
        ]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("wheel", type=Path, help="the .whl file")
    parser.add_argument(
        "--size-budget-mib",
        type=float,
        default=DEFAULT_SIZE_BUDGET_MIB,
        help="the largest wheel that passes (default: %(default)s)",
    )
    parser.add_argument(
        "--print-excludes",
        action="store_true",
        help="print, one per line, the libraries `auditwheel repair` must --exclude, and exit",
    )


def print_excludes(wheel: Path) -> int:
    """Print external_libraries(), one per line (ci/repair_wheel.sh reads them); 2 without readelf."""
    if _which("readelf") is None:
        # On stderr: stdout is the list, and an empty one would repair with nothing left out.
        print(
            "check-wheel --print-excludes: readelf is not installed, and it reads which libraries the extensions "
            f"need. Fix: install {_TOOLS['readelf']}",
            file=sys.stderr,
        )
        return 2
    with _unpacked(wheel) as (_, _, _, extensions):
        print("\n".join(sorted(external_libraries(extensions))))
    return 0


def summary(wheel: Path, results: list[Result]) -> str:
    failed = sum(r.status is Status.FAIL for r in results)
    skipped = sum(r.status is Status.SKIP for r in results)
    verdict = f"{failed} rule(s) failed" if failed else "every rule passed"  # CI scripts grep "every rule passed"
    return f"{wheel.name}: {verdict}" + (f", {skipped} skipped" if skipped else "")


def run(args: argparse.Namespace) -> int:
    """Print every rule's result; 1 when one failed (a skipped rule does not)."""
    if not args.wheel.is_file():
        print(f"check-wheel: no such wheel: {args.wheel}")
        return 2
    if args.print_excludes:
        return print_excludes(args.wheel)
    results = check_wheel(args.wheel, size_budget_mib=args.size_budget_mib)
    for result in results:
        print(result)
    print(summary(args.wheel, results))
    return 1 if any(r.status is Status.FAIL for r in results) else 0


if __name__ == "__main__":  # ci/check_wheel.py runs this file from a checkout
    parser = argparse.ArgumentParser(prog="check_wheel", description=HELP)
    add_arguments(parser)
    sys.exit(run(parser.parse_args()))
