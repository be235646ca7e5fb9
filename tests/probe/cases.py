"""The bad-input probe's cases: what a user who makes mistakes passes, one family at a time, and
what each must give. Each runs in a process of its own (worker.py), so that a crash or a hang is
seen as one.

A case is a function of an `Env`: a one-rank communicator and arrays on the GPU where there is
one, or, without a GPU, the same Python layers over a stand-in communicator and stand-in device
addresses (only the cases marked ``gpu`` need real ones; ``cmake`` cases run CMake).
"""

from __future__ import annotations

import ctypes
import functools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

REPO = Path(__file__).resolve().parents[2]
FAKE_DEVICE_MEMORY = 0x7F0000000000  # the stand-in's device addresses start here
POOL_ELEMENTS = 1 << 16  # float32 elements every array of a case is carved from


@dataclass(frozen=True)
class Raises:
    error: str  # the exception's class name (a subclass of it passes too)
    pattern: str  # re.search in its message


@dataclass(frozen=True)
class Returns:
    """A valid input: the case returns (and checks its own result, raising AssertionError if wrong)."""


@dataclass(frozen=True)
class Unsafe:
    """What cannot be checked (CUDA would have to dereference a handle to tell): documented, and
    it must fail loudly, an exception or a crash, never return quietly or hang."""

    why: str


Expect = Raises | Returns | Unsafe


@dataclass(frozen=True)
class Case:
    name: str
    family: str
    expect: Expect
    run: Callable[[Env], object]
    needs: str = "any"  # "any": GPU or stand-in; "gpu": a real one; "cmake": CMake (and nvcc)
    timeout: float = 60.0


class CMakeError(Exception):
    """CMake stopped with an error; the message is its output."""


class Skip(Exception):
    """The case cannot run here (a tool missing); the probe reports it as skipped."""


class Env:
    """What a case works with; see the module's docstring. The communicator and the pool are made
    on first use: most cases need neither."""

    def __init__(self, gpu: bool) -> None:
        import ncclkit

        self.gpu = gpu
        self.ncclkit = ncclkit
        if not gpu:
            self._stand_in_device()

    @functools.cached_property
    def torch(self) -> Any:
        import torch

        return torch

    @functools.cached_property
    def base(self) -> int:
        """The pool's first address."""
        if not self.gpu:
            return FAKE_DEVICE_MEMORY
        self.pool = self.torch.empty(POOL_ELEMENTS, dtype=self.torch.float32, device="cuda")
        return self.pool.data_ptr()

    @functools.cached_property
    def comm(self) -> Any:
        if self.gpu:
            return self.ncclkit.Communicator.init_rank(1, self.ncclkit.UniqueId.generate(), 0, device=0)
        collectives = ["all_reduce", "broadcast", "reduce", "all_gather", "reduce_scatter", "all_to_all", "gather"]
        collectives += ["scatter", "all_gather_v", "reduce_scatter_v", "all_to_all_v", "all_reduce_with", "split"]
        handle = SimpleNamespace(valid=True, rank=0, world_size=1, device=0, blocking=True, timeout=None)
        for name in [*collectives, "send", "recv", "put_signal", "wait_signal"]:
            setattr(handle, name, lambda *args: None)
        handle.destroy = lambda: setattr(handle, "valid", False)
        return self.ncclkit.Communicator(handle)

    @staticmethod
    def _stand_in_device() -> None:
        """One device whose memory is the pool's stand-in addresses."""
        from ncclkit import comm as comm_module

        end = FAKE_DEVICE_MEMORY + 4 * POOL_ELEMENTS
        comm_module._cuda = lambda: SimpleNamespace(
            pointer_device=lambda ptr: 0 if FAKE_DEVICE_MEMORY <= ptr < end else -1,
            mapped_bytes=lambda ptr, wanted: min(wanted, end - ptr) if FAKE_DEVICE_MEMORY <= ptr < end else -1,
            device_count=lambda: 1,
            stream_wait=lambda *args: None,
        )

    def init(self, **change: Any) -> Any:
        """Communicator.init_rank with valid arguments but those in `change`."""
        args = {"world_size": 2, "unique_id": self.ncclkit.UniqueId.generate(), "rank": 0, "device": 0, **change}
        return self.ncclkit.Communicator.init_rank(
            args.pop("world_size"), args.pop("unique_id"), args.pop("rank"), **args
        )

    def array(self, offset: int = 0, count: int = 64, **interface: Any) -> Any:
        """A CUDA-array-interface float32 array of `count` elements, `offset` elements into the pool;
        `interface` replaces or adds keys."""
        cai = {"shape": (count,), "typestr": "<f4", "data": (self.base + 4 * offset, False), "version": 3, **interface}
        return SimpleNamespace(__cuda_array_interface__=cai)

    def tensor(self, *shape: int, dtype: str = "float32", **kwargs: Any) -> Any:
        return self.torch.randn(*shape, dtype=getattr(self.torch, dtype), **kwargs)


