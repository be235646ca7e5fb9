"""One rank of the side-by-side test: torch's NCCL (libnccl.so.2) and ncclkit's static NCCL, each
with a communicator over every rank, in the same process; each all_reduce is checked exactly and
each library reports its own version."""

from __future__ import annotations

import json
import os

import torch
import torch.distributed as dist


def rank_input(rank: int, device: torch.device) -> torch.Tensor:
    """Rank `rank`'s integers in float32 (sums over the ranks are exact), the same on every rank that asks."""
    generator = torch.Generator().manual_seed(3000 + rank)
    return torch.randint(-1000, 1000, ((1 << 20) + 3,), generator=generator).float().to(device)


def main() -> None:
    device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
    torch.cuda.set_device(device)
    # torch first, so its libnccl.so.2 is the one the dynamic loader knows when ncclkit is imported.
    dist.init_process_group("nccl", device_id=device)
    rank, world = dist.get_rank(), dist.get_world_size()
    expected = sum(rank_input(r, device) for r in range(world))
    by_torch = rank_input(rank, device)
    dist.all_reduce(by_torch)

    import ncclkit
    from ncclkit.compat import loaded_nccl_files

    by_ncclkit = torch.full_like(by_torch, float("nan"))
    with ncclkit.init_from_env() as comm:
        comm.all_reduce(rank_input(rank, device), by_ncclkit)
        torch.cuda.synchronize(device)
    dist.barrier()  # torch's communicator still works after ncclkit's has come and gone
    result = {
        "rank": rank,
        "torch_nccl": ".".join(map(str, torch.cuda.nccl.version())),
        "ncclkit_nccl": ncclkit.get_version(),
        "torch_exact": bool(torch.equal(by_torch, expected)),
        "ncclkit_exact": bool(torch.equal(by_ncclkit, expected)),
        "loaded": loaded_nccl_files(),
    }
    dist.destroy_process_group()
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
