"""One rank of the torchrun test: communicators from the torchrun environment and from a process
group, every collective, dtype and op checked exactly against inputs every rank can recompute
(and all-reduce compiled with torch.compile(fullgraph=True) and replayed from a CUDA graph), a
split into halves, DDP's gradients through ncclkit's comm hooks against DDP's own NCCL path, the
custom all-reduce's kernels, and abort() of a communicator whose peers never join its call."""

from __future__ import annotations

import json
import os
import threading
import time

import ncclkit
import torch
import torch.distributed as dist
from collective_matrix import cases, enqueue, every_rank_input, verify
from ncclkit import custom_all_reduce, distributed, functional
from reference import rejected_as_expected
from torch.nn.parallel import DistributedDataParallel


def rank_input(rank: int, count: int) -> torch.Tensor:
    """Rank `rank`'s integer input, the same on every rank that asks (seeded by rank)."""
    generator = torch.Generator().manual_seed(1000 + rank)
    return torch.randint(-1000, 1000, (count,), generator=generator, dtype=torch.int64)


def poisoned(count: int, device: torch.device) -> torch.Tensor:
    return torch.full((count,), -(2**62), dtype=torch.int64, device=device)


def check_every_collective(comm: ncclkit.Communicator, device: torch.device, seed: int) -> dict[str, object]:
    """Every case of collective_matrix, one at a time, against exact expected results; the cases'
    inputs are seeded alike on every rank, so each rank computes every rank's inputs itself."""
    wrong, rejected = [], []
    every_case = cases()
    for index, case in enumerate(every_case):
        inputs = every_rank_input(case, comm.world_size, comm.device, seed + index)
        try:
            out, expected = enqueue(comm, case, inputs)
        except ncclkit.NcclError as error:
            (rejected if rejected_as_expected(case.dtype, case.op, error) else wrong).append(f"{case}: {error}")
            continue
        torch.cuda.synchronize(device)
        try:
            verify(case, comm.world_size, out, expected)
        except AssertionError as error:
            wrong.append(f"{case}: {error}")
    return {"cases": len(every_case), "wrong": wrong, "rejected": len(rejected)}


