"""Runs every probe case here (python tests/probe/report.py [-j JOBS]), each in a process of its
own, and prints each that is not ok, then the count of each verdict by family: the probe's
summary for a note, on a GPU machine or without one."""

from __future__ import annotations

import argparse
import collections
from concurrent.futures import ThreadPoolExecutor

from cases import CASES, Case
from probe import run, verdict


def judge(case: Case, gpu: bool) -> tuple[Case, str]:
    if case.needs == "gpu" and not gpu:
        return case, "skipped: needs a GPU"
    return case, verdict(case, run(case))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-j", "--jobs", type=int, default=4, help="cases run at once (default 4)")
    jobs = parser.parse_args().jobs
    from ncclkit import _cuda

    gpu = _cuda.device_count() > 0
    with ThreadPoolExecutor(jobs) as pool:
        judged = list(pool.map(lambda case: judge(case, gpu), CASES))
    counts: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for case, said in judged:
        kind = said.split(":")[0]
        counts[case.family][kind] += 1
        if kind not in ("ok", "skipped"):
            print(f"{case.family} / {case.name}: {said[:240]}")
    counts["all"] = sum(counts.values(), collections.Counter())
    kinds = sorted({kind for counter in counts.values() for kind in counter})
    widths = [len(kind) + 2 for kind in kinds]
    print(f"\n{'family':<22}" + "".join(f"{kind:>{w}}" for kind, w in zip(kinds, widths)) + f"{'cases':>8}")
    for family, counter in counts.items():
        cells = "".join(f"{counter[kind]:>{w}}" for kind, w in zip(kinds, widths))
        print(f"{family:<22}{cells}{sum(counter.values()):>8}")


if __name__ == "__main__":
    main()
