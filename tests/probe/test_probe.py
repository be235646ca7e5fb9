"""The bad-input probe: every case of cases.py in a process of its own, with a timeout, judged
by what it must give (probe.verdict). The GPU cases run where a GPU is visible; the others run
everywhere, over a stand-in communicator where there is no GPU."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from cases import CASES, Case  # noqa: E402
from probe import run, verdict  # noqa: E402


def marks(case: Case) -> list[pytest.MarkDecorator]:
    if case.needs == "gpu":
        return [pytest.mark.gpu]
    if case.needs == "cmake" and not shutil.which("cmake"):
        return [pytest.mark.skip(reason="needs cmake")]
    return []


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name, marks=marks(c)) for c in CASES])
def test_case(case: Case) -> None:
    judged = verdict(case, run(case))
    if judged.startswith("skipped: "):
        pytest.skip(judged.removeprefix("skipped: "))
    assert judged == "ok", f"{case.family} / {case.name}: {judged}"


def test_every_family_is_probed() -> None:
    families = {c.family for c in CASES}
    assert families == {
        "arguments",
        "arrays",
        "overlap",
        "lifetime and faults",
        "custom all-reduce",
        "kernels",
        "build inputs",
    }
    assert len({c.name for c in CASES}) == len(CASES), "two cases share a name"
