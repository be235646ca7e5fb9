from __future__ import annotations

import functools

import pytest


@functools.cache
def visible_gpus() -> int:
    try:
        from ncclkit import _cuda
    except ImportError:
        return 0
    return _cuda.device_count()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if visible_gpus():
        return
    skip = pytest.mark.skip(
        reason="needs a CUDA GPU and none is visible (run `python -m pytest -m gpu` on a GPU machine)"
    )
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
