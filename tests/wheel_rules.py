"""The wheel check of ci/wheel_check, for the tests: a build tool, not in the installed package.

Loaded from the checkout under its own name, as `python ci/check_wheel.py` imports it; its
modules are then imported as usual.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "ci" / "wheel_check"


def _load_package() -> None:
    spec = importlib.util.spec_from_file_location(
        PACKAGE.name, PACKAGE / "__init__.py", submodule_search_locations=[str(PACKAGE)]
    )
    sys.modules[PACKAGE.name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sys.modules[PACKAGE.name])


_load_package()
check = importlib.import_module("wheel_check.check")
cli = importlib.import_module("wheel_check.cli")
elf = importlib.import_module("wheel_check.elf")
results = importlib.import_module("wheel_check.results")
tools = importlib.import_module("wheel_check.tools")

dynamic_section = elf.dynamic_section
exported_symbols = elf.exported_symbols
imported_symbols = elf.imported_symbols
