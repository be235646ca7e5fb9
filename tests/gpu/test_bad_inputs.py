"""Every bad argument is a ValueError/TypeError naming it, raised before NCCL runs; NCCL's own
failures are NcclError with NCCL's text."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

import ncclkit  # noqa: E402
from ncclkit import _comm  # noqa: E402
from reference import random_input  # noqa: E402

pytestmark = pytest.mark.gpu


def test_cpu_tensor(comm: ncclkit.Communicator) -> None:
    with pytest.raises(ValueError, match="^sendbuf is in cpu memory; NCCL needs a CUDA tensor$"):
        comm.all_reduce(torch.ones(8))


def test_host_memory_through_the_array_interface(comm: ncclkit.Communicator) -> None:
    class HostArray:
        def __init__(self) -> None:
            self.keep = torch.ones(8).pin_memory().numpy()  # pinned host memory, not device memory
            self.__cuda_array_interface__ = {
                "shape": (8,),
                "typestr": "<f4",
                "strides": None,
                "data": (self.keep.ctypes.data, False),
                "version": 3,
            }

    with pytest.raises(ValueError, match="^recvbuf is in host memory; NCCL needs GPU memory$"):
        comm.all_reduce(random_input("float32", 8, comm.device), HostArray())


def test_non_contiguous(comm: ncclkit.Communicator) -> None:
    x = torch.ones(8, 8, device="cuda").t()
    with pytest.raises(ValueError, match=r"^sendbuf is not contiguous; pass sendbuf.contiguous\(\)$"):
        comm.all_reduce(x)


def test_unsupported_dtype(comm: ncclkit.Communicator) -> None:
    with pytest.raises(TypeError, match="^sendbuf has dtype bool, which this build's NCCL does not support"):
        comm.all_reduce(torch.ones(8, dtype=torch.bool, device="cuda"))


def test_dtype_mismatch(comm: ncclkit.Communicator) -> None:
    with pytest.raises(TypeError, match="^recvbuf has dtype float16 but sendbuf has float32$"):
        comm.all_reduce(torch.ones(8, device="cuda"), torch.ones(8, device="cuda", dtype=torch.float16))


def test_wrong_output_size(comm: ncclkit.Communicator) -> None:
    with pytest.raises(ValueError, match="^recvbuf has 7 elements, expected 8$"):
        comm.all_gather(torch.ones(8, device="cuda"), torch.ones(7, device="cuda"))


def test_out_of_range_peer_and_root(comm: ncclkit.Communicator) -> None:
    x = torch.ones(8, device="cuda")
    with pytest.raises(ValueError, match="^peer 1 is out of range for a communicator of 1 ranks$"):
        comm.send(x, 1)
    with pytest.raises(ValueError, match="^root -1 is out of range for a communicator of 1 ranks$"):
        comm.broadcast(x, root=-1)


def test_unknown_op(comm: ncclkit.Communicator) -> None:
    with pytest.raises(ValueError, match="^op must be one of avg, max, min, prod, sum, got 'mean'$"):
        comm.all_reduce(torch.ones(8, device="cuda"), op="mean")


def test_wrong_device() -> None:
    if torch.cuda.device_count() < 2:
        pytest.skip("needs two GPUs")
    with ncclkit.Communicator.init_rank(1, ncclkit.UniqueId.generate(), 0, device=0) as c:
        with pytest.raises(ValueError, match="^sendbuf is on cuda:1, but the communicator is on cuda:0$"):
            c.all_reduce(torch.ones(8, device="cuda:1"))


def test_device_out_of_range() -> None:
    count = torch.cuda.device_count()
    with pytest.raises(ValueError, match=f"^device {count} is out of range: {count} CUDA device\\(s\\) are visible$"):
        ncclkit.Communicator.init_rank(1, ncclkit.UniqueId.generate(), 0, device=count)


def test_destroyed_communicator() -> None:
    c = ncclkit.Communicator.init_rank(1, ncclkit.UniqueId.generate(), 0, device=0)
    c.destroy()
    assert not c.valid
    with pytest.raises(ValueError, match="^communicator has been destroyed$"):
        c.all_reduce(torch.ones(8, device="cuda"))
    with pytest.raises(ValueError, match="^communicator has been destroyed$"):
        c.destroy()


def test_raw_all_reduce_binding_checks_its_arguments(comm: ncclkit.Communicator) -> None:
    """Comm.all_reduce is a CPython fast call, not a pybind11 binding: its errors all the same."""
    handle, x = comm._handle, torch.ones(8, device="cuda")
    float32, total = _comm.DTYPES["float32"], _comm.OPS["sum"]
    with pytest.raises(TypeError, match=r"takes 6 arguments, got 5$"):
        handle.all_reduce(x.data_ptr(), x.data_ptr(), 8, float32, total)
    with pytest.raises(OverflowError):
        handle.all_reduce(-1, x.data_ptr(), 8, float32, total, 0)
    with pytest.raises(TypeError):
        handle.all_reduce(x.data_ptr(), x.data_ptr(), "8", float32, total, 0)
    with pytest.raises(ValueError, match="^unknown NCCL reduction op 99$"):
        handle.all_reduce(x.data_ptr(), x.data_ptr(), 8, float32, 99, 0)
    with pytest.raises(TypeError):
        _comm.Comm.all_reduce(object(), x.data_ptr(), x.data_ptr(), 8, float32, total, 0)
    numpy = pytest.importorskip("numpy")
    handle.all_reduce(x.data_ptr(), x.data_ptr(), numpy.uint64(8), numpy.int32(float32), total, 0)
    torch.cuda.synchronize()
    assert torch.equal(x.cpu(), torch.ones(8))


def test_nccl_failure_is_an_nccl_error_with_nccls_text() -> None:
    # Past ncclkit's own checks, straight to NCCL: rank 5 of 2.
    with pytest.raises(ncclkit.NcclError) as error:
        _comm.Comm.init_rank(2, [_comm.get_unique_id()], 5, 0, [], False)
    assert (error.value.call, error.value.name, error.value.code) == (
        "ncclCommInitRankConfig",
        "ncclInvalidArgument",
        4,
    )
    assert "Invalid rank requested : 5/2" in error.value.last_error


def test_shrink_needs_a_rank_to_leave_out(comm: ncclkit.Communicator) -> None:
    with pytest.raises(ValueError, match=r"^exclude_ranks is empty: shrink leaves out at least one rank"):
        comm.shrink([])


def test_shrink_on_an_old_nccl_says_which_version_it_needs(
    comm: ncclkit.Communicator, monkeypatch: pytest.MonkeyPatch
) -> None:
    class OldComm:  # what a build against NCCL < 2.27 binds: no shrink
        valid = True

    monkeypatch.setattr(comm, "_handle", OldComm())
    with pytest.raises(
        ncclkit.NcclUnavailableError,
        match="^comm_shrink came with NCCL 2.27.0, and ncclkit was built against the header of NCCL .*, so it is not "
        "compiled in. Fix: rebuild ncclkit against NCCL 2.27.0 or newer",
    ):
        comm.shrink([0])


class ReadOnlyArray:
    """A torch tensor seen through a __cuda_array_interface__ that says read-only, as a producer
    of a constant array says it."""

    def __init__(self, tensor: torch.Tensor) -> None:
        self.keep = tensor
        self.__cuda_array_interface__ = {**tensor.__cuda_array_interface__, "data": (tensor.data_ptr(), True)}


def test_read_only_outputs_are_refused(comm: ncclkit.Communicator) -> None:
    x = random_input("float32", 8, comm.device)
    with pytest.raises(ValueError, match=r"^recvbuf is read-only \(its producer says so\)"):
        comm.all_reduce(x, ReadOnlyArray(torch.empty_like(x)))
    with pytest.raises(ValueError, match=r"^sendbuf \(written in place: recvbuf is None\) is read-only"):
        comm.all_reduce(ReadOnlyArray(x))
    with pytest.raises(ValueError, match="^buf is read-only"):
        comm.recv(ReadOnlyArray(x), 0)
    comm.all_reduce(ReadOnlyArray(x), torch.empty_like(x))  # read-only input, written output: fine


def test_partly_overlapping_buffers_are_refused(comm: ncclkit.Communicator) -> None:
    x = random_input("float32", 16, comm.device)
    with pytest.raises(ValueError, match=r"^recvbuf overlaps sendbuf \(in place, they must be the same buffer\)$"):
        comm.all_reduce(x[:8], x[4:12])
    with pytest.raises(ValueError, match=r"^recvbuf overlaps sendbuf \(in place, they must be the same buffer\)$"):
        comm.broadcast(x[4:12], x[:8])
    with pytest.raises(ValueError, match=r"^recvbuf overlaps sendbuf \(this collective has no in-place form\)$"):
        comm.all_to_all(x, x)
    comm.all_reduce(x[:8], x[8:])  # apart: fine
    comm.all_reduce(x[:8], x[:8])  # the same buffer: in place


def test_in_place_gather_and_scatter_are_the_only_overlaps(comm: ncclkit.Communicator) -> None:
    """One rank: block 0 is the in-place position; one element further is an overlap."""
    x = random_input("float32", 9, comm.device)
    comm.all_gather(x[:8], x[:8])
    comm.reduce_scatter(x[:8], x[:8])
    with pytest.raises(ValueError, match=r"^recvbuf overlaps sendbuf"):
        comm.all_gather(x[1:9], x[:8])
    with pytest.raises(ValueError, match=r"^recvbuf overlaps sendbuf"):
        comm.reduce_scatter(x[:8], x[1:9])


def test_fused_add_rms_norm_refuses_a_weight_inside_residual() -> None:
    from ncclkit import ops

    residual = torch.randn(4, 256, dtype=torch.float16, device="cuda")
    x = torch.randn_like(residual)
    with pytest.raises(ValueError, match="^residual must not overlap weight: it is written in place while weight"):
        ops.fused_add_rms_norm(x, residual, residual[1], 1e-6)
    with pytest.raises(ValueError, match="^residual must not overlap x: it is written in place while x is read"):
        ops.fused_add_rms_norm(residual, residual, torch.ones(256, dtype=torch.float16, device="cuda"), 1e-6)
