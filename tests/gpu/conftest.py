from __future__ import annotations

from collections.abc import Iterator

import ncclkit
import pytest


@pytest.fixture
def comm() -> Iterator[ncclkit.Communicator]:
    with ncclkit.Communicator.init_rank(1, ncclkit.UniqueId.generate(), 0, device=0) as c:
        yield c


@pytest.fixture(scope="module")
def comms() -> Iterator[list[ncclkit.Communicator]]:
    """One communicator per visible GPU, driven by this process."""
    all_comms = ncclkit.Communicator.init_all()
    yield all_comms
    for c in all_comms:
        c.destroy()
