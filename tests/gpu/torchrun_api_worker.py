"""One rank of the torchrun test of the newer entry points, between processes: gather and scatter,
the uneven collectives, PreMulSum, an all_reduce in symmetric windows of NCCL's memory and a
one-sided put around the ring, and revoke, shrink and grow (the rank shrink leaves out joins
again). Inputs are fresh integers seeded alike on every rank, so each rank computes every rank's
inputs itself and checks exactly. A check the loaded NCCL cannot run reports why; one that hangs
ends the process, naming it."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import ncclkit
import torch
from ncclkit import _comm

COUNT = 4096 + 3
WAIT_S = 120


def ints(seed: int, rank: int, count: int) -> torch.Tensor:
    """Rank `rank`'s input of `count` integers in [-1000, 1000), the same on every rank that asks."""
    generator = torch.Generator().manual_seed(seed * 1009 + rank)
    return torch.randint(-1000, 1000, (count,), generator=generator, dtype=torch.int64)


def poisoned(count: int, device: torch.device, dtype: torch.dtype = torch.int64) -> torch.Tensor:
    return torch.full((count,), -(2**20), dtype=dtype, device=device)


def shared_counts(seed: int, n: int) -> list[int]:
    """Per-rank counts every rank draws alike, one of them zero where there are several ranks."""
    generator = torch.Generator().manual_seed(seed)
    counts = torch.randint(1, 3000, (n,), generator=generator).tolist()
    if n > 1:
        counts[int(torch.randint(0, n, (), generator=generator))] = 0
    return counts


@contextmanager
def watchdog(check: str) -> Iterator[None]:
    """Ends the process with a result naming `check` if it takes longer than WAIT_S."""

    def hung() -> None:
        print("RESULT " + json.dumps({"hung": check}), flush=True)
        os._exit(3)

    timer = threading.Timer(WAIT_S, hung)
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def barrier(comm: ncclkit.Communicator, device: torch.device) -> None:
    comm.all_reduce(torch.zeros(1, device=device))
    torch.cuda.synchronize(device)


def skipped(comm: ncclkit.Communicator, *features: str) -> str | None:
    for feature in features:
        if not comm.supports(feature):
            return f"skipped: {feature}: {ncclkit.nccl_features()[feature].reason}"
    return None


def check_gather_and_scatter(comm: ncclkit.Communicator, device: torch.device, seed: int) -> bool:
    rank, n = comm.rank, comm.world_size
    root = n - 1
    every = [ints(seed, r, COUNT) for r in range(n)]
    gathered = poisoned(COUNT * n, device) if rank == root else None
    comm.gather(every[rank].to(device), gathered, root=root)
    scattered = poisoned(COUNT, device)
    comm.scatter(torch.cat(every[::-1]).to(device) if rank == root else None, scattered, root=root)
    torch.cuda.synchronize(device)
    good = torch.equal(scattered.cpu(), every[n - 1 - rank])
    return good and (rank != root or torch.equal(gathered.cpu(), torch.cat(every)))


def check_uneven(comm: ncclkit.Communicator, device: torch.device, seed: int) -> dict[str, bool]:
    rank, n = comm.rank, comm.world_size
    counts = shared_counts(seed, n)
    total, offset = sum(counts), sum(counts[:rank])
    parts = [ints(seed, r, counts[r]) for r in range(n)]
    gathered = poisoned(total, device)
    comm.all_gather_v(parts[rank].to(device), gathered, counts)

    full = [ints(seed + 1, r, total) for r in range(n)]
    reduced = poisoned(counts[rank], device)
    comm.reduce_scatter_v(full[rank].to(device), reduced, counts, op="sum")

    # Rank i sends send[i][j] elements to rank j: a matrix every rank draws alike.
    send = [shared_counts(seed + 2 + i, n) for i in range(n)]
    recv_counts = [send[i][rank] for i in range(n)]
    sources = [ints(seed + 2, i, sum(send[i])) for i in range(n)]
    exchanged = poisoned(sum(recv_counts), device)
    comm.all_to_all_v(sources[rank].to(device), exchanged, send[rank], recv_counts)
    torch.cuda.synchronize(device)
    pieces = [sources[i][sum(send[i][:rank]) : sum(send[i][: rank + 1])] for i in range(n)]
    return {
        "all_gather_v": torch.equal(gathered.cpu(), torch.cat(parts)),
        "reduce_scatter_v": torch.equal(reduced.cpu(), sum(full)[offset : offset + counts[rank]]),
        "all_to_all_v": torch.equal(exchanged.cpu(), torch.cat(pieces)),
    }


def check_premul_sum(comm: ncclkit.Communicator, device: torch.device, seed: int) -> dict[str, bool | str]:
    """Integers times a power of two: exact in float32 whatever order NCCL sums them in."""
    every = [ints(seed + 3, r, COUNT).float() for r in range(comm.world_size)]
    expected = sum(every) * 0.25
    host = poisoned(COUNT, device, torch.float32)
    comm.all_reduce(every[comm.rank].to(device), host, op=ncclkit.premul_sum(0.25))
    scale = torch.tensor([0.25], device=device)
    on_device = poisoned(COUNT, device, torch.float32)
    comm.all_reduce(every[comm.rank].to(device), on_device, op=ncclkit.premul_sum(scale))
    torch.cuda.synchronize(device)
    return {"host_scale": torch.equal(host.cpu(), expected), "device_scale": torch.equal(on_device.cpu(), expected)}