def dlpack(*, shape: tuple[int, ...] | None = (64,), ndim: int | None = None, reported: int = 2, **fields: Any) -> Any:
    """An object with __dlpack__ whose capsule (made with ctypes) holds what the arguments say
    (`fields`: the DLTensor's, and DLPack 1.0's flags); its __dlpack_device__ says `reported`."""
    from dlpack_capsules import capsule, tensor

    flags = fields.pop("flags", 0)
    t = tensor(None if shape is None else list(shape), ndim)
    t.data = fields.pop("data", FAKE_DEVICE_MEMORY)
    for name, value in fields.items():
        setattr(t, name, value)
    made, keep = capsule(t, versioned=bool(flags), flags=flags)

    class Producer:
        def __dlpack__(self, stream: object = None) -> object:
            self.keep = keep
            return made

        def __dlpack_device__(self) -> tuple[int, int]:
            return (reported, 0)

    return Producer()


def pooled_dlpack(env: Env, **fields: Any) -> Any:
    return dlpack(data=env.base, **fields)


# -- build inputs: CMake in script mode (archs) and a find_package(NCCL) project ---------------------
ARCHS_SCRIPT = """
include({repo}/cmake/NcclkitCudaArchs.cmake)
ncclkit_cuda_archs("${{SPEC}}")
"""


def cmake_archs(spec: str) -> None:
    nvcc = shutil.which("nvcc") or "/usr/local/cuda/bin/nvcc"
    cmake = shutil.which("cmake")
    if not cmake or not Path(nvcc).exists():
        raise Skip("needs cmake and the CUDA toolkit's nvcc")
    version = subprocess.run([nvcc, "--version"], capture_output=True, text=True, check=True).stdout
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp, "archs.cmake")
        script.write_text(ARCHS_SCRIPT.format(repo=REPO))
        cmd = [cmake, f"-DSPEC={spec}", f"-DCMAKE_CUDA_COMPILER={nvcc}", "-P", str(script)]
        cmd.insert(2, f"-DCMAKE_CUDA_COMPILER_VERSION={version.split('release ')[1].split(',')[0]}")
        done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PATH": tmp}, check=False)
    if done.returncode:
        raise CMakeError(" ".join((done.stdout + done.stderr).split()))


def cmake_find_nccl(**hints: str) -> None:
    cmake = shutil.which("cmake")
    if not cmake:
        raise Skip("needs cmake")
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "a_file").write_text("")
        defines = [f"-D{name}={value.format(tmp=tmp)}" for name, value in hints.items()]
        cmd = [cmake, "-S", str(REPO / "tests/cmake/find_nccl"), "-B", str(Path(tmp, "build"))]
        cmd += [f"-DNCCL_CMAKE_MODULE_DIR={REPO / 'cmake'}", *defines]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode:
        raise CMakeError(" ".join((done.stdout + done.stderr).split()))


# -- cases that take more than an expression -------------------------------------------------------------
def reused_unique_id(env: Env) -> None:
    uid = env.ncclkit.UniqueId.generate()
    env.ncclkit.Communicator.init_rank(1, uid, 0, device=0).destroy()
    env.ncclkit.Communicator.init_rank(1, uid, 0, device=0)


def missing_peer_with_timeout(env: Env) -> None:
    comm = env.init(blocking=False, timeout=1.0)  # rank 0 of 2; rank 1 never comes
    comm.wait()


def non_blocking_init_returns_at_once(env: Env) -> None:
    comm = env.init(blocking=False)
    assert comm.poll() is False, "a peer that never came, and init says it is done"
    comm.abort()


def after_finalize(env: Env) -> None:
    comm = env.ncclkit.Communicator.init_rank(1, env.ncclkit.UniqueId.generate(), 0, device=0)
    comm.finalize()
    comm.all_reduce(env.array())


def after_destroy(env: Env) -> None:
    env.comm.destroy()
    env.comm.all_reduce(env.array())


def forked_child(env: Env) -> None:
    comm, array = env.comm, env.array()  # made in the parent
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            comm.all_reduce(array)
            os.write(write, b"returned")
        except Exception as e:  # noqa: BLE001 - sent to the parent
            os.write(write, f"{type(e).__name__}: {e}".encode())
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    said = os.read(read, 4096).decode()
    assert status == 0, f"the child ended with status {status}"
    raise RuntimeError(f"child: {said}")


def subclass_requiring_grad(env: Env) -> None:
    torch = env.torch

    class Parameter(torch.Tensor):
        pass

    x = torch.randn(64, dtype=torch.bfloat16, device="cuda", requires_grad=True).as_subclass(Parameter)
    out = torch.full((64,), float("nan"), dtype=torch.bfloat16, device="cuda")
    env.comm.all_reduce(x, out)
    torch.cuda.synchronize()
    assert torch.equal(out, x.detach()), "the subclass's values did not arrive"


