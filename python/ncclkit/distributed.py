"""Communicators for processes torch.distributed already brought together, and DDP's gradient
all-reduce through them.

The unique id travels through torch's own rendezvous (its TCPStore, or a process group), so
ncclkit adds no protocol of its own.
"""

from __future__ import annotations

import itertools
import os
from datetime import timedelta
from typing import Any

from .comm import Communicator, UniqueId

ENV_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
# Each init_from_env() call in a process gets its own key, so several communicators can be made.
_store_keys = itertools.count()


def _read_env() -> dict[str, str]:
    missing = [name for name in ENV_VARS if not os.environ.get(name)]
    if missing:
        msg = f"init_from_env() needs {', '.join(ENV_VARS)} (as torchrun sets them); missing: {', '.join(missing)}"
        raise ValueError(msg)
    env = {name: os.environ[name] for name in ENV_VARS}
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_PORT"):
        if not env[name].isdigit():
            msg = f"{name} must be a non-negative integer, got {env[name]!r}"
            raise ValueError(msg)
    return env


def _store(env: dict[str, str], timeout: timedelta) -> Any:
    from torch.distributed import TCPStore

    rank, world_size = int(env["RANK"]), int(env["WORLD_SIZE"])
    # Under torchrun the agent already serves the store at MASTER_PORT; else rank 0 serves it.
    agent_store = os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True"
    return TCPStore(
        env["MASTER_ADDR"],
        int(env["MASTER_PORT"]),
        world_size,
        is_master=rank == 0 and not agent_store,
        timeout=timeout,
    )


def share_unique_id(env: dict[str, str], key: str, timeout: timedelta) -> UniqueId:
    """Rank 0's new UniqueId, on every rank, through the TCPStore at MASTER_ADDR:MASTER_PORT."""
    store = _store(env, timeout)
    rank, world_size = int(env["RANK"]), int(env["WORLD_SIZE"])
    if rank == 0:
        store.set(key, bytes(UniqueId.generate()))
    unique_id = UniqueId(store.get(key))  # waits for rank 0
    leave_store(store, key, rank, world_size)
    return unique_id


def leave_store(store: Any, key: str, rank: int, world_size: int) -> None:
    """Outside torchrun's agent, rank 0 serves the store _store() makes, which closes when rank 0
    lets go of it: rank 0 waits here until every rank has read what it needed under ``key``."""
    store.set(f"{key}/read/{rank}", b"1")
    if rank == 0:
        store.wait([f"{key}/read/{r}" for r in range(world_size)])


def init_from_env(*, timeout: timedelta = timedelta(minutes=5), **config: Any) -> Communicator:
    """This process's communicator from the torchrun environment; the device is LOCAL_RANK."""
    env = _read_env()
    rank, world_size = int(env["RANK"]), int(env["WORLD_SIZE"])
    if rank >= world_size:
        msg = f"RANK {rank} is out of range for WORLD_SIZE {world_size}"
        raise ValueError(msg)
    unique_id = share_unique_id(env, f"ncclkit/unique_id/{next(_store_keys)}", timeout)
    return Communicator.init_rank(world_size, unique_id, rank, device=int(env["LOCAL_RANK"]), **config)


def from_process_group(group: Any = None, **config: Any) -> Communicator:
    """A communicator over the ranks of a torch.distributed process group, on the current CUDA device."""
    import torch
    import torch.distributed as dist

    rank, world_size = dist.get_rank(group), dist.get_world_size(group)
    payload = [UniqueId.generate() if rank == 0 else None]
    dist.broadcast_object_list(payload, src=dist.get_global_rank(group, 0) if group else 0, group=group)
    (unique_id,) = payload
    return Communicator.init_rank(world_size, unique_id, rank, device=torch.cuda.current_device(), **config)


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
