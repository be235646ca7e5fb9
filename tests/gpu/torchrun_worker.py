"""One rank of the torchrun test: communicators from the torchrun environment and from a process
group, collectives checked exactly against inputs every rank can recompute."""

from __future__ import annotations

import json
import os

import ncclkit
import torch
import torch.distributed as dist


def rank_input(rank: int, count: int) -> torch.Tensor:
    """Rank `rank`'s integer input, the same on every rank that asks (seeded by rank)."""
    generator = torch.Generator().manual_seed(1000 + rank)
    return torch.randint(-1000, 1000, (count,), generator=generator, dtype=torch.int64)


def poisoned(count: int, device: torch.device) -> torch.Tensor:
    return torch.full((count,), -(2**62), dtype=torch.int64, device=device)


def check(comm: ncclkit.Communicator, device: torch.device) -> dict[str, bool]:
    rank, world = comm.rank, comm.world_size
    count = 4096 + 3
    mine = rank_input(rank, count).to(device)
    everyone = [rank_input(r, count) for r in range(world)]

    summed = poisoned(count, device)
    comm.all_reduce(mine, summed)
    gathered = poisoned(count * world, device)
    comm.all_gather(mine, gathered)
    # A ring of send/recv in one group: each rank receives its left neighbour's input.
    from_left = poisoned(count, device)
    with ncclkit.group():
        comm.send(mine, (rank + 1) % world)
        comm.recv(from_left, (rank - 1) % world)
    torch.cuda.synchronize(device)
    return {
        "all_reduce": torch.equal(summed.cpu(), torch.stack(everyone).sum(0)),
        "all_gather": torch.equal(gathered.cpu(), torch.cat(everyone)),
        "send_recv": torch.equal(from_left.cpu(), everyone[(rank - 1) % world]),
    }


def main() -> None:
    local_rank = int(os.environ["LOCAL_RANK"])
    device = torch.device("cuda", local_rank)
    torch.cuda.set_device(device)
    with ncclkit.init_from_env() as comm:
        from_env = check(comm, device)
        identity = (comm.rank, comm.world_size, comm.device)
    dist.init_process_group("gloo")
    with ncclkit.Communicator.from_process_group() as comm:
        from_group = check(comm, device)
    dist.destroy_process_group()
    print("RESULT " + json.dumps({"rank_size_device": identity, "from_env": from_env, "from_group": from_group}))


if __name__ == "__main__":
    main()