def empty_array_odd_strides(env: Env) -> None:
    env.comm.all_reduce(env.array(count=0, shape=(0, 3), strides=(4, 8)))


def int4_gemv_large_activations(env: Env) -> None:
    """One row of 20k activations and the largest int4 weight: eight products sum past float16's
    range, the result (about 8k) does not."""
    torch = env.torch
    from ncclkit import ops

    qweight, scales = ops.quantize_weight(torch.full((256, 4224), 1e-4, dtype=torch.float16, device="cuda"), 4, 128)
    x = torch.full((1, 4224), 20000.0, dtype=torch.float16, device="cuda")
    out = ops.weight_only_linear(x, qweight, scales, bits=4, group_size=128)
    reference = x.double() @ ops.dequantize_weight(qweight, scales, bits=4, group_size=128).double().t()
    assert torch.isfinite(out).all(), "inf or nan where the float64 reference is finite"
    assert torch.allclose(out.double(), reference, rtol=1e-2), "far from the float64 reference"


def weight_inside_residual(env: Env) -> None:
    torch = env.torch
    from ncclkit import ops

    residual = torch.randn(4, 256, dtype=torch.float16, device="cuda")
    ops.fused_add_rms_norm(torch.randn_like(residual), residual, residual[1], 1e-6)


def meta(*shape: int, dtype: str = "float16") -> Any:
    import torch

    return torch.empty(*shape, dtype=getattr(torch, dtype), device="meta")


def ops_call(name: str, *args: Any, **kwargs: Any) -> Any:
    from ncclkit import ops

    return getattr(ops, name)(*args, **kwargs)


def linear(env: Env, **change: Any) -> Any:
    from ncclkit import ops

    q, s = ops.quantize_weight(env.tensor(96, 256, dtype="float16"), 4, 64)
    args = {"x": env.tensor(3, 256, dtype="float16"), "qweight": q, "scales": s, "bits": 4, "group_size": 64}
    return ops.weight_only_linear(**{**args, **change})


def norm(env: Env, **change: Any) -> Any:
    args = {"x": env.tensor(2, 256, dtype="float16"), "weight": env.tensor(256, dtype="float16"), "eps": 1e-6}
    return ops_call("rms_norm", **{**args, **change})


def custom_setup(env: Env, max_bytes: Any) -> Any:
    from ncclkit import custom_all_reduce

    return custom_all_reduce.setup(env.comm, max_bytes=max_bytes)


A = "arguments"
ARRAYS = "arrays"
OVERLAP = "overlap"
LIFE = "lifetime and faults"
CUSTOM = "custom all-reduce"
KERNELS = "kernels"
BUILD = "build inputs"

