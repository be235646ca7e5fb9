"""A wheel's file name, as pip and an index read it (packaging), and the one its METADATA and WHEEL give."""

from __future__ import annotations

import email.message
from dataclasses import dataclass

from packaging.tags import Tag, parse_tag
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

# The binary distribution format's file name, for the message of one that is not.
PATTERN = "{distribution}-{version}(-{build})?-{python}-{abi}-{platform}.whl"


@dataclass(frozen=True)
class WheelName:
    """A parsed file name, with its parts as spelled; each tag part may be a .-separated set
    (manylinux_2_17_x86_64.manylinux2014_x86_64), which ``tags`` expands."""

    distribution: str
    version: Version
    build: str | None
    python: str
    abi: str
    platform: str
    tags: frozenset[Tag]

    @classmethod
    def parse(cls, file_name: str) -> WheelName | None:
        """None where ``file_name`` is not a wheel's."""
        try:
            _, version, _, tags = parse_wheel_filename(file_name)
        except (InvalidWheelFilename, InvalidVersion):
            return None
        parts = file_name.removesuffix(".whl").split("-")
        build = parts[2] if len(parts) == 6 else None
        return cls(parts[0], version, build, *parts[-3:], tags)


def spelled(name: str) -> str:
    """A distribution name as wheel file names spell it: nccl_kit for NCCL-Kit."""
    return canonicalize_name(name).replace("-", "_")


def wheel_tags(wheel_info: email.message.Message) -> frozenset[Tag] | None:
    """Every tag WHEEL's Tag lines name; None where a line is not a tag."""
    try:
        return frozenset(tag for line in wheel_info.get_all("Tag") or [] for tag in parse_tag(line))
    except ValueError:
        return None


def compressed_tags(wheel_info: email.message.Message) -> str | None:
    """The file name's tags for WHEEL's Tag lines; None where no file name stands for exactly them."""
    tags = wheel_tags(wheel_info)
    if not tags:
        return None
    parts = zip(*(line.split("-") for line in wheel_info.get_all("Tag")))
    compressed = "-".join(".".join(dict.fromkeys(part)) for part in parts)  # in WHEEL's order
    return compressed if parse_tag(compressed) == tags else None


def expected_file_name(metadata: email.message.Message, wheel_info: email.message.Message) -> str | None:
    """The file name METADATA and WHEEL give; None where WHEEL's tags make none."""
    tags = compressed_tags(wheel_info)
    build = f"-{wheel_info['Build']}" if wheel_info["Build"] else ""
    return f"{spelled(metadata['Name'])}-{metadata['Version']}{build}-{tags}.whl" if tags else None


def dist_info_name(metadata: email.message.Message) -> str:
    """The .dist-info directory METADATA's name and version give."""
    return f"{spelled(metadata['Name'])}-{metadata['Version']}.dist-info"
