"""Every ncclkit CMake module can be included any number of times, from a project of any policies:
each sets the policies it is written for and guards its functions. The find modules are read
again by each find_package(NCCL) by design, and set their policies inside a push/pop."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import tomllib

MODULES = sorted((Path(__file__).resolve().parents[2] / "cmake").glob("Ncclkit*.cmake"))


@pytest.mark.parametrize("module", MODULES, ids=lambda p: p.name)
def test_module_has_its_policies_and_a_guard(module: Path) -> None:
    text = module.read_text()
    assert "\ncmake_policy(VERSION 3.25)" in text
    assert "\ninclude_guard(GLOBAL)\n" in text
    assert text.index("include_guard(GLOBAL)") < text.index("\nfunction(")


def test_one_pybind11_minimum() -> None:
    """The package's NCCLKIT_PYBIND11_MINIMUM is what pyproject.toml asks pip for, everywhere it asks."""
    repo = Path(__file__).resolve().parents[2]
    config = (repo / "cmake" / "ncclkitConfig.cmake").read_text()
    (minimum,) = re.findall(r"set\(NCCLKIT_PYBIND11_MINIMUM ([0-9.]+)\)", config)
    project = tomllib.loads((repo / "pyproject.toml").read_text())
    requirements = project["build-system"]["requires"] + project["dependency-groups"]["test"]
    asked = [r for r in requirements if r.startswith("pybind11")]
    assert asked and all(r == f"pybind11>={minimum}" for r in asked), asked
