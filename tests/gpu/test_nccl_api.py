"""The entry points beyond the classic collectives, on a one-rank communicator and on every visible
GPU: gather, scatter, the uneven collectives, PreMulSum, configurations, windows and NCCL's
allocator, one-sided calls, simulated groups, suspend/resume. Each runs where the
loaded NCCL has it and otherwise must raise NcclUnavailableError, never crash. Results are exact
against torch; outputs are poisoned first."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

torch = pytest.importorskip("torch")

import ncclkit  # noqa: E402
from ncclkit import _comm  # noqa: E402
from ncclkit.config import COMM_FIELDS  # noqa: E402
from ncclkit.features import nccl_version_code  # noqa: E402
from reference import assert_matches, poisoned_like, random_input, reduce  # noqa: E402

pytestmark = pytest.mark.gpu

COUNT = 4096


def needs(comm: ncclkit.Communicator, feature: str) -> None:
    """Skip where the loaded NCCL lacks `feature`, after checking that calling it says so."""
    if not comm.supports(feature):
        pytest.skip(f"{feature}: {ncclkit.nccl_features()[feature].reason}")


def every_rank(comms: list[ncclkit.Communicator], call) -> list:
    """`call(comm, rank)` on every communicator at once, grouped (one thread drives them all)."""
    with ncclkit.group():
        return [call(c, c.rank) for c in comms]


# -- rooted and uneven collectives ------------------------------------------------------------


@pytest.mark.parametrize("in_place", [False, True])
def test_gather_and_scatter_one_rank(comm: ncclkit.Communicator, in_place: bool) -> None:
    x = random_input("bfloat16", COUNT, comm.device)
    out = poisoned_like(x)
    if in_place:
        out.copy_(x)
        comm.gather(out, out)
        comm.scatter(out, out)
    else:
        comm.gather(x, out)
        back = poisoned_like(x)
        comm.scatter(out, back)
        torch.cuda.synchronize()
        assert_matches(back, x, exact=True)
    torch.cuda.synchronize()
    assert_matches(out, x, exact=True)


def test_gather_and_scatter_every_gpu(comms: list[ncclkit.Communicator]) -> None:
    n = len(comms)
    root = n - 1
    inputs = [random_input("int32", COUNT, c.device) for c in comms]
    gathered = poisoned_like(inputs[root], COUNT * n)
    every_rank(comms, lambda c, r: c.gather(inputs[r], gathered if r == root else None, root=root))
    scattered = [poisoned_like(x) for x in inputs]
    every_rank(comms, lambda c, r: c.scatter(gathered if r == root else None, scattered[r], root=root))
    torch.cuda.synchronize()
    assert_matches(gathered, torch.cat([x.to(gathered.device) for x in inputs]), exact=True)
    for x, out in zip(inputs, scattered):
        assert_matches(out, x, exact=True)


def uneven_counts(n: int) -> list[int]:
    """Fresh counts, one of them zero where there are several ranks."""
    counts = torch.randint(1, 3000, (n,)).tolist()
    if n > 1:
        counts[torch.randint(0, n, ()).item()] = 0
    return counts


def test_uneven_collectives_every_gpu(comms: list[ncclkit.Communicator]) -> None:
    n = len(comms)
    counts = uneven_counts(n)
    total = sum(counts)
    offsets = [sum(counts[:r]) for r in range(n)]

    parts = [random_input("float32", counts[r], c.device, ranks=n) for r, c in enumerate(comms)]
    gathered = [poisoned_like(parts[r], total) for r in range(n)]
    every_rank(comms, lambda c, r: c.all_gather_v(parts[r], gathered[r], counts))

    full = [random_input("float32", total, c.device, ranks=n) for c in comms]
    reduced = [poisoned_like(full[r], counts[r]) for r in range(n)]
    every_rank(comms, lambda c, r: c.reduce_scatter_v(full[r], reduced[r], counts, op="sum"))

    # all_to_all_v: rank r sends send[r][i] elements to rank i.
    send = [uneven_counts(n) for _ in range(n)]
    recv = [[send[i][r] for i in range(n)] for r in range(n)]
    sources = [random_input("int64", sum(send[r]), c.device) for r, c in enumerate(comms)]
    exchanged = [poisoned_like(sources[r], sum(recv[r])) for r in range(n)]
    every_rank(comms, lambda c, r: c.all_to_all_v(sources[r], exchanged[r], send[r], recv[r]))
    torch.cuda.synchronize()

    expected_gather = torch.cat([p.to(gathered[0].device) for p in parts])
    sums = reduce(full, "sum")
    for r in range(n):
        assert_matches(gathered[r], expected_gather, exact=True)
        assert_matches(reduced[r], sums[offsets[r] : offsets[r] + counts[r]], exact=True)
        pieces = [sources[i][sum(send[i][:r]) : sum(send[i][: r + 1])].to(exchanged[r].device) for i in range(n)]
        assert_matches(exchanged[r], torch.cat(pieces), exact=True)


def test_uneven_collectives_in_place_one_rank(comm: ncclkit.Communicator) -> None:
    x = random_input("float16", COUNT, comm.device)
    expected = x.clone()
    comm.all_gather_v(x, x, [COUNT])
    comm.reduce_scatter_v(x, x, [COUNT], op="max")
    torch.cuda.synchronize()
    assert_matches(x, expected, exact=True)


# -- PreMulSum ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("dtype", "scale"), [("float32", 0.5), ("bfloat16", -2.0), ("float64", 0.25), ("int32", 3)])
def test_premul_sum_with_a_host_scale(comm: ncclkit.Communicator, dtype: str, scale: float) -> None:
    x = random_input(dtype, COUNT, comm.device)
    out = poisoned_like(x)
    comm.all_reduce(x, out, op=ncclkit.premul_sum(scale))
    torch.cuda.synchronize()
    assert_matches(out, x.double() * scale if x.is_floating_point() else x.long() * scale, exact=True)


def test_premul_sum_with_a_device_scale_read_at_run_time(comm: ncclkit.Communicator) -> None:
    x = random_input("float32", COUNT, comm.device)
    scale = torch.tensor([4.0], device=f"cuda:{comm.device}")
    out = poisoned_like(x)
    comm.reduce_scatter(x, out, op=ncclkit.premul_sum(scale))
    reduced = poisoned_like(x)
    comm.reduce(x, reduced, op=ncclkit.premul_sum(scale), root=0)
    torch.cuda.synchronize()
    assert_matches(out, x * 4, exact=True)
    assert_matches(reduced, x * 4, exact=True)


def test_premul_sum_every_gpu(comms: list[ncclkit.Communicator]) -> None:
    n = len(comms)
    inputs = [random_input("float32", COUNT, c.device, ranks=n) for c in comms]
    outputs = [poisoned_like(x) for x in inputs]
    every_rank(comms, lambda c, r: c.all_reduce(inputs[r], outputs[r], op=ncclkit.premul_sum(0.5)))
    torch.cuda.synchronize()
    for out in outputs:
        assert_matches(out, reduce(inputs, "sum") * 0.5, exact=True)


# -- configuration --------------------------------------------------------------------------------


def test_config_fields_the_loaded_nccl_has_make_a_communicator() -> None:
    loaded = ncclkit.get_version()
    fields = {"comm_name": "ncclkit-test", "cta_policy": "default", "split_share": False, "min_ctas": 1}
    usable = {
        k: v
        for k, v in fields.items()
        if k in _comm.CONFIG_FIELDS and loaded >= nccl_version_code(COMM_FIELDS[k].since)
    }
    with ncclkit.Communicator.init_rank(1, ncclkit.UniqueId.generate(), 0, device=0, **usable) as c:
        x = random_input("float32", COUNT, 0)
        out = poisoned_like(x)
        c.all_reduce(x, out)
        child = c.split(0, comm_name="ncclkit-child") if "comm_name" in usable else c.split(0, min_ctas=1)
        child_out = poisoned_like(x)
        child.all_reduce(x, child_out)
        torch.cuda.synchronize()
        child.destroy()
    assert_matches(out, x, exact=True)
    assert_matches(child_out, x, exact=True)


def test_config_fields_newer_than_the_loaded_nccl_are_refused() -> None:
    loaded = ncclkit.get_version()
    newer = [name for name, field in COMM_FIELDS.items() if nccl_version_code(field.since) > loaded]
    if not newer:
        pytest.skip(f"the loaded NCCL, {ncclkit.get_version()}, has every field")
    for name in newer:
        kind = COMM_FIELDS[name].kind
        value = True if kind is bool else "x" if kind is str else 1
        with pytest.raises(ncclkit.NcclUnavailableError, match=f"^config field {name} came with NCCL"):
            ncclkit.Communicator.init_rank(1, ncclkit.UniqueId.generate(), 0, device=0, **{name: value})


def test_a_child_of_a_blocking_communicator_can_be_non_blocking(comm: ncclkit.Communicator) -> None:
    child = comm.split(0, blocking=False)
    child.timeout = 30
    assert child.poll()
    x = random_input("float32", COUNT, comm.device)
    out = poisoned_like(x)
    child.all_reduce(x, out)
    child.wait()
    torch.cuda.synchronize()
    child.destroy()
    assert_matches(out, x, exact=True)


def test_per_call_config(comm: ncclkit.Communicator) -> None:
    if "collective_config" not in ncclkit.nccl_features() or not ncclkit.nccl_features()["collective_config"].compiled:
        pytest.skip("built against an NCCL header older than 2.31")
    config = ncclkit.CollectiveConfig(max_ctas=2, cta_policy="default")
    x = random_input("float32", COUNT, comm.device)
    out = poisoned_like(x)
    if not comm.supports("collective_config"):
        with pytest.raises(ncclkit.NcclUnavailableError, match="^ncclAllReduceConfig came with NCCL 2.31.0"):
            comm.all_reduce(x, out, config=config)
        return
    comm.all_reduce(x, out, config=config)
    gathered = poisoned_like(x)
    comm.all_gather(x, gathered, config={"min_ctas": 1})
    torch.cuda.synchronize()
    assert_matches(out, x, exact=True)
    assert_matches(gathered, x, exact=True)


def test_scalable_init_takes_a_sequence_of_ids() -> None:
    with ncclkit.Communicator.init_rank(1, [ncclkit.UniqueId.generate()], 0, device=0) as c:
        x = random_input("int8", COUNT, 0)
        out = poisoned_like(x)
        c.all_reduce(x, out)
        torch.cuda.synchronize()
    assert_matches(out, x, exact=True)


def test_scalable_init_every_gpu() -> None:
    n = torch.cuda.device_count()
    ids = [ncclkit.UniqueId.generate() for _ in range(min(n, 2))]
    with ThreadPoolExecutor(n) as pool:
        comms = list(pool.map(lambda r: ncclkit.Communicator.init_rank(n, ids, r, device=r), range(n)))
    inputs = [random_input("int32", COUNT, c.device, ranks=n) for c in comms]
    outputs = [poisoned_like(x) for x in inputs]
    every_rank(comms, lambda c, r: c.all_reduce(inputs[r], outputs[r]))
    torch.cuda.synchronize()
    for c, out in zip(comms, outputs):
        assert_matches(out, reduce(inputs, "sum"), exact=True)
        c.destroy()


# -- windows and NCCL's allocator -----------------------------------------------------------------


def test_nccl_memory_as_a_symmetric_window(comm: ncclkit.Communicator) -> None:
    needs(comm, "window_registration")
    with ncclkit.mem_alloc(COUNT * 4, device=comm.device) as memory:
        x = torch.as_tensor(memory, device=f"cuda:{comm.device}").view(torch.float32)
        x.copy_(random_input("float32", COUNT, comm.device))
        with comm.register_window(x, symmetric=True) as window:
            assert (window.ptr, window.nbytes) == (memory.ptr, COUNT * 4)
            if comm.supports("window_user_ptr"):
                assert window.user_ptr() == memory.ptr
            out = poisoned_like(x)
            comm.all_reduce(x, out)
            torch.cuda.synchronize()
            assert_matches(out, x, exact=True)
        assert not window.registered
        del x
    assert memory.ptr == 0


def test_a_torch_pool_over_nccl_memory(comm: ncclkit.Communicator) -> None:
    needs(comm, "window_registration")
    pool = ncclkit.nccl_mem_pool()
    with torch.cuda.use_mem_pool(pool, device=comm.device):
        x = torch.empty(1 << 20, dtype=torch.bfloat16, device=f"cuda:{comm.device}")
    x.copy_(random_input("bfloat16", x.numel(), comm.device))
    (segment,) = [s for s in pool.snapshot() if s["device"] == comm.device]
    assert segment["address"] <= x.data_ptr() < segment["address"] + segment["total_size"]
    # Memory from ncclMemAlloc is what a symmetric window takes; cudaMalloc's is refused by NCCL.
    with comm.register_window(x, symmetric=True):
        comm.all_reduce(x, op="max")
        torch.cuda.synchronize()
    del x
    del pool


def test_symmetric_windows_every_gpu(comms: list[ncclkit.Communicator]) -> None:
    """One thread drives every GPU's communicator, but NCCL registers a window only at a group's
    end: each communicator registers from a thread of its own, as the bench's -R 2 does."""
    needs(comms[0], "window_registration")
    n = len(comms)
    memories = [ncclkit.mem_alloc(COUNT * 4, device=c.device) for c in comms]
    tensors = [torch.as_tensor(m, device=f"cuda:{c.device}").view(torch.float32) for m, c in zip(memories, comms)]
    inputs = [random_input("float32", COUNT, c.device, ranks=n) for c in comms]
    for t, x in zip(tensors, inputs):
        t.copy_(x)
    with ThreadPoolExecutor(n) as pool:
        windows = list(pool.map(lambda c, t: c.register_window(t, symmetric=True), comms, tensors))
    every_rank(comms, lambda c, r: c.all_reduce(tensors[r]))
    torch.cuda.synchronize()
    for t in tensors:
        assert_matches(t, reduce(inputs, "sum"), exact=True)
    with ThreadPoolExecutor(n) as pool:
        list(pool.map(lambda w: w.deregister(), windows))
    for m in memories:
        m.free()  # the tensors that view it are not used again