def check_symmetric_window(comm: ncclkit.Communicator, device: torch.device, seed: int) -> dict[str, bool | str]:
    """An all_reduce in place on a symmetric window from the NCCL allocator pool; then each rank
    puts its first half into the next rank's second half and waits for the previous rank's put."""
    reason = skipped(comm, "window_registration")
    if reason:
        return {"all_reduce": reason, "put_signal": reason}
    rank, n = comm.rank, comm.world_size
    every = [ints(seed + 4, r, 2 * COUNT).float() for r in range(n)]
    pool = ncclkit.nccl_mem_pool()
    with torch.cuda.use_mem_pool(pool, device=device):
        both = torch.empty(2 * COUNT, dtype=torch.float32, device=device)
    result: dict[str, bool | str] = {}
    with comm.register_window(both, symmetric=True) as window:
        both.copy_(every[rank])
        comm.all_reduce(both)
        torch.cuda.synchronize(device)
        result["all_reduce"] = torch.equal(both.cpu(), sum(every))
        result["put_signal"] = skipped(comm, "one_sided") or True
        if result["put_signal"] is True:
            both[:COUNT].copy_(every[rank][:COUNT])
            both[COUNT:].fill_(-1.0)
            barrier(comm, device)  # every rank's second half is poisoned before any put lands there
            comm.put_signal(both[:COUNT], (rank + 1) % n, window, offset=COUNT * 4)
            comm.wait_signal({(rank - 1) % n: 1})
            torch.cuda.synchronize(device)
            result["put_signal"] = torch.equal(both[COUNT:].cpu(), every[(rank - 1) % n][:COUNT])
        barrier(comm, device)  # no rank deregisters while another's put may still target its window
    del both
    del pool
    return result


def check_revoke_shrink_grow(comm: ncclkit.Communicator, device: torch.device, seed: int) -> dict[str, bool | str]:
    """A copy of `comm` revoked, then shrunk without the last rank (its all_reduce exact over the
    others), then grown back to every rank, the last joining with the id rank 0 made."""
    rank, n = comm.rank, comm.world_size
    if n < 2:
        reason = "skipped: shrinking needs two ranks"
        return {"revoke": reason, "shrink": reason, "grow": reason}
    result: dict[str, bool | str] = {"revoke": skipped(comm, "comm_revoke") or True}
    child = comm.split(0)
    if result["revoke"] is True:
        child.revoke()
        with_revoked = False
        try:
            child.all_reduce(torch.zeros(1, device=device))
        except ValueError as error:
            with_revoked = "revoked" in str(error)
        result["revoke"] = with_revoked
    last = n - 1
    reason = skipped(comm, "comm_shrink")
    if reason:
        child.destroy()
        return result | {"shrink": reason, "grow": reason}
    shrunk = child.shrink([last])
    child.destroy()
    every = [ints(seed + 5, r, COUNT) for r in range(n)]
    if shrunk is None:
        result["shrink"] = rank == last
    else:
        out = poisoned(COUNT, device)
        shrunk.all_reduce(every[rank].to(device), out)
        torch.cuda.synchronize(device)
        result["shrink"] = shrunk.world_size == n - 1 and torch.equal(out.cpu(), sum(every[:last]))
    result["grow"] = skipped(comm, "comm_grow") or grow_back(comm, shrunk, device, every)
    if shrunk is not None:
        shrunk.destroy()
    return result


def grow_back(
    comm: ncclkit.Communicator, shrunk: ncclkit.Communicator | None, device: torch.device, every: list[torch.Tensor]
) -> bool:
    """The shrunk communicator grown to `comm`'s size; the id, made by rank 0 (the same rank in
    both, as shrink left out the last), travels to the others over `comm`."""
    rank, n = comm.rank, comm.world_size
    carrier = torch.zeros(_comm.UNIQUE_ID_BYTES, dtype=torch.uint8, device=device)
    if rank == 0:
        made = bytearray(bytes(shrunk.grow_unique_id()))
        carrier.copy_(torch.frombuffer(made, dtype=torch.uint8))
    comm.broadcast(carrier, root=0)
    uid = ncclkit.UniqueId(bytes(carrier.cpu().tolist()))
    if shrunk is None:
        grown = ncclkit.Communicator.join(n, uid, rank, device=device.index)
    else:
        grown = shrunk.grow(n, uid if rank == 0 else None)
    out = poisoned(COUNT, device)
    grown.all_reduce(every[rank].to(device), out)
    torch.cuda.synchronize(device)
    good = (
        grown.world_size == n and (shrunk is None or grown.rank == shrunk.rank) and torch.equal(out.cpu(), sum(every))
    )
    grown.destroy()
    return good


CHECKS: dict[str, Callable[[ncclkit.Communicator, torch.device, int], object]] = {
    "gather_scatter": check_gather_and_scatter,
    "uneven": check_uneven,
    "premul_sum": check_premul_sum,
    "symmetric_window": check_symmetric_window,
    "revoke_shrink_grow": check_revoke_shrink_grow,
}


def main() -> None:
    local_rank = int(os.environ["LOCAL_RANK"])
    device = torch.device("cuda", local_rank)
    torch.cuda.set_device(device)
    seed = int(os.environ["NCCLKIT_TEST_SEED"])
    result: dict[str, object] = {}
    with ncclkit.init_from_env() as comm:
        result["rank_size"] = [comm.rank, comm.world_size]
        for name, check in CHECKS.items():
            with watchdog(name):
                result[name] = check(comm, device, seed)
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
