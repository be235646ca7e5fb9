"""Name a repaired wheel for a package index: `python ci/index_name.py WHEEL OUT_DIR`.

An index refuses local version labels (0.1.0+cu130), so a wheel for one is named by the major of
the CUDA (or ROCm) it is built with instead, as NVIDIA and CuPy name theirs:
ncclkit-0.1.0+cu130-...whl becomes ncclkit_cu13-0.1.0-...whl, with Name: ncclkit-cu13 and
Version: 0.1.0 in METADATA, the .dist-info directory renamed and RECORD rewritten; the import
package stays ncclkit. The major is the wheel's own label's, which the build took from its nvcc
(or HIP). ci/repair_wheel.sh runs this after the repair when NCCLKIT_INDEX_NAME=ON, before the
check; it prints the path of the wheel it wrote.
"""

from __future__ import annotations

import argparse
import base64
import email
import hashlib
import re
import sys
import zipfile
from pathlib import Path

from packaging.utils import canonicalize_name
from packaging.version import Version

# A label the build gives (version.py), and the part of it an index name keeps: cu130 -> cu13, rocm6.2 -> rocm6.
_LABELS = (re.compile(r"(cu\d+)\d"), re.compile(r"(rocm\d+)\.\d+"))


def index_suffix(version: Version) -> str:
    """``cu13`` for 0.1.0+cu130, ``rocm6`` for 0.1.0+rocm6.2."""
    for label in _LABELS:
        if version.local and (match := label.fullmatch(version.local)):
            return match[1]
    msg = (
        f"version {version} has no label of a CUDA (+cu130) or ROCm (+rocm6.2) build to name it by. "
        "Fix: build with the label the build gives (leave NCCLKIT_LOCAL_VERSION unset)"
    )
    raise ValueError(msg)


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def index_named(wheel: Path, out_dir: Path) -> Path:
    """The wheel ``wheel`` renamed for an index, written into ``out_dir``."""
    with zipfile.ZipFile(wheel) as archive:
        entries = [(info, archive.read(info)) for info in archive.infolist()]
    members = {info.filename: data for info, data in entries}
    dist_info = next(member.split("/")[0] for member in members if member.endswith(".dist-info/METADATA"))
    metadata = email.message_from_bytes(members[f"{dist_info}/METADATA"])
    version = Version(metadata["Version"])
    name = f"{metadata['Name']}-{index_suffix(version)}"
    # File names spell the name with underscores: ncclkit_cu13-0.1.0.dist-info
    stem = f"{canonicalize_name(name).replace('-', '_')}-{version.public}"

    def renamed(member: str) -> str:
        top, sep, rest = member.partition("/")
        return f"{stem}.dist-info{sep}{rest}" if top == dist_info else member

    text = members[f"{dist_info}/METADATA"].decode()  # the first Name and Version lines are the headers
    text = re.sub(r"^Name: .*$", f"Name: {name}", text, count=1, flags=re.MULTILINE)
    members[f"{dist_info}/METADATA"] = re.sub(
        r"^Version: .*$", f"Version: {version.public}", text, count=1, flags=re.MULTILINE
    ).encode()
    files = {renamed(member): data for member, data in members.items()}
    # The files RECORD lists (no directory entries), each hashed again under its new name.
    listed = [renamed(line.rsplit(",", 2)[0]) for line in members[f"{dist_info}/RECORD"].decode().splitlines()]
    record = f"{stem}.dist-info/RECORD"
    files[record] = "".join(f"{_record_line(n, files[n])}\n" for n in listed if n != record) + f"{record},,\n"

    tags = wheel.name.removesuffix(".whl").split("-")[2:]  # the build tag, if any, and the tags
    named = out_dir / f"{'-'.join([stem, *tags])}.whl"
    with zipfile.ZipFile(named, "w") as archive:
        for info, _ in entries:
            data = files[renamed(info.filename)]
            info.filename = renamed(info.filename)
            archive.writestr(info, data)
    return named


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="index_name", description=__doc__.splitlines()[0])
    parser.add_argument("wheel", type=Path, help="the repaired .whl file")
    parser.add_argument("out_dir", type=Path, help="where the renamed wheel is written")
    args = parser.parse_args(argv)
    try:
        print(index_named(args.wheel, args.out_dir))
    except ValueError as error:
        print(f"index_name: {args.wheel.name}: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
