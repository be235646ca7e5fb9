"""Collectives as torch ops (namespace ``ncclkit``), for torch.compile(fullgraph=True) and CUDA graphs.

A Communicator's methods are plain Python calls into NCCL: torch.compile cannot trace them. These
functions are torch.library custom ops with fake implementations, so a compiled graph holds them
as nodes; they run on torch's current stream, which under CUDA graph capture is the capturing one.
The communicator reaches an op as its ``key``, an integer. Importing this module imports torch.

    x = ncclkit.functional.all_reduce(x, comm)           # a new tensor, the sum over ranks
    ncclkit.functional.all_reduce_(x, comm, op="max")    # in place

Every collective splits and joins along dimension 0 (all_gather, reduce_scatter, all_to_all and
all_to_all_v's splits, as torch's all_to_all_single).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .comm import Communicator


def _like(tensor: Tensor, rows: int) -> Tensor:
    return tensor.new_empty((rows, *tensor.shape[1:]))


@torch.library.custom_op("ncclkit::all_reduce", mutates_args=())
def _all_reduce(tensor: Tensor, comm: int, op: str) -> Tensor:
    out = torch.empty_like(tensor, memory_format=torch.contiguous_format)
    Communicator.from_key(comm).all_reduce(tensor, out, op)
    return out


@_all_reduce.register_fake
def _(tensor: Tensor, comm: int, op: str) -> Tensor:
    return torch.empty_like(tensor, memory_format=torch.contiguous_format)


@torch.library.custom_op("ncclkit::all_reduce_", mutates_args=("tensor",))
def _all_reduce_(tensor: Tensor, comm: int, op: str) -> None:
    Communicator.from_key(comm).all_reduce(tensor, op=op)


@_all_reduce_.register_fake
def _(tensor: Tensor, comm: int, op: str) -> None:
    return None


@torch.library.custom_op("ncclkit::all_gather", mutates_args=())
def _all_gather(tensor: Tensor, comm: int) -> Tensor:
    communicator = Communicator.from_key(comm)
    out = _like(tensor, tensor.shape[0] * communicator.world_size)
    communicator.all_gather(tensor, out)
    return out


@_all_gather.register_fake
def _(tensor: Tensor, comm: int) -> Tensor:
    return _like(tensor, tensor.shape[0] * Communicator.from_key(comm).world_size)


def _scattered_rows(tensor: Tensor, world_size: int) -> int:
    if tensor.dim() == 0 or tensor.shape[0] % world_size:
        msg = f"reduce_scatter splits dimension 0 among {world_size} ranks; the tensor's shape is {tuple(tensor.shape)}"
        raise ValueError(msg)
    return tensor.shape[0] // world_size


@torch.library.custom_op("ncclkit::reduce_scatter", mutates_args=())
def _reduce_scatter(tensor: Tensor, comm: int, op: str) -> Tensor:
    communicator = Communicator.from_key(comm)
    out = _like(tensor, _scattered_rows(tensor, communicator.world_size))
    communicator.reduce_scatter(tensor, out, op)
    return out


@_reduce_scatter.register_fake
def _(tensor: Tensor, comm: int, op: str) -> Tensor:
    return _like(tensor, _scattered_rows(tensor, Communicator.from_key(comm).world_size))


@torch.library.custom_op("ncclkit::broadcast", mutates_args=())
def _broadcast(tensor: Tensor, comm: int, root: int) -> Tensor:
    out = torch.empty_like(tensor, memory_format=torch.contiguous_format)
    Communicator.from_key(comm).broadcast(tensor, out, root)
    return out


@_broadcast.register_fake
def _(tensor: Tensor, comm: int, root: int) -> Tensor:
    return torch.empty_like(tensor, memory_format=torch.contiguous_format)


@torch.library.custom_op("ncclkit::broadcast_", mutates_args=("tensor",))
def _broadcast_(tensor: Tensor, comm: int, root: int) -> None:
    Communicator.from_key(comm).broadcast(tensor, root=root)


@_broadcast_.register_fake
def _(tensor: Tensor, comm: int, root: int) -> None:
    return None


@torch.library.custom_op("ncclkit::all_to_all", mutates_args=())
def _all_to_all(tensor: Tensor, comm: int) -> Tensor:
    out = torch.empty_like(tensor, memory_format=torch.contiguous_format)
    Communicator.from_key(comm).all_to_all(tensor, out)
    return out


@_all_to_all.register_fake
def _(tensor: Tensor, comm: int) -> Tensor:
    return torch.empty_like(tensor, memory_format=torch.contiguous_format)


def _element_counts(tensor: Tensor, splits: list[int]) -> list[int]:
    """Rows of dimension 0 per rank as element counts."""
    row = math.prod(tensor.shape[1:])  # also for a tensor of no rows; 1 for a 0-d one
    return [rows * row for rows in splits]


@torch.library.custom_op("ncclkit::all_to_all_v", mutates_args=())
def _all_to_all_v(tensor: Tensor, comm: int, send_splits: list[int], recv_splits: list[int]) -> Tensor:
    out = _like(tensor, sum(recv_splits))
    Communicator.from_key(comm).all_to_all_v(
        tensor, out, _element_counts(tensor, send_splits), _element_counts(tensor, recv_splits)
    )
    return out


@_all_to_all_v.register_fake
def _(tensor: Tensor, comm: int, send_splits: list[int], recv_splits: list[int]) -> Tensor:
    return _like(tensor, sum(recv_splits))


# Declared as writing `tensor`, which it does not: an op with neither outputs nor writes is dead
# code to torch.compile, which would drop it from the graph.
@torch.library.custom_op("ncclkit::send", mutates_args=("tensor",))
def _send(tensor: Tensor, comm: int, peer: int) -> None:
    Communicator.from_key(comm).send(tensor, peer)


@_send.register_fake
def _(tensor: Tensor, comm: int, peer: int) -> None:
    return None


@torch.library.custom_op("ncclkit::recv_", mutates_args=("tensor",))
def _recv_(tensor: Tensor, comm: int, peer: int) -> None:
    Communicator.from_key(comm).recv(tensor, peer)


@_recv_.register_fake
def _(tensor: Tensor, comm: int, peer: int) -> None:
    return None


def all_reduce(tensor: Tensor, comm: Communicator, op: str = "sum") -> Tensor:
    """A new tensor: ``op`` over the ranks of ``comm`` of ``tensor``."""
    return torch.ops.ncclkit.all_reduce(tensor, comm.key, op)


def all_reduce_(tensor: Tensor, comm: Communicator, op: str = "sum") -> Tensor:
    """``tensor``, reduced over the ranks of ``comm`` in place."""
    torch.ops.ncclkit.all_reduce_(tensor, comm.key, op)
    return tensor


def all_gather(tensor: Tensor, comm: Communicator) -> Tensor:
    """Every rank's ``tensor``, concatenated along dimension 0 in rank order."""
    return torch.ops.ncclkit.all_gather(tensor, comm.key)


