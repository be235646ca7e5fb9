"""ncclkit.functional without a GPU: the ops' fake implementations, and torch.compile(fullgraph=True)
tracing them into one graph. Running them is tests/gpu's."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

torch = pytest.importorskip("torch")
from ncclkit import Communicator, functional  # noqa: E402
from torch._subclasses.fake_tensor import FakeTensorMode  # noqa: E402


def stand_in(world_size: int) -> Communicator:
    """A communicator object whose NCCL side is never reached: tracing only asks its size."""
    return Communicator(SimpleNamespace(valid=True, world_size=world_size, rank=0, device=0))


def test_fake_shapes_follow_the_world_size() -> None:
    comm = stand_in(4)
    with FakeTensorMode():
        x = torch.empty(8, 3, dtype=torch.bfloat16)
        assert functional.all_reduce(x, comm).shape == (8, 3)
        assert functional.all_gather(x, comm).shape == (32, 3)
        scattered = functional.reduce_scatter(x, comm)
        assert (scattered.shape, scattered.dtype) == ((2, 3), torch.bfloat16)


def test_fake_shapes_of_broadcast_all_to_all_and_point_to_point() -> None:
    comm = stand_in(4)
    with FakeTensorMode():
        x = torch.empty(8, 3)
        assert functional.broadcast(x, comm, root=2).shape == (8, 3)
        assert functional.broadcast_(x, comm) is x
        assert functional.all_to_all(x, comm).shape == (8, 3)
        assert functional.all_to_all_v(x, comm, [1, 2, 3, 2], [4, 0, 1, 0]).shape == (5, 3)
        assert functional.send(x, comm, 1) is None
        assert functional.recv_(x, comm, 3) is x


def test_uneven_splits_count_elements_of_rows() -> None:
    assert functional._element_counts(torch.empty(0, 3), [0, 2]) == [0, 6]  # sends nothing, receives two rows
    assert functional._element_counts(torch.empty(5, 2, 4), [3, 2]) == [24, 16]


def test_reduce_scatter_needs_rows_that_split_among_the_ranks() -> None:
    with FakeTensorMode(), pytest.raises(ValueError, match=r"splits dimension 0 among 3 ranks; .* shape is \(8, 3\)"):
        functional.reduce_scatter(torch.empty(8, 3), stand_in(3))


class Captured(Exception):
    pass


def test_compile_traces_every_collective_into_one_graph() -> None:
    comm = stand_in(2)
    graphs = []

    def capture(graph_module: torch.fx.GraphModule, example_inputs: list) -> None:
        graphs.append(graph_module)
        raise Captured  # the ops need a GPU to run; the graph is what is checked

    def step(x: torch.Tensor) -> torch.Tensor:
        y = functional.all_reduce(x * 2, comm)
        functional.all_reduce_(y, comm, op="max")
        z = functional.reduce_scatter(functional.all_gather(y, comm), comm)
        z = functional.all_to_all_v(functional.all_to_all(functional.broadcast(z, comm), comm), comm, [2, 2], [3, 1])
        functional.send(z, comm, 1)  # no output: kept all the same
        return functional.recv_(functional.broadcast_(z, comm, 1), comm, 1)

    with pytest.raises(Exception, match="Captured"):
        torch.compile(step, fullgraph=True, backend=capture)(torch.randn(4, 5))
    (graph,) = graphs
    called = [str(node.target) for node in graph.graph.nodes if node.op == "call_function"]
    assert [c for c in called if c.startswith("ncclkit.")] == [
        "ncclkit.all_reduce",
        "ncclkit.all_reduce_",
        "ncclkit.all_gather",
        "ncclkit.reduce_scatter",
        "ncclkit.broadcast",
        "ncclkit.all_to_all",
        "ncclkit.all_to_all_v",
        "ncclkit.send",
        "ncclkit.broadcast_",
        "ncclkit.recv_",
    ]


def test_a_destroyed_communicators_key_is_refused() -> None:
    key = stand_in(2).key  # the object is gone: the registry holds it weakly
    with pytest.raises(ValueError, match=f"^no live communicator has key {key}$"):
        Communicator.from_key(key)
