"""Check a built wheel before publishing it: `python ci/check_wheel.py dist/ncclkit-*.whl`.

The rules are in ci/wheel_check/, beside this file, so Python finds them on its own. They read
the wheel with pyelftools and packaging, which auditwheel depends on: the repair's environment has them.
"""

from __future__ import annotations

import sys

try:
    from wheel_check.cli import main
except ModuleNotFoundError as missing:
    # On stderr, exit 2: ci/repair_wheel.sh reads stdout of --print-excludes as the list to leave out.
    print(
        f"check_wheel: the wheel check needs pyelftools and packaging, and {missing.name} is not installed. "
        "Fix: pip install pyelftools packaging",
        file=sys.stderr,
    )
    sys.exit(2)

if __name__ == "__main__":
    sys.exit(main())
