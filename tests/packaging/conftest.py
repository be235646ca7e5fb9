from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def built_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel `pip wheel .` makes from this checkout (NCCLKIT_TEST_WHEEL names one already built)."""
    if os.environ.get("NCCLKIT_TEST_WHEEL"):
        return Path(os.environ["NCCLKIT_TEST_WHEEL"])
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(out), str(REPO)],
        check=True,
    )
    (wheel,) = out.glob("ncclkit-*.whl")
    return wheel


@pytest.fixture(scope="session")
def unpacked_wheel(built_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("unpacked")
    with zipfile.ZipFile(built_wheel) as whl:
        whl.extractall(out)
    return out
