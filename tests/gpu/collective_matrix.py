"""Every collective, dtype and op, in place and out of place: the cases, one rank's part of a case,
and its exact expected result. The in-process tests (init_all) and the torchrun worker share them."""

from __future__ import annotations

from dataclasses import dataclass

import ncclkit
import torch
from reference import DTYPES, OPS, assert_matches, exact_over, poisoned_like, random_input, reduce

COUNT = 1000  # elements per rank: not a multiple of any vector width, on purpose
REDUCING = ("all_reduce", "reduce", "reduce_scatter")
IN_PLACE_OR_NOT = ("all_reduce", "reduce", "reduce_scatter", "broadcast", "all_gather")


@dataclass(frozen=True)
class Case:
    collective: str
    dtype: str
    op: str | None = None
    in_place: bool = False

    def __str__(self) -> str:
        place = "in_place" if self.in_place else "out_of_place"
        return "-".join(part for part in (self.collective, self.dtype, self.op, place) if part)


def cases() -> list[Case]:
    every = []
    for collective in (*IN_PLACE_OR_NOT, "all_to_all", "send_recv"):
        for dtype in DTYPES:
            for op in OPS if collective in REDUCING else (None,):
                for in_place in (False, True) if collective in IN_PLACE_OR_NOT else (False,):
                    every.append(Case(collective, dtype, op, in_place))
    return every


def every_rank_input(case: Case, ranks: int, device: int, seed: int) -> list[torch.Tensor]:
    """Every rank's input to `case`, on `device`: drawn in rank order from torch's generator seeded
    with `seed`, so that each process of a run draws the same ones."""
    blocks = ranks if case.collective in ("reduce_scatter", "all_to_all") else 1
    torch.manual_seed(seed)
    return [random_input(case.dtype, COUNT * blocks, device, case.op or "sum", ranks) for _ in range(ranks)]


def enqueue(
    comm: ncclkit.Communicator, case: Case, inputs: list[torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Start this rank's part of `case` (`inputs`: every rank's, on this rank's GPU). Returns the
    buffer that will hold its result and the result expected there; None where the collective
    leaves it unwritten (reduce, off the root)."""
    rank, n, root = comm.rank, comm.world_size, comm.world_size - 1
    mine = inputs[rank].clone()
    own_block = slice(rank * COUNT, (rank + 1) * COUNT)
    if case.collective == "all_reduce":
        out = mine if case.in_place else poisoned_like(mine)
        comm.all_reduce(mine, None if case.in_place else out, op=case.op)
        return out, reduce(inputs, case.op)
    if case.collective == "reduce":
        out = mine if case.in_place else poisoned_like(mine)
        comm.reduce(mine, None if case.in_place else out, op=case.op, root=root)
        return out, reduce(inputs, case.op) if rank == root else None
    if case.collective == "reduce_scatter":
        out = mine[own_block] if case.in_place else poisoned_like(mine, COUNT)
        comm.reduce_scatter(mine, out, op=case.op)
        return out, reduce(inputs, case.op)[own_block]
    if case.collective == "broadcast":
        out = mine if case.in_place else poisoned_like(mine)
        comm.broadcast(mine, None if case.in_place else out, root=root)
        return out, inputs[root]
    if case.collective == "all_gather":
        out = poisoned_like(mine, COUNT * n)
        send = mine
        if case.in_place:  # this rank's block of the output is the input, as nccl-tests' in-place
            send = out[own_block]
            send.copy_(mine)
        comm.all_gather(send, out)
        return out, torch.cat(inputs)
    if case.collective == "all_to_all":
        out = poisoned_like(mine)
        comm.all_to_all(mine, out)
        return out, torch.cat([x[own_block] for x in inputs])
    if case.collective == "send_recv":  # a ring: each rank receives its left neighbour's input
        out = poisoned_like(mine)
        with ncclkit.group():
            comm.send(mine, (rank + 1) % n)
            comm.recv(out, (rank - 1) % n)
        return out, inputs[(rank - 1) % n]
    raise ValueError(case.collective)


def verify(case: Case, ranks: int, out: torch.Tensor, expected: torch.Tensor | None) -> None:
    if expected is not None:
        assert_matches(out, expected, exact=exact_over(case.op or "sum", ranks))