def check_split_into_halves(comm: ncclkit.Communicator, device: torch.device) -> dict[str, bool]:
    rank, world = comm.rank, comm.world_size
    color = rank * 2 // world  # 0 below world / 2, 1 from there
    members = [r for r in range(world) if r * 2 // world == color]
    count = 4096 + 3
    out = poisoned(count, device)
    with comm.split(color=color) as half:
        identity = (half.rank, half.world_size) == (members.index(rank), len(members))
        half.all_reduce(rank_input(rank, count).to(device), out)
        torch.cuda.synchronize(device)
    return {"identity": identity, "all_reduce": torch.equal(out.cpu(), sum(rank_input(r, count) for r in members))}


def check_abort_while_blocked(comm: ncclkit.Communicator, device: torch.device) -> dict[str, object]:
    """On a fresh communicator (a split of `comm`), the last rank starts an all_reduce that no other
    rank joins, so its kernel waits for them; its abort() must return, and its stream then finish.
    A watchdog ends the process with a result saying so where either hangs."""
    child = comm.split(color=0)
    x = torch.ones(1024, device=device)
    child.all_reduce(x)  # on every rank first: the connections exist, so the lone call only waits on the GPU
    torch.cuda.synchronize(device)
    result: dict[str, object] = {}
    blocked = comm.rank == comm.world_size - 1
    if blocked:
        stream = torch.cuda.Stream(device)
        child.all_reduce(x, stream=stream)
        time.sleep(1.0)
        result["was_waiting"] = not stream.query()

        def hung() -> None:
            print("RESULT " + json.dumps({"abort": "no return in 60 s from abort() or the stream"}), flush=True)
            os._exit(3)

        watchdog = threading.Timer(60, hung)
        watchdog.start()
        start = time.monotonic()
        child.abort()
        stream.synchronize()
        watchdog.cancel()
        result["returned_after_s"] = round(time.monotonic() - start, 3)
    # Every rank is past the lone call's abort before the others free their side.
    comm.all_reduce(torch.zeros(1, device=device))
    torch.cuda.synchronize(device)
    if not blocked:
        child.abort()
    return result


def check_compiled_and_captured(comm: ncclkit.Communicator, device: torch.device) -> dict[str, bool]:
    rank, world = comm.rank, comm.world_size
    rows = 8 * world
    # Small integers in float32: every sum is exact, whatever order NCCL adds in.
    mine = rank_input(rank, rows * 5).reshape(rows, 5).float().to(device)
    everyone = [rank_input(r, rows * 5).reshape(rows, 5).float() for r in range(world)]
    total = torch.stack(everyone).sum(0)

    @torch.compile(fullgraph=True)
    def step(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        summed = functional.all_reduce(x, comm)
        return summed, functional.all_gather(x, comm), functional.reduce_scatter(x, comm)

    summed, gathered, scattered = step(mine)
    # A CUDA graph of an in-place all_reduce, replayed on new contents of its input.
    static = torch.full_like(mine, float("nan"))
    graph = torch.cuda.CUDAGraph()
    stream = torch.cuda.Stream(device)
    stream.wait_stream(torch.cuda.current_stream(device))
    with torch.cuda.stream(stream):
        functional.all_reduce_(static, comm)  # warm-up outside the capture, as torch requires
        with torch.cuda.graph(graph, stream=stream):
            functional.all_reduce_(static, comm)
    torch.cuda.current_stream(device).wait_stream(stream)
    static.copy_(mine)
    graph.replay()
    torch.cuda.synchronize(device)
    return {
        "compiled_all_reduce": torch.equal(summed.cpu(), total),
        "compiled_all_gather": torch.equal(gathered.cpu(), torch.cat(everyone)),
        "compiled_reduce_scatter": torch.equal(scattered.cpu(), total.chunk(world)[rank]),
        "graph_all_reduce": torch.equal(static.cpu(), total),
    }


def ddp_gradients(comm: ncclkit.Communicator | None, hook: object, inputs: torch.Tensor) -> list[torch.Tensor]:
    """One training step's gradients: DDP's own NCCL path (no hook), or ``hook`` through ``comm``."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 300), torch.nn.GELU(), torch.nn.Linear(300, 10))
    ddp = DistributedDataParallel(model.to(inputs.device), device_ids=[inputs.device])
    if hook is not None:
        ddp.register_comm_hook(comm, hook)
    ddp(inputs).square().mean().backward()
    return [p.grad.clone() for p in model.parameters()]


def relative_error(got: list[torch.Tensor], expected: list[torch.Tensor]) -> float:
    return max(((g - e).abs().max() / e.abs().max()).item() for g, e in zip(got, expected))


def check_ddp(comm: ncclkit.Communicator, device: torch.device) -> dict[str, bool]:
    same = torch.randn(32, 64, generator=torch.Generator().manual_seed(7)).to(device)
    own = torch.randn(32, 64, generator=torch.Generator().manual_seed(100 + comm.rank)).to(device)
    checks = {}
    # Identical inputs: every rank's share is the same, and the sums agree bit for bit.
    checks["same_inputs_exact"] = all(
        torch.equal(a, b)
        for a, b in zip(ddp_gradients(comm, distributed.allreduce_hook, same), ddp_gradients(None, None, same))
    )
    reference = ddp_gradients(None, None, own)
    checks["rank_inputs"] = relative_error(ddp_gradients(comm, distributed.allreduce_hook, own), reference) < 1e-6
    # One rounding to the narrow type per share, and the sum in it: a few units of its last place.
    checks["fp16"] = relative_error(ddp_gradients(comm, distributed.fp16_compress_hook, own), reference) < 2**-8
    checks["bf16"] = relative_error(ddp_gradients(comm, distributed.bf16_compress_hook, own), reference) < 2**-6
    return checks


def small_integers(rank: int, count: int, dtype: torch.dtype) -> torch.Tensor:
    """Rank `rank`'s integers in [-8, 8): sums over up to 8 ranks are exact in float16 and bfloat16."""
    generator = torch.Generator().manual_seed(2000 + rank)
    return torch.randint(-8, 8, (count,), generator=generator).to(dtype)


def check_custom_all_reduce(comm: ncclkit.Communicator, device: torch.device) -> dict[str, bool | str]:
    """ncclkit.custom_all_reduce between the processes (IPC handles through torchrun's TCPStore):
    one-shot, two-shot and auto against exact sums, at counts that leave a tail past the 16-byte
    packs, and a captured one-shot replayed on new inputs."""
    state = custom_all_reduce.setup(comm)
    if not state.available:
        return {"unavailable": state.reason}
    rank, world = comm.rank, comm.world_size
    cases = {
        # Up to 512 KiB one-shot takes its low-latency kernel; (1 << 19) + 7 bfloat16 is past it.
        "oneshot": [
            (torch.float16, 4096 + 3),
            (torch.bfloat16, 999),
            (torch.float32, 20_001),
            (torch.bfloat16, (1 << 19) + 7),
        ],
        "twoshot": [(torch.bfloat16, (1 << 20) + 5), (torch.float32, 100_003), (torch.float16, 5)],
        "auto": [(torch.float16, 1000), (torch.bfloat16, 3 * (1 << 17) + 1)],
    }
    checks: dict[str, bool | str] = {}
    for algorithm, shapes in cases.items():
        exact = []
        for dtype, count in shapes:
            total = torch.stack([small_integers(r, count, torch.int64) for r in range(world)]).sum(0).to(dtype)
            out = torch.full((count,), float("nan"), dtype=dtype, device=device)
            comm.all_reduce(small_integers(rank, count, dtype).to(device), out, algorithm=algorithm)
            exact.append(torch.equal(out.cpu(), total))
        checks[algorithm] = all(exact)

    count = 5000 + 1
    static = torch.zeros(count, dtype=torch.float16, device=device)
    out = torch.full_like(static, float("nan"))
    graph = torch.cuda.CUDAGraph()
    stream = torch.cuda.Stream(device)
    stream.wait_stream(torch.cuda.current_stream(device))
    with torch.cuda.stream(stream):
        comm.all_reduce(static, out, algorithm="oneshot")  # warm-up outside the capture
        with torch.cuda.graph(graph, stream=stream):
            comm.all_reduce(static, out, algorithm="oneshot")
    torch.cuda.current_stream(device).wait_stream(stream)
    replays = []
    for scale in (1, 3):
        static.copy_(small_integers(rank, count, torch.float16).to(device) * scale)
        graph.replay()
        total = torch.stack([small_integers(r, count, torch.int64) for r in range(world)]).sum(0) * scale
        replays.append(torch.equal(out.cpu(), total.to(torch.float16)))
    checks["graph"] = all(replays)
    # No rank frees its buffer while another may still read it: an NCCL all-reduce after the last call.
    comm.all_reduce(torch.zeros(1, device=device), algorithm="nccl")
    torch.cuda.synchronize(device)
    state.close()
    return checks


def main() -> None:
    local_rank = int(os.environ["LOCAL_RANK"])
    device = torch.device("cuda", local_rank)
    torch.cuda.set_device(device)
    seed = int(os.environ["NCCLKIT_TEST_SEED"])
    with ncclkit.init_from_env() as comm:
        from_env = check_every_collective(comm, device, seed)
        halves = check_split_into_halves(comm, device)
        compiled = check_compiled_and_captured(comm, device)
        custom = check_custom_all_reduce(comm, device)
        abort = check_abort_while_blocked(comm, device)
        identity = (comm.rank, comm.world_size, comm.device)
    dist.init_process_group("nccl", device_id=device)
    with ncclkit.Communicator.from_process_group() as comm:
        from_group = check_every_collective(comm, device, seed + 1)
        ddp = check_ddp(comm, device)
    dist.destroy_process_group()
    result = {
        "rank_size_device": identity,
        "from_env": from_env,
        "from_group": from_group,
        "halves": halves,
        "compiled": compiled,
        "ddp": ddp,
        "custom_all_reduce": custom,
        "abort": abort,
    }
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
