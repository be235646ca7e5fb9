"""Communicators for processes torch.distributed already brought together, and DDP's gradient
all-reduce through them.

The unique id travels through torch's own rendezvous (its TCPStore, or a process group), so
ncclkit adds no protocol of its own.
"""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

from .comm import Communicator, UniqueId
from .rendezvous import leave_store, read_env, tcp_store

# Each init_from_env() call in a process gets its own key, so several communicators can be made.
_store_keys = itertools.count()


def share_unique_id(env: dict[str, str], key: str, timeout: timedelta) -> UniqueId:
    """Rank 0's new UniqueId, on every rank, through the TCPStore at MASTER_ADDR:MASTER_PORT."""
    store = tcp_store(env, timeout)
    rank, world_size = int(env["RANK"]), int(env["WORLD_SIZE"])
    if rank == 0:
        store.set(key, bytes(UniqueId.generate()))
    unique_id = UniqueId(store.get(key))  # waits for rank 0
    leave_store(store, key, rank, world_size)
    return unique_id


def init_from_env(*, timeout: timedelta = timedelta(minutes=5), **config: Any) -> Communicator:
    """This process's communicator from the torchrun environment; the device is LOCAL_RANK."""
    env = read_env()
    rank, world_size = int(env["RANK"]), int(env["WORLD_SIZE"])
    if rank >= world_size:
        msg = f"RANK {rank} is out of range for WORLD_SIZE {world_size}"
        raise ValueError(msg)
    unique_id = share_unique_id(env, f"ncclkit/unique_id/{next(_store_keys)}", timeout)
    return Communicator.init_rank(world_size, unique_id, rank, device=int(env["LOCAL_RANK"]), **config)


def _completed(tensor: Any) -> Any:
    import torch

    # A future bound to the tensor's device: DDP's wait on it orders its stream after ours.
    future = torch.futures.Future(devices=[tensor.device])
    future.set_result(tensor)
    return future


# The hooks' bucket and result carry no annotations: DDP's register_comm_hook accepts there only
# dist.GradBucket and Future[Tensor] themselves, and this module does not import torch.
def allreduce_hook(comm: Communicator, bucket):
    """A DDP communication hook: the bucket's gradients averaged over ``comm``'s ranks by ncclkit.

    ``model.register_comm_hook(comm, ncclkit.distributed.allreduce_hook)``. Each rank's share is
    scaled by 1/world_size before the sum, as DDP's own NCCL path does, so the two agree exactly
    where the sums do.
    """
    tensor = bucket.buffer()
    tensor.mul_(1.0 / comm.world_size)
    comm.all_reduce(tensor)
    return _completed(tensor)


def _compressed_allreduce(comm: Communicator, bucket: Any, dtype: Any) -> Any:
    # As torch's fp16_compress_hook: cast, scale, sum in the narrow type, cast back in place.
    buffer = bucket.buffer()
    compressed = buffer.to(dtype).div_(comm.world_size)
    comm.all_reduce(compressed)
    buffer.copy_(compressed)
    return _completed(buffer)


def fp16_compress_hook(comm: Communicator, bucket):
    """``allreduce_hook`` with the gradients sent as float16: half the bytes, fp16's precision."""
    import torch

    return _compressed_allreduce(comm, bucket, torch.float16)


def bf16_compress_hook(comm: Communicator, bucket):
    """``allreduce_hook`` with the gradients sent as bfloat16 (needs NCCL >= 2.10)."""
    import torch

    return _compressed_allreduce(comm, bucket, torch.bfloat16)