# -- one-sided --------------------------------------------------------------------------------------


def test_put_signal_and_wait_to_oneself(comm: ncclkit.Communicator) -> None:
    needs(comm, "one_sided")
    # NCCL puts from a symmetric window into one: the first half of the window to its second.
    with ncclkit.mem_alloc(COUNT * 4, device=comm.device) as memory:
        both = torch.as_tensor(memory, device=f"cuda:{comm.device}").view(torch.int32)
        source, target = both[: COUNT // 2], both[COUNT // 2 :]
        source.copy_(random_input("int32", COUNT // 2, comm.device))
        target.copy_(poisoned_like(target))
        with comm.register_window(both, symmetric=True) as window:
            comm.put_signal(source, 0, window, offset=COUNT * 2)
            comm.wait_signal({0: 1})
            comm.signal(0)
            comm.wait_signal({0: 1})
            torch.cuda.synchronize()
            assert_matches(target, source, exact=True)
        del both, source, target


# -- groups, lifetime, parameters -----------------------------------------------------------------


def test_calls_that_end_with_the_group_are_refused_inside_one(comm: ncclkit.Communicator) -> None:
    with ncclkit.group(), pytest.raises(ValueError, match=r"^split cannot run inside ncclkit\.group\(\): NCCL"):
        comm.split(0)
    x = random_input("float32", COUNT, comm.device)
    if comm.supports("window_registration"):
        with ncclkit.group(), pytest.raises(ValueError, match=r"^register_window cannot run inside ncclkit\.group"):
            comm.register_window(x)
    child = comm.split(0, blocking=False)
    with ncclkit.group(simulate=True), pytest.raises(ValueError, match="^all_reduce: a non-blocking communicator"):
        child.all_reduce(x)
    child.destroy()


def test_a_simulated_group_estimates_and_runs_nothing(comm: ncclkit.Communicator) -> None:
    needs(comm, "group_simulate")
    x = random_input("float32", 1 << 20, comm.device)
    out = poisoned_like(x)
    with ncclkit.group(simulate=True) as simulation:
        comm.all_reduce(x, out)
    torch.cuda.synchronize()
    assert simulation.estimated_us is not None and simulation.estimated_us >= 0
    assert torch.isnan(out).all()  # not run


def test_suspend_resume_and_memory_stats(comm: ncclkit.Communicator) -> None:
    needs(comm, "comm_suspend")
    before = comm.memory_stats() if comm.supports("comm_mem_stats") else None
    comm.suspend()
    with pytest.raises(ValueError, match="^all_reduce: the communicator is suspended; resume"):
        comm.all_reduce(random_input("float32", 8, comm.device))
    if before is not None:
        assert comm.memory_stats()["suspended"] == 1
    comm.resume()
    x = random_input("float32", COUNT, comm.device)
    out = poisoned_like(x)
    comm.all_reduce(x, out)
    torch.cuda.synchronize()
    assert_matches(out, x, exact=True)
    if before is not None:
        assert before["total"] >= before["persistent"]
        assert comm.memory_stats()["suspended"] == 0


def test_grow_on_one_gpu_gives_an_id_or_says_why(comm: ncclkit.Communicator) -> None:
    needs(comm, "comm_grow")
    uid = comm.grow_unique_id()
    assert isinstance(uid, ncclkit.UniqueId)
    if torch.cuda.device_count() < 2:
        pytest.skip("growing a communicator needs a second GPU for the new rank (the multi-GPU run)")


def test_entry_points_the_loaded_nccl_lacks_raise(comm: ncclkit.Communicator) -> None:
    """Compiled in from a newer header, absent from the NCCL this process loaded: a clear error."""
    lacking = {name: f for name, f in ncclkit.nccl_features().items() if f.compiled and not f.available}
    if not lacking:
        pytest.skip("the loaded NCCL has every feature compiled in")
    calls = {
        "comm_suspend": lambda: comm.suspend(),
        "comm_mem_stats": comm.memory_stats,
        "comm_grow": comm.grow_unique_id,
        "params": lambda: ncclkit.nccl_parameter("NCCL_PROTO"),
        "encryption": lambda: ncclkit.set_encryption("key"),
    }
    ran = 0
    for name in lacking:
        if name in calls:
            with pytest.raises(ncclkit.NcclUnavailableError, match=" came with NCCL "):
                calls[name]()
            ran += 1
    assert ran or not set(calls) & set(lacking)


# -- functional -------------------------------------------------------------------------------------


def test_functional_broadcast_all_to_all_and_point_to_point(comm: ncclkit.Communicator) -> None:
    from ncclkit import functional

    x = random_input("float32", COUNT, comm.device).view(64, -1)
    assert_matches(functional.broadcast(x, comm), x, exact=True)
    assert_matches(functional.all_to_all(x, comm), x, exact=True)
    assert_matches(functional.all_to_all_v(x, comm, [64], [64]), x, exact=True)
    y = poisoned_like(x).view_as(x)
    with ncclkit.group():
        functional.send(x, comm, 0)
        functional.recv_(y, comm, 0)
    torch.cuda.synchronize()
    assert_matches(y, x, exact=True)