def reduce_scatter(tensor: Tensor, comm: Communicator, op: str = "sum") -> Tensor:
    """Block ``rank`` of ``op`` over ranks of ``tensor``, whose dimension 0 splits into world_size blocks."""
    return torch.ops.ncclkit.reduce_scatter(tensor, comm.key, op)


def broadcast(tensor: Tensor, comm: Communicator, root: int = 0) -> Tensor:
    """A new tensor: rank ``root``'s ``tensor`` on every rank."""
    return torch.ops.ncclkit.broadcast(tensor, comm.key, root)


def broadcast_(tensor: Tensor, comm: Communicator, root: int = 0) -> Tensor:
    """``tensor``, overwritten with rank ``root``'s."""
    torch.ops.ncclkit.broadcast_(tensor, comm.key, root)
    return tensor


def all_to_all(tensor: Tensor, comm: Communicator) -> Tensor:
    """Block i of dimension 0 (world_size blocks) to rank i; block r of the result from rank r."""
    return torch.ops.ncclkit.all_to_all(tensor, comm.key)


def all_to_all_v(tensor: Tensor, comm: Communicator, send_splits: list[int], recv_splits: list[int]) -> Tensor:
    """Uneven all_to_all along dimension 0: send_splits[i] rows to rank i, recv_splits[i] rows from
    it, in rank order (torch.distributed.all_to_all_single's output and input split sizes)."""
    return torch.ops.ncclkit.all_to_all_v(tensor, comm.key, list(send_splits), list(recv_splits))


def send(tensor: Tensor, comm: Communicator, peer: int) -> None:
    """``tensor`` to rank ``peer``, which calls recv_()."""
    torch.ops.ncclkit.send(tensor, comm.key, peer)


def recv_(tensor: Tensor, comm: Communicator, peer: int) -> Tensor:
    """``tensor``, overwritten with what rank ``peer`` sends."""
    torch.ops.ncclkit.recv_(tensor, comm.key, peer)
    return tensor
