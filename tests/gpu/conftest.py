from __future__ import annotations

from collections.abc import Iterator

import pytest

torch = pytest.importorskip("torch")
import ncclkit  # noqa: E402
from ncclkit import _comm  # noqa: E402

pytestmark = pytest.mark.gpu

TORCH_DTYPES = {
    "int8": torch.int8, "uint8": torch.uint8, "int32": torch.int32, "uint32": torch.uint32,
    "int64": torch.int64, "uint64": torch.uint64, "float16": torch.float16, "float32": torch.float32,
    "float64": torch.float64, "bfloat16": torch.bfloat16,
    "float8_e4m3fn": torch.float8_e4m3fn, "float8_e5m2": torch.float8_e5m2,
}
# Every dtype this build's NCCL has (bfloat16 and fp8 only where the header had them).
DTYPES = sorted(_comm.DTYPES)
OPS = sorted(_comm.OPS)


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