# One case a line, so that the table reads as one (the formatter leaves it so).
# fmt: off
CASES: list[Case] = [
    # -- init_rank's arguments
    Case("world_size float", A, Raises("TypeError", r"^world_size must be an int, got float"), lambda e: e.init(world_size=2.0)),
    Case("world_size huge", A, Raises("ValueError", r"^world_size must be in \[1, "), lambda e: e.init(world_size=2**40)),
    Case("world_size zero", A, Raises("ValueError", r"^world_size must be in \[1, "), lambda e: e.init(world_size=0)),
    Case("rank bool", A, Raises("TypeError", r"^rank must be an int, got bool"), lambda e: e.init(rank=True)),
    Case("rank past world_size", A, Raises("ValueError", r"^rank 3 is out of range"), lambda e: e.init(rank=3)),
    Case("rank negative", A, Raises("ValueError", r"^rank -1 is out of range"), lambda e: e.init(rank=-1)),
    Case("device float", A, Raises("TypeError", r"^device must be an int"), lambda e: e.init(device=0.0)),
    Case("device past the GPUs", A, Raises("ValueError", r"^device 99 is out of range"), lambda e: e.init(device=99)),
    Case("blocking str", A, Raises("TypeError", r"^config field blocking must be True or False"), lambda e: e.init(blocking="yes")),
    Case("min_ctas float", A, Raises("TypeError", r"^config field min_ctas must be an int"), lambda e: e.init(min_ctas=1.5)),
    Case("max_ctas negative", A, Raises("ValueError", r"^config field max_ctas must be in"), lambda e: e.init(max_ctas=-1)),
    Case("cga_cluster_size huge", A, Raises("ValueError", r"^config field cga_cluster_size must be in"), lambda e: e.init(cga_cluster_size=2**40)),
    Case("net_name int", A, Raises("TypeError", r"^config field net_name must be a str"), lambda e: e.init(net_name=5)),
    Case("config field misspelt", A, Raises("TypeError", r"^init_rank got unknown config field\(s\) 'min_cta'"), lambda e: e.init(min_cta=1)),
    Case("cta_policy unknown", A, Raises("ValueError", r"^config field cta_policy must be one of"), lambda e: e.init(cta_policy="fast")),
    Case("comm_name with a NUL", A, Raises("ValueError", r"^config field comm_name must not hold a NUL"), lambda e: e.init(comm_name="a\0b")),
    Case("unique_id empty list", A, Raises("TypeError", r"^unique_id must be a ncclkit.UniqueId or a non-empty"), lambda e: e.init(unique_id=[])),
    Case("split config misspelt", A, Raises("TypeError", r"^split got unknown config field\(s\) 'blockng'"), lambda e: e.comm.split(0, blockng=False)),
    Case("timeout str", A, Raises("TypeError", r"^timeout must be a number of seconds"), lambda e: e.init(blocking=False, timeout="5")),
    Case("timeout zero", A, Raises("ValueError", r"^timeout must be a positive, finite"), lambda e: e.init(blocking=False, timeout=0)),
    Case("timeout infinite", A, Raises("ValueError", r"^timeout must be a positive, finite"), lambda e: e.init(blocking=False, timeout=float("inf"))),
    Case("timeout on a blocking init", A, Raises("ValueError", r"^timeout needs blocking=False"), lambda e: e.init(timeout=5.0)),
    Case("unique_id bytes", A, Raises("TypeError", r"^unique_id must be a ncclkit.UniqueId"), lambda e: e.init(unique_id=bytes(128))),
    Case("UniqueId too short", A, Raises("ValueError", r"^a UniqueId is 128 bytes"), lambda e: e.ncclkit.UniqueId(b"short")),
    Case("UniqueId of a str", A, Raises("ValueError", r"^a UniqueId is 128 bytes, got str"), lambda e: e.ncclkit.UniqueId("x" * 128)),
    # -- collectives' arguments
    Case("op list", A, Raises("TypeError", r"^op must be a str, one of"), lambda e: e.comm.all_reduce(e.array(), op=[])),
    Case("op None", A, Raises("TypeError", r"^op must be a str, one of"), lambda e: e.comm.all_reduce(e.array(), op=None)),
    Case("op unknown", A, Raises("ValueError", r"^op must be one of .*, got 'mean'"), lambda e: e.comm.all_reduce(e.array(), op="mean")),
    Case("stream negative", A, Raises("ValueError", r"^stream must be in \[0, "), lambda e: e.comm.all_reduce(e.array(), stream=-1)),
    Case("stream past 64 bits", A, Raises("ValueError", r"^stream must be in \[0, "), lambda e: e.comm.all_reduce(e.array(), stream=2**64)),
    Case("stream float", A, Raises("TypeError", r"^stream must be an int handle"), lambda e: e.comm.all_reduce(e.array(), stream=1.5)),
    Case("stream bool", A, Raises("TypeError", r"^stream must be an int, got bool"), lambda e: e.comm.all_reduce(e.array(), stream=True)),
    Case("stream object", A, Raises("TypeError", r"^stream must be an int handle"), lambda e: e.comm.all_reduce(e.array(), stream=object())),
    Case("root float", A, Raises("TypeError", r"^root must be an int, got float"), lambda e: e.comm.broadcast(e.array(), root=1.0)),
    Case("root past world_size", A, Raises("ValueError", r"^root 5 is out of range"), lambda e: e.comm.broadcast(e.array(), root=5)),
    Case("reduce root negative", A, Raises("ValueError", r"^root -1 is out of range"), lambda e: e.comm.reduce(e.array(), root=-1)),
    Case("peer str", A, Raises("TypeError", r"^peer must be an int, got str"), lambda e: e.comm.send(e.array(), "0")),
    Case("peer past world_size", A, Raises("ValueError", r"^peer 1 is out of range"), lambda e: e.comm.recv(e.array(), 1)),
    Case("gather recvbuf off the root", A, Raises("ValueError", r"^gather needs a recvbuf on the root"), lambda e: e.comm.gather(e.array())),
    Case("scatter without recvbuf", A, Raises("ValueError", r"^scatter needs a recvbuf"), lambda e: e.comm.scatter(e.array(), None)),
    Case("all_gather_v counts too many", A, Raises("ValueError", r"^counts must have one count per rank \(1\), got 2"), lambda e: e.comm.all_gather_v(e.array(), e.array(64), [32, 32])),
    Case("all_gather_v count of another size", A, Raises("ValueError", r"^sendbuf has 64 elements, and counts\[0\] is 8"), lambda e: e.comm.all_gather_v(e.array(), e.array(64), [8])),
    Case("reduce_scatter_v counts a str", A, Raises("TypeError", r"^counts must be a sequence of 1 ints, got str"), lambda e: e.comm.reduce_scatter_v(e.array(), e.array(64), "64")),
    Case("all_to_all_v negative count", A, Raises("ValueError", r"^send_counts\[0\] must be in \[0, "), lambda e: e.comm.all_to_all_v(e.array(), e.array(64), [-1], [64])),
    Case("premul_sum of a bool", A, Raises("TypeError", r"^premul_sum's scale must be a number"), lambda e: e.comm.all_reduce(e.array(), op=e.ncclkit.premul_sum(True))),
    Case("premul_sum of infinity", A, Raises("ValueError", r"^premul_sum's scale must be finite"), lambda e: e.ncclkit.premul_sum(float("inf"))),
    Case("collective config a list", A, Raises("TypeError", r"^config must be a ncclkit.CollectiveConfig"), lambda e: e.comm.all_reduce(e.array(), config=[1])),
    Case("wait_signal counts a list", A, Raises("TypeError", r"^counts must be a non-empty dict"), lambda e: e.comm.wait_signal([(0, 1)])),
    Case("mem_alloc of nothing", A, Raises("ValueError", r"^nbytes must be positive, got 0"), lambda e: e.ncclkit.mem_alloc(0, device=0)),
    Case("set_encryption of bytes", A, Raises("TypeError", r"^psk must be a non-empty str"), lambda e: e.ncclkit.set_encryption(b"key")),
    Case("algorithm unknown", A, Raises("ValueError", r"^algorithm must be one of"), lambda e: e.comm.all_reduce(e.array(), algorithm="fast")),
    Case("algorithm custom without setup", A, Raises("RuntimeError", r"^algorithm='oneshot' needs this communicator's custom all-reduce"), lambda e: e.comm.all_reduce(e.array(), algorithm="oneshot")),
    Case("stream garbage handle", A, Unsafe("a cudaStream_t cannot be checked without CUDA dereferencing it"), lambda e: (e.comm.all_reduce(e.array(0), e.array(64), stream=0xDEADBEEF0), e.torch.cuda.synchronize()), needs="gpu"),
    # -- arrays
    Case("not an array", ARRAYS, Raises("TypeError", r"^sendbuf must be a GPU array .*got list"), lambda e: e.comm.all_reduce([1.0, 2.0])),
    Case("CAI not a dict", ARRAYS, Raises("TypeError", r"^sendbuf.__cuda_array_interface__ has no 'typestr'"), lambda e: e.comm.all_reduce(SimpleNamespace(__cuda_array_interface__=[1]))),
    Case("CAI without shape", ARRAYS, Raises("TypeError", r"has no 'shape'"), lambda e: e.comm.all_reduce(SimpleNamespace(__cuda_array_interface__={"typestr": "<f4", "data": (0, False)}))),
    Case("CAI without data", ARRAYS, Raises("TypeError", r"has no 'data'"), lambda e: e.comm.all_reduce(SimpleNamespace(__cuda_array_interface__={"typestr": "<f4", "shape": (4,)}))),
    Case("CAI bool typestr", ARRAYS, Raises("TypeError", r"typestr '\|b1', which is no NCCL dtype"), lambda e: e.comm.all_reduce(e.array(typestr="|b1"))),
    Case("CAI big-endian typestr", ARRAYS, Raises("TypeError", r"typestr '>f4', which is no NCCL dtype"), lambda e: e.comm.all_reduce(e.array(typestr=">f4"))),
    Case("CAI negative extent", ARRAYS, Raises("ValueError", r"negative extent"), lambda e: e.comm.all_reduce(e.array(shape=(-4,)))),
    Case("CAI float extent", ARRAYS, Raises("TypeError", r"shape must be a tuple of ints"), lambda e: e.comm.all_reduce(e.array(shape=(4.0,)))),
    Case("CAI shape a str", ARRAYS, Raises("TypeError", r"shape must be a tuple of ints"), lambda e: e.comm.all_reduce(e.array(shape="4"))),
    Case("CAI strides not contiguous", ARRAYS, Raises("ValueError", r"^sendbuf is not contiguous"), lambda e: e.comm.all_reduce(e.array(shape=(4, 8), strides=(4, 16)))),
    Case("CAI strides floats", ARRAYS, Raises("TypeError", r"strides must be a tuple of ints"), lambda e: e.comm.all_reduce(e.array(shape=(4,), strides=(4.0,)))),
    Case("CAI mask", ARRAYS, Raises("ValueError", r"has a __cuda_array_interface__ mask"), lambda e: e.comm.all_reduce(e.array(mask=e.array()))),
    Case("CAI data one item", ARRAYS, Raises("TypeError", r"data must be \(pointer, read-only flag\)"), lambda e: e.comm.all_reduce(e.array(data=(e.base,)))),
    Case("CAI data pointer str", ARRAYS, Raises("TypeError", r"data must be \(pointer, read-only flag\)"), lambda e: e.comm.all_reduce(e.array(data=(hex(e.base), False)))),
    Case("CAI host memory", ARRAYS, Raises("ValueError", r"^sendbuf is in host memory"), lambda e: e.comm.all_reduce(e.array(data=(ctypes.addressof(ctypes.create_string_buffer(256)) // 4 * 4, False)))),
    Case("CAI float32 at an odd address", ARRAYS, Raises("ValueError", r"not a multiple of its 4-byte float32 elements"), lambda e: e.comm.all_reduce(e.array(data=(e.base + 2, False)))),
    Case("CAI stream zero", ARRAYS, Raises("ValueError", r"stream must be a positive int"), lambda e: e.comm.all_reduce(e.array(stream=0))),
    Case("CAI stream float", ARRAYS, Raises("ValueError", r"stream must be a positive int"), lambda e: e.comm.all_reduce(e.array(stream=1.5))),
    Case("CAI 64 GiB view of a small allocation", ARRAYS, Raises("ValueError", r"^sendbuf claims 68719476736 bytes .* but only \d+ bytes"), lambda e: e.comm.all_reduce(e.array(count=1 << 34))),
    Case("CAI read-only output", ARRAYS, Raises("ValueError", r"^recvbuf is read-only"), lambda e: e.comm.all_reduce(e.array(), e.array(64, data=(e.base + 256, True)))),
    Case("CAI read-only in place", ARRAYS, Raises("ValueError", r"^sendbuf \(written in place"), lambda e: e.comm.all_reduce(e.array(data=(e.base, True)))),
    Case("CAI read-only recv", ARRAYS, Raises("ValueError", r"^buf is read-only"), lambda e: e.comm.recv(e.array(data=(e.base, True)), 0)),
    Case("CAI read-only input", ARRAYS, Returns(), lambda e: e.comm.all_reduce(e.array(data=(e.base, True)), e.array(64))),
    Case("empty array of odd strides", ARRAYS, Returns(), empty_array_odd_strides),
    Case("recvbuf of another dtype", ARRAYS, Raises("TypeError", r"^recvbuf has dtype int32 but sendbuf has float32"), lambda e: e.comm.all_reduce(e.array(), e.array(64, typestr="<i4"))),
    Case("recvbuf of another size", ARRAYS, Raises("ValueError", r"^recvbuf has 32 elements, expected 64"), lambda e: e.comm.all_reduce(e.array(), e.array(64, count=32))),
    Case("DLPack on the CPU", ARRAYS, Raises("ValueError", r"DLPack device type 1, not a CUDA GPU"), lambda e: e.comm.all_reduce(dlpack(reported=1))),
    Case("DLPack capsule says CPU", ARRAYS, Raises("ValueError", r"DLPack capsule is on device type 1"), lambda e: e.comm.all_reduce(dlpack(device_type=1))),
    Case("DLPack null shape", ARRAYS, Raises("ValueError", r"^DLPack tensor has ndim 2 and no shape"), lambda e: e.comm.all_reduce(dlpack(shape=None, ndim=2))),
    Case("DLPack ndim 100", ARRAYS, Raises("ValueError", r"^DLPack tensor has ndim 100 \(0 to 64"), lambda e: e.comm.all_reduce(dlpack(ndim=100))),
    Case("DLPack negative extent", ARRAYS, Raises("ValueError", r"negative extent -3"), lambda e: e.comm.all_reduce(dlpack(shape=(4, -3)))),
    Case("DLPack complex", ARRAYS, Raises("TypeError", r"DLPack dtype code 5 of 64 bits"), lambda e: e.comm.all_reduce(dlpack(code=5, bits=64))),
    Case("DLPack two lanes", ARRAYS, Raises("TypeError", r"x 2, which is no NCCL dtype"), lambda e: e.comm.all_reduce(dlpack(lanes=2))),
    Case("DLPack misaligned", ARRAYS, Raises("ValueError", r"not a multiple of its 4-byte"), lambda e: e.comm.all_reduce(dlpack(data=FAKE_DEVICE_MEMORY + 1))),
    Case("DLPack read-only output", ARRAYS, Raises("ValueError", r"^recvbuf is read-only"), lambda e: e.comm.all_reduce(e.array(64), pooled_dlpack(e, flags=1))),
    Case("DLPack 64 GiB view", ARRAYS, Raises("ValueError", r"^sendbuf claims 68719476736 bytes"), lambda e: e.comm.all_reduce(pooled_dlpack(e, shape=(1 << 34,)))),
    Case("torch CPU tensor", ARRAYS, Raises("ValueError", r"^sendbuf is in cpu memory"), lambda e: e.comm.all_reduce(e.tensor(8))),
    Case("torch sparse tensor", ARRAYS, Raises("TypeError", r"^sendbuf is a sparse_coo tensor"), lambda e: e.comm.all_reduce(e.tensor(8).to_sparse())),
    Case("torch storage", ARRAYS, Raises("TypeError", r"^sendbuf must be a GPU array"), lambda e: e.comm.all_reduce(e.tensor(8).untyped_storage())),
    Case("torch complex tensor", ARRAYS, Raises("TypeError", r"^sendbuf has dtype complex64"), lambda e: e.comm.all_reduce(e.tensor(8, dtype="complex64", device="cuda")), needs="gpu"),
    Case("torch not contiguous", ARRAYS, Raises("ValueError", r"^sendbuf is not contiguous"), lambda e: e.comm.all_reduce(e.tensor(8, 8, device="cuda").t()), needs="gpu"),
    Case("torch subclass requiring grad", ARRAYS, Returns(), subclass_requiring_grad, needs="gpu"),
    # -- overlap
    Case("all_reduce partial overlap", OVERLAP, Raises("ValueError", r"^recvbuf overlaps sendbuf \(in place, they must be the same"), lambda e: e.comm.all_reduce(e.array(0), e.array(32))),
    Case("broadcast partial overlap", OVERLAP, Raises("ValueError", r"^recvbuf overlaps sendbuf"), lambda e: e.comm.broadcast(e.array(0), e.array(1))),
    Case("reduce partial overlap", OVERLAP, Raises("ValueError", r"^recvbuf overlaps sendbuf"), lambda e: e.comm.reduce(e.array(8), e.array(0))),
    Case("all_gather not in its block", OVERLAP, Raises("ValueError", r"^recvbuf overlaps sendbuf \(in place, "), lambda e: e.comm.all_gather(e.array(8), e.array(0))),
    Case("reduce_scatter partial overlap", OVERLAP, Raises("ValueError", r"^recvbuf overlaps sendbuf"), lambda e: e.comm.reduce_scatter(e.array(0), e.array(8))),
    Case("all_to_all in place", OVERLAP, Raises("ValueError", r"this collective has no in-place form"), lambda e: e.comm.all_to_all(e.array(0), e.array(0))),
    Case("all_to_all without recvbuf", OVERLAP, Raises("ValueError", r"^all_to_all needs a recvbuf distinct"), lambda e: e.comm.all_to_all(e.array(0), None)),
    Case("all_reduce in place", OVERLAP, Returns(), lambda e: e.comm.all_reduce(e.array(0), e.array(0))),
    Case("all_gather in place", OVERLAP, Returns(), lambda e: e.comm.all_gather(e.array(0), e.array(0))),
    # -- lifetime and faults
    Case("collective after destroy", LIFE, Raises("ValueError", r"^communicator has been destroyed"), after_destroy),
    Case("collective after finalize", LIFE, Raises("ValueError", r"^all_reduce: the communicator has been finalized"), after_finalize, needs="gpu"),
    Case("UniqueId used twice", LIFE, Raises("ValueError", r"was already used by this process for rank 0"), reused_unique_id, needs="gpu"),
    Case("missing peer, non-blocking, timeout", LIFE, Raises("NcclTimeoutError", r"^wait did not finish within 1 s"), missing_peer_with_timeout, needs="gpu"),
    Case("non-blocking init returns at once", LIFE, Returns(), non_blocking_init_returns_at_once, needs="gpu", timeout=30),
    Case("forked child uses the parent's", LIFE, Raises("RuntimeError", r"^child: RuntimeError: this communicator was made before fork\(\), in the parent process"), forked_child, needs="gpu"),
    Case("abort twice", LIFE, Raises("ValueError", r"^communicator has been destroyed"), lambda e: (e.comm.abort(), e.comm.abort()), needs="gpu"),
    # -- custom all-reduce
    Case("max_bytes 2**63", CUSTOM, Raises("ValueError", r"^max_bytes must be a positive multiple of 16 of at most"), lambda e: custom_setup(e, 2**63)),
    Case("max_bytes not a multiple of 16", CUSTOM, Raises("ValueError", r"^max_bytes must be a positive multiple of 16"), lambda e: custom_setup(e, 17)),
    Case("max_bytes float", CUSTOM, Raises("TypeError", r"^max_bytes must be an int"), lambda e: custom_setup(e, 1024.0)),
    Case("max_bytes zero", CUSTOM, Raises("ValueError", r"^max_bytes must be a positive multiple"), lambda e: custom_setup(e, 0)),
    # -- kernels
    Case("bits 3", KERNELS, Raises("ValueError", r"^bits must be 4 or 8, got 3"), lambda e: linear(e, bits=3)),
    Case("group_size 32", KERNELS, Raises("ValueError", r"^group_size must be 64 or 128"), lambda e: linear(e, group_size=32)),
    Case("qweight int8 for int4", KERNELS, Raises("TypeError", r"^qweight must be torch.uint8 for bits=4"), lambda e: linear(e, qweight=meta(96, 128, dtype="int8"))),
    Case("x float32", KERNELS, Raises("TypeError", r"^x must be float16 or bfloat16"), lambda e: linear(e, x=e.tensor(3, 256))),
    Case("x of another K", KERNELS, Raises("ValueError", r"^x must have K=256 features"), lambda e: linear(e, x=e.tensor(3, 320, dtype="float16"))),
    Case("hidden not a multiple of 8", KERNELS, Raises("ValueError", r"must be a positive multiple of 8"), lambda e: norm(e, x=e.tensor(2, 12, dtype="float16"))),
    Case("eps negative", KERNELS, Raises("ValueError", r"^eps must be a non-negative number"), lambda e: norm(e, eps=-1.0)),
    Case("eps str", KERNELS, Raises("ValueError", r"^eps must be a non-negative number"), lambda e: norm(e, eps="1e-6")),
    Case("x a list", KERNELS, Raises("TypeError", r"^x must be a torch.Tensor, got list"), lambda e: norm(e, x=[1.0] * 256)),
    Case("bits str", KERNELS, Raises("ValueError", r"^bits must be 4 or 8, got '4'"), lambda e: linear(e, bits="4")),
    Case("CPU tensors", KERNELS, Raises("ValueError", r"^x must be a CUDA tensor"), lambda e: norm(e)),
    Case("hidden past a C int", KERNELS, Raises("ValueError", r"hidden\) must be below 2\*\*31"), lambda e: ops_call("rms_norm", meta(1, 2**31 + 64), meta(2**31 + 64), 1e-6)),
    Case("K past a C int", KERNELS, Raises("ValueError", r"^qweight's K must be below 2\*\*31"), lambda e: linear(e, x=meta(1, 2**31 + 64), qweight=meta(1, 2**30 + 32, dtype="uint8"), scales=meta(1, (2**31 + 64) // 64))),
    Case("rows past a C int", KERNELS, Raises("ValueError", r"^x must have fewer than 2\*\*31 rows"), lambda e: ops_call("weight_only_linear", meta(2**31, 256), meta(16, 256, dtype="int8"), meta(16), bits=8)),
    Case("weight inside residual", KERNELS, Raises("ValueError", r"^residual must not overlap weight"), weight_inside_residual, needs="gpu"),
    Case("residual is x", KERNELS, Raises("ValueError", r"^residual must not overlap x"), lambda e: ops_call("fused_add_rms_norm", *(lambda r: (r, r))(e.tensor(4, 256, dtype="float16", device="cuda")), e.tensor(256, dtype="float16", device="cuda"), 1e-6), needs="gpu"),
    Case("int4 GEMV of 16k activations", KERNELS, Returns(), int4_gemv_large_activations, needs="gpu"),
    # -- build inputs
    Case("ARCHS 80a", BUILD, Raises("CMakeError", r"asks for sass 80a, ptx 80a, which nvcc"), lambda e: cmake_archs("80a"), needs="cmake"),
    Case("ARCHS 8.6a+PTX", BUILD, Raises("CMakeError", r"asks for sass 86a, ptx 86a, which nvcc"), lambda e: cmake_archs("8.6a+PTX"), needs="cmake"),
    Case("ARCHS 75f", BUILD, Raises("CMakeError", r"asks for sass 75f, ptx 75f, which nvcc"), lambda e: cmake_archs("75f"), needs="cmake"),
    Case("ARCHS a space", BUILD, Raises("CMakeError", r"names no arch"), lambda e: cmake_archs(" "), needs="cmake"),
    Case("ARCHS separators", BUILD, Raises("CMakeError", r"names no arch"), lambda e: cmake_archs(";,"), needs="cmake"),
    Case("ARCHS 0", BUILD, Raises("CMakeError", r"the CUDA code cannot be turned off"), lambda e: cmake_archs("0"), needs="cmake"),
    Case("ARCHS off", BUILD, Raises("CMakeError", r"the CUDA code cannot be turned off"), lambda e: cmake_archs("off"), needs="cmake"),
    Case("ARCHS 9.0q", BUILD, Raises("CMakeError", r"'9.0q' is not an arch like"), lambda e: cmake_archs("9.0q"), needs="cmake"),
    Case("ARCHS 90a", BUILD, Returns(), lambda e: cmake_archs("90a"), needs="cmake"),
    Case("NCCL_ROOT missing", BUILD, Raises("CMakeError", r"NCCL_ROOT='/nonexistent/nccl' \(which does not exist\): no NCCL there"), lambda e: cmake_find_nccl(NCCL_ROOT="/nonexistent/nccl"), needs="cmake"),
    Case("NCCL_ROOT a file", BUILD, Raises("CMakeError", r"\(a file, not a directory\): no NCCL there"), lambda e: cmake_find_nccl(NCCL_ROOT="{tmp}/a_file"), needs="cmake"),
    Case("NCCL_ROOT relative", BUILD, Raises("CMakeError", r"NCCL_ROOT='nccl' is a relative path"), lambda e: cmake_find_nccl(NCCL_ROOT="nccl"), needs="cmake"),
    Case("NCCL_INCLUDE_DIR alone", BUILD, Raises("CMakeError", r"NCCL_INCLUDE_DIR \('/usr/include'\) and NCCL_LIB_DIR \(''\) go together"), lambda e: cmake_find_nccl(NCCL_INCLUDE_DIR="/usr/include"), needs="cmake"),
]
# fmt: on
