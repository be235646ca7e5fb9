"""Every ncclkit CMake module can be included any number of times, from a project of any policies:
each sets the policies it is written for and guards its functions. The find modules are read
again by each find_package(NCCL) by design, and set their policies inside a push/pop."""

from __future__ import annotations

from pathlib import Path

import pytest

MODULES = sorted((Path(__file__).resolve().parents[2] / "cmake").glob("Ncclkit*.cmake"))


@pytest.mark.parametrize("module", MODULES, ids=lambda p: p.name)
def test_module_has_its_policies_and_a_guard(module: Path) -> None:
    text = module.read_text()
    assert "\ncmake_policy(VERSION 3.25)" in text
    assert "\ninclude_guard(GLOBAL)\n" in text
    assert text.index("include_guard(GLOBAL)") < text.index("\nfunction(")
