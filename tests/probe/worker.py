"""Runs one probe case (python worker.py NAME) and prints what came of it as one JSON line after
RESULT: what it raised, or that it returned. A crash or a hang shows as no such line."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path[:0] = [str(Path(__file__).parent), str(Path(__file__).parents[1])]  # cases, dlpack_capsules

from cases import CASES, Env, Skip  # noqa: E402


def main(name: str) -> None:
    case = next(c for c in CASES if c.name == name)
    from ncclkit import _cuda

    try:
        case.run(Env(gpu=_cuda.device_count() > 0))
    except Skip as e:
        result = {"outcome": "skipped", "message": str(e)}
    except BaseException as e:  # noqa: BLE001 - what it raised is the result
        result = {"outcome": "raised", "types": [t.__name__ for t in type(e).__mro__], "message": str(e)}
    else:
        result = {"outcome": "returned"}
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
