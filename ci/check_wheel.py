"""Check a built wheel before publishing it: `python ci/check_wheel.py dist/ncclkit-*.whl`.

The rules are ncclkit's own (`ncclkit check-wheel`); this runs them from a checkout, without
installing or importing the package.
"""

from __future__ import annotations

import runpy
from pathlib import Path

RULES = Path(__file__).resolve().parents[1] / "python" / "ncclkit" / "wheel_check.py"

if __name__ == "__main__":
    runpy.run_path(str(RULES), run_name="__main__")
