"""Every rule on one wheel, in the order they print."""

from __future__ import annotations

from pathlib import Path

from . import binary_rules, metadata_rules
from .contents import unpacked
from .results import Result, Status


def check_wheel(wheel: Path, *, size_budget_mib: float = metadata_rules.DEFAULT_SIZE_BUDGET_MIB) -> list[Result]:
    with unpacked(wheel) as (root, dist_info, metadata, extensions):
        if not extensions:
            return [
                Result("build records", Status.FAIL, "no <extension>.build.json in the wheel: ncclkit did not build it")
            ]
        return [
            metadata_rules.file_name(wheel, dist_info, metadata),
            metadata_rules.python_tag(wheel, extensions),
            metadata_rules.version_label(metadata["Version"], metadata["Name"], extensions),
            metadata_rules.requirements(metadata, extensions),
            binary_rules.rpaths(extensions),
            binary_rules.bundled_externals(root, extensions),
            binary_rules.static_symbols(extensions),
            binary_rules.archs(extensions),
            metadata_rules.size(wheel, size_budget_mib),
            binary_rules.manylinux(wheel, extensions),
        ]
