"""Communicators and collectives over GPU arrays."""

from __future__ import annotations

import contextlib
import functools
import itertools
import operator
import os
import weakref
from collections.abc import Iterator, Sequence
from types import ModuleType
from typing import Any

from . import compat, custom_all_reduce
from .buffers import Buffer, as_buffer
from .build_info import build_info
from .errors import NcclUnavailableError
from .features import Feature, nccl_version_string


@functools.cache  # per collective call, several times: the loader's checks once
def _nccl() -> ModuleType:
    return compat.require_comm()


@functools.cache
def _cuda() -> ModuleType:
    from . import _cuda

    return _cuda


def get_version() -> int:
    """ncclGetVersion() of the NCCL this process loaded (e.g. 22809 for 2.28.9)."""
    return _nccl().get_version()


def nccl_parameters() -> dict[str, str]:
    """NCCL's parameters (NCCL_ALGO, NCCL_PROTO, ...) and the value each has in this process, as
    text: the documented ones, every one with NCCL_PARAM_DUMP_ALL=1. Needs NCCL 2.30.4 or newer,
    at build and at run time (NcclUnavailableError)."""
    nccl = _nccl()
    if not hasattr(nccl, "parameters"):
        raise _not_compiled_in("params")
    return nccl.parameters()


@functools.cache
def _features() -> dict[str, Feature]:
    return compat.nccl_features()


def _not_compiled_in(name: str) -> NcclUnavailableError:
    """The error for a feature the header ncclkit was built against lacked."""
    nccl = _nccl()
    return NcclUnavailableError(
        name,
        _features()[name].since,
        nccl_version_string(nccl.get_version()),
        nccl.library_path(),
        header=build_info()["nccl"]["version"],
    )


class UniqueId:
    """NCCL's unique id: made by one rank, sent to the others (it pickles), used by all to init."""

    __slots__ = ("_bytes",)

    def __init__(self, data: bytes) -> None:
        size = _nccl().UNIQUE_ID_BYTES
        if not isinstance(data, (bytes, bytearray)) or len(data) != size:
            msg = f"a UniqueId is {size} bytes, got {type(data).__name__} {data!r:.40}"
            raise ValueError(msg)
        self._bytes = bytes(data)

    @classmethod
    def generate(cls) -> UniqueId:
        return cls(_nccl().get_unique_id())

    def __bytes__(self) -> bytes:
        return self._bytes

    def __eq__(self, other: object) -> bool:
        return isinstance(other, UniqueId) and other._bytes == self._bytes

    def __hash__(self) -> int:
        return hash(self._bytes)

    def __reduce__(self) -> tuple:
        return UniqueId, (self._bytes,)

    def __repr__(self) -> str:
        return f"UniqueId({self._bytes[:8].hex()}...)"


@contextlib.contextmanager
def group() -> Iterator[None]:
    """ncclGroupStart/ncclGroupEnd around the block: needed to drive several communicators from one thread."""
    nccl = _nccl()
    nccl.group_start()
    try:
        yield
    finally:
        nccl.group_end()


_INT_MAX = 2**31 - 1  # NCCL's counts of ranks, and its ranks, are C ints


def _int(value: Any, name: str, low: int = 0, high: int = _INT_MAX) -> int:
    """`value` as the int NCCL takes (an int, or what has __index__: numpy's), or the
    TypeError/ValueError that names it."""
    try:
        if type(value) is bool:
            raise TypeError
        value = operator.index(value)
    except TypeError:
        msg = f"{name} must be an int, got {type(value).__name__} {value!r:.40}"
        raise TypeError(msg) from None
    if not low <= value <= high:
        msg = f"{name} must be in [{low}, {high}], got {value}"
        raise ValueError(msg)
    return value


def _stream_handle(stream: Any) -> int:
    """A cudaStream_t. An int is taken as one: that it names a live stream cannot be checked (a
    wrong one faults in CUDA), only that it is one's shape."""
    if isinstance(stream, int):
        return _int(stream, "stream", 0, 2**64 - 1)
    for attribute in ("cuda_stream", "ptr"):  # torch.cuda.Stream, cupy.cuda.Stream
        if hasattr(stream, attribute):
            return int(getattr(stream, attribute))
    msg = f"stream must be an int handle, a torch.cuda.Stream or a cupy Stream, got {type(stream).__name__}"
    raise TypeError(msg)


def _seconds(value: Any, name: str) -> float:
    if type(value) is bool or not isinstance(value, (int, float)):
        msg = f"{name} must be a number of seconds or None, got {type(value).__name__} {value!r:.40}"
        raise TypeError(msg)
    if not 0 < value < float("inf"):
        msg = f"{name} must be a positive, finite number of seconds, got {value!r}"
        raise ValueError(msg)
    return float(value)


# The (unique id, rank) pairs this process has initialized: NCCL's bootstrap serves an id once,
# and a second init with it waits forever for a root that has gone.
_claimed: set[tuple[bytes, int]] = set()


def _claim(unique_id: UniqueId, rank: int) -> None:
    key = (bytes(unique_id), rank)
    if key in _claimed:
        msg = (
            f"unique_id {unique_id!r} was already used by this process for rank {rank}: a UniqueId serves "
            "one communicator (NCCL would wait forever for its root). Make a new one with UniqueId.generate()"
        )
        raise ValueError(msg)
    _claimed.add(key)


def _check_device(device: int, name: str = "device") -> None:
    _int(device, name, -_INT_MAX - 1)  # the range is said below, against the visible devices
    count = _cuda().device_count()
    if count == 0:
        msg = "no CUDA GPU is visible (check nvidia-smi and CUDA_VISIBLE_DEVICES)"
        raise RuntimeError(msg)
    if not 0 <= device < count:
        msg = f"{name} {device} is out of range: {count} CUDA device(s) are visible"
        raise ValueError(msg)


# Bumped in a child after fork(): a communicator of an earlier generation is the parent's, whose
# NCCL and CUDA state the child has none of (the bindings check it too; this comes before any
# CUDA call the argument checks make).
_process_generation = 0


def _count_fork() -> None:
    global _process_generation
    _process_generation += 1


os.register_at_fork(after_in_child=_count_fork)


# Every communicator by its key: torch ops (ncclkit.functional) take integers, not Python objects.
_by_key: weakref.WeakValueDictionary[int, Communicator] = weakref.WeakValueDictionary()
_keys = itertools.count()


class Communicator:
    """An NCCL communicator on one GPU. Collectives run on the given stream, or on the input's
    current torch stream, or on the default stream; they are asynchronous like NCCL's own."""

    def __init__(self, handle: Any) -> None:
        self._handle = handle
        self._generation = _process_generation
        self.key = next(_keys)
        _by_key[self.key] = self

    @staticmethod
    def from_key(key: int) -> Communicator:
        """The communicator whose ``key`` this is, while it is alive."""
        try:
            return _by_key[key]
        except KeyError:
            msg = f"no live communicator has key {key}"
            raise ValueError(msg) from None

    @classmethod
    def init_rank(
        cls,
        world_size: int,
        unique_id: UniqueId,
        rank: int,
        *,
        device: int,
        blocking: bool | None = None,
        cga_cluster_size: int | None = None,
        min_ctas: int | None = None,
        max_ctas: int | None = None,
        net_name: str | None = None,
        timeout: float | None = None,
    ) -> Communicator:
        """This process's rank of `world_size` (ncclCommInitRankConfig); every rank passes the same id,
        which serves one communicator. With ``blocking=False`` it returns at once and NCCL goes on
        initializing: poll() tells when it is done, every call waits for it, and ``timeout``
        (seconds) bounds those waits (NcclTimeoutError; abort() from another thread also ends them).
        A blocking communicator waits inside NCCL, where nothing can end the wait: no timeout."""
        if not isinstance(unique_id, UniqueId):
            msg = f"unique_id must be a ncclkit.UniqueId, got {type(unique_id).__name__}"
            raise TypeError(msg)
        world_size = _int(world_size, "world_size", 1)
        rank = _int(rank, "rank", -_INT_MAX - 1)  # the range is said below, against world_size
        if blocking is not None and type(blocking) is not bool:
            msg = f"blocking must be True, False or None, got {type(blocking).__name__} {blocking!r:.40}"
            raise TypeError(msg)
        for name, value in (("cga_cluster_size", cga_cluster_size), ("min_ctas", min_ctas), ("max_ctas", max_ctas)):
            if value is not None:
                _int(value, name)
        if net_name is not None and not isinstance(net_name, str):
            msg = f"net_name must be a str, got {type(net_name).__name__}"
            raise TypeError(msg)
        if not 0 <= rank < world_size:
            msg = f"rank {rank} is out of range for world_size {world_size}"
            raise ValueError(msg)
        if timeout is not None:
            timeout = _seconds(timeout, "timeout")
            if blocking is not False:
                msg = "timeout needs blocking=False: a blocking communicator waits inside NCCL, where nothing ends it"
                raise ValueError(msg)
        _check_device(device)
        _claim(unique_id, rank)
        handle = _nccl().Comm.init_rank(
            world_size,
            bytes(unique_id),
            rank,
            device,
            blocking=blocking,
            cga_cluster_size=cga_cluster_size,
            min_ctas=min_ctas,
            max_ctas=max_ctas,
            net_name=net_name,
        )
        handle.timeout = timeout
        return cls(handle)

    @classmethod
    def init_all(cls, devices: Sequence[int] | None = None) -> list[Communicator]:
        """One communicator per device, all driven by this process (ncclCommInitAll); default: every GPU."""
        if devices is None:
            devices = range(_cuda().device_count())
        devices = list(devices)
        if not devices:
            msg = "init_all needs at least one device, and no CUDA GPU is visible"
            raise RuntimeError(msg)
        for device in devices:
            _check_device(device, "devices entry")
        if len(set(devices)) != len(devices):
            msg = f"devices must be distinct, got {devices}"
            raise ValueError(msg)
        return [cls(handle) for handle in _nccl().Comm.init_all(devices)]

    @classmethod
    def from_process_group(cls, group: Any = None, **config: Any) -> Communicator:
        """A communicator over the ranks of a torch.distributed process group, on the current CUDA
        device: rank 0's UniqueId goes to the others through the group itself."""
        import torch
        import torch.distributed as dist

        rank, world_size = dist.get_rank(group), dist.get_world_size(group)
        payload = [UniqueId.generate() if rank == 0 else None]
        dist.broadcast_object_list(payload, src=dist.get_global_rank(group, 0) if group else 0, group=group)
        (unique_id,) = payload
        return cls.init_rank(world_size, unique_id, rank, device=torch.cuda.current_device(), **config)

    # -- lifetime ------------------------------------------------------------------------------
    def _live(self) -> Any:
        if self._generation != _process_generation:
            msg = (
                "this communicator was made before fork(), in the parent process; a child has none of its "
                "NCCL or CUDA state. Make communicators in the child (or start children with "
                "multiprocessing's 'spawn' method)"
            )
            raise RuntimeError(msg)
        if not self._handle.valid:
            msg = "communicator has been destroyed"
            raise ValueError(msg)
        return self._handle

    def split(self, color: int, key: int | None = None) -> Communicator | None:
        """The ranks passing the same color, ordered by key (default: rank); None for a negative color."""
        handle = self._live().split(color, self._handle.rank if key is None else key)
        return None if handle is None else Communicator(handle)

    def shrink(self, exclude_ranks: Sequence[int], *, abort_first: bool = False) -> Communicator | None:
        """Every rank but `exclude_ranks` (ncclCommShrink, NCCL >= 2.27); None on an excluded rank."""
        live = self._live()
        if not exclude_ranks:
            msg = "exclude_ranks is empty: shrink leaves out at least one rank (split(0) copies a communicator)"
            raise ValueError(msg)
        if not hasattr(live, "shrink"):
            raise _not_compiled_in("comm_shrink")
        handle = live.shrink(list(exclude_ranks), abort_first)
        return None if handle is None else Communicator(handle)

    def register_buffer(self, buf: Any) -> int:
        """Register `buf` with NCCL (ncclCommRegister, NCCL >= 2.19); returns the handle to deregister."""
        live = self._live()
        if not hasattr(live, "register_buffer"):
            raise _not_compiled_in("buffer_registration")
        buffer = self._buffer(buf, "buf")
        return live.register_buffer(buffer.ptr, buffer.nbytes)

    def revoke(self) -> None:
        """Stop every operation of this communicator in flight, on every rank that calls it, and
        return once none is left (ncclCommRevoke, NCCL >= 2.28.7); then destroy(), abort(), split()
        or shrink() it: no collective or finalize() runs on it any more. An error the communicator
        held (a peer that failed) is raised as ncclCommRevoke's."""
        live = self._live()
        if not hasattr(live, "revoke"):
            raise _not_compiled_in("comm_revoke")
        live.revoke()

    def supports(self, feature: str) -> bool:
        """Whether this communicator's NCCL (the one this process loaded) has `feature`, a name of
        ncclkit.nccl_features() such as "comm_shrink" or "fp8", and ncclkit was built with it."""
        features = _features()
        if feature not in features:
            msg = f"feature must be one of {', '.join(features)}, got {feature!r}"
            raise ValueError(msg)
        return features[feature].available

    def deregister_buffer(self, handle: int) -> None:
        self._live().deregister_buffer(handle)

    def finalize(self) -> None:
        """Complete this communicator's outstanding operations (ncclCommFinalize); destroy() still follows."""
        self._live().finalize()

    def destroy(self) -> None:
        self._live().destroy()

    def abort(self) -> None:
        """Free the communicator without waiting for outstanding operations (ncclCommAbort). Safe
        from another thread: a call waiting there on a non-blocking communicator ends with
        CommunicatorAbortedError; one inside NCCL on a blocking communicator is waited for."""
        self._live().abort()

    def poll(self) -> bool:
        """A non-blocking communicator: False while NCCL is still at its last operation (its init,
        say), True once that is done; NcclError for what it failed with. A blocking one: True."""
        return self._live().poll()

    def wait(self) -> None:
        """Wait until poll() would return True, for at most ``timeout`` (NcclTimeoutError)."""
        self._live().wait()

    @property
    def timeout(self) -> float | None:
        """Seconds a call waits on a non-blocking communicator's operation in progress; None: forever."""
        return self._handle.timeout

    @timeout.setter
    def timeout(self, seconds: float | None) -> None:
        if seconds is not None:
            seconds = _seconds(seconds, "timeout")
            if self._handle.blocking:
                msg = "timeout needs a communicator made with blocking=False"
                raise ValueError(msg)
        self._handle.timeout = seconds

    def __enter__(self) -> Communicator:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._handle.valid:
            self._handle.destroy()

    @property
    def valid(self) -> bool:
        return self._handle.valid

    @property
    def ptr(self) -> int:
        """The address of this communicator's ncclComm_t, as nccl4py and CuPy give theirs, for NCCL
        calls of your own; ValueError once destroyed or aborted. Such calls do not take the lock
        that keeps ncclkit's calls on a communicator one at a time: order them with those."""
        return self._live().ptr

    def __ncclkit_comm__(self) -> Any:
        """The capsule <ncclkit/communicator.h> reads: the ncclComm_t and the device (docs/extensions.md)."""
        return self._live().capsule()

    @property
    def rank(self) -> int:
        return self._handle.rank

    @property
    def world_size(self) -> int:
        return self._handle.world_size

    @property
    def device(self) -> int:
        return self._handle.device

    def __repr__(self) -> str:
        state = f"rank={self.rank}, world_size={self.world_size}" if self.valid else "destroyed"
        return f"Communicator({state}, device={self.device})"

    # -- argument checking ---------------------------------------------------------------------
    def _buffer(self, obj: Any, name: str, stream: int | None = None) -> Buffer:
        nccl = _nccl()
        cuda = _cuda()
        buffer = as_buffer(
            obj,
            name,
            supported=nccl.DTYPES,
            pointer_device=cuda.pointer_device,
            mapped_bytes=cuda.mapped_bytes,
            describe_dlpack=nccl.describe_dlpack,
            stream=stream,
        )
        if buffer.count and buffer.device != self.device:
            msg = f"{name} is on cuda:{buffer.device}, but the communicator is on cuda:{self.device}"
            raise ValueError(msg)
        return buffer

    @staticmethod
    def _writable(buffer: Buffer, name: str) -> None:
        if buffer.readonly:
            msg = f"{name} is read-only (its producer says so), and the call writes it"
            raise ValueError(msg)

    def _recv(self, send: Buffer, recvbuf: Any, count: int, stream: int | None, in_place: int | None = 0) -> Buffer:
        """recvbuf (`send` itself when None), of send's dtype and `count` elements, writable, and
        apart from sendbuf unless it starts `in_place` bytes before it (NCCL's in-place form of
        the collective; None: it has none)."""
        recv = send if recvbuf is None else self._buffer(recvbuf, "recvbuf", stream)
        if recv.dtype != send.dtype:
            msg = f"recvbuf has dtype {recv.dtype} but sendbuf has {send.dtype}"
            raise TypeError(msg)
        if recv.count != count:
            msg = f"recvbuf has {recv.count} elements, expected {count}"
            raise ValueError(msg)
        self._writable(recv, "recvbuf" if recvbuf is not None else "sendbuf (written in place: recvbuf is None)")
        overlap = send.count and recv.ptr < send.ptr + send.nbytes and send.ptr < recv.ptr + recv.nbytes
        if overlap and (in_place is None or send.ptr - recv.ptr != in_place):
            if in_place is None:
                form = "this collective has no in-place form"
            elif in_place == 0 and recv.nbytes == send.nbytes:
                form = "in place, they must be the same buffer"
            elif in_place >= 0:
                form = f"in place, sendbuf must start {in_place} bytes into recvbuf"
            else:
                form = f"in place, recvbuf must start {-in_place} bytes into sendbuf"
            msg = f"recvbuf overlaps sendbuf ({form})"
            raise ValueError(msg)
        return recv

    def _blocks(self, send: Buffer) -> int:
        """Elements per rank of a sendbuf split into world_size blocks."""
        if send.count % self.world_size:
            msg = f"sendbuf has {send.count} elements, not a multiple of world_size {self.world_size}"
            raise ValueError(msg)
        return send.count // self.world_size

    def _peer(self, peer: int, name: str) -> int:
        peer = _int(peer, name, -_INT_MAX - 1)  # the range is said below, against world_size
        if not 0 <= peer < self.world_size:
            msg = f"{name} {peer} is out of range for a communicator of {self.world_size} ranks"
            raise ValueError(msg)
        return peer

    def _op(self, op: str) -> int:
        ops = _nccl().OPS
        if not isinstance(op, str):
            msg = f"op must be a str, one of {', '.join(sorted(ops))}, got {type(op).__name__} {op!r:.40}"
            raise TypeError(msg)
        if op not in ops:
            msg = f"op must be one of {', '.join(sorted(ops))}, got {op!r}"
            raise ValueError(msg)
        return ops[op]

    @staticmethod
    def _given_stream(stream: Any) -> int | None:
        return None if stream is None else _stream_handle(stream)

    @staticmethod
    def _stream(given: int | None, send: Buffer, recv: Buffer | None = None) -> int:
        """The stream the call runs on: the given one, else sendbuf's (torch's current, the
        producer's), else the default; made to wait for a producer's stream it is not."""
        handle = (send.stream or 0) if given is None else given
        if send.wait_for_stream or (recv is not None and recv.wait_for_stream):
            for buffer in (send, recv):
                if buffer is not None and buffer.wait_for_stream and buffer.stream != handle:
                    _cuda().stream_wait(handle, buffer.stream, buffer.device)
        return handle

    def _dtype(self, buffer: Buffer) -> int:
        return _nccl().DTYPES[buffer.dtype]

    # -- collectives ---------------------------------------------------------------------------
    def all_reduce(
        self, sendbuf: Any, recvbuf: Any = None, op: str = "sum", *, stream: Any = None, algorithm: str = "auto"
    ) -> None:
        """recvbuf = op over ranks of sendbuf (in place when recvbuf is None). ``algorithm``: "nccl";
        "oneshot" or "twoshot", the custom all-reduce that ncclkit.custom_all_reduce.setup() made;
        "auto": that one for the messages it is faster for, where it was set up, else NCCL."""
        live = self._live()
        code = self._op(op)
        given = self._given_stream(stream)
        send = self._buffer(sendbuf, "sendbuf", given)
        recv = self._recv(send, recvbuf, send.count, given)
        stream_handle = self._stream(given, send, recv)
        if custom_all_reduce.launch(self, send, recv, op, stream_handle, algorithm):
            return
        live.all_reduce(send.ptr, recv.ptr, send.count, self._dtype(send), code, stream_handle)

    def broadcast(self, sendbuf: Any, recvbuf: Any = None, root: int = 0, *, stream: Any = None) -> None:
        """recvbuf on every rank = sendbuf of `root` (in place when recvbuf is None)."""
        live = self._live()
        root = self._peer(root, "root")
        given = self._given_stream(stream)
        send = self._buffer(sendbuf, "sendbuf", given)
        recv = self._recv(send, recvbuf, send.count, given)
        live.broadcast(send.ptr, recv.ptr, send.count, self._dtype(send), root, self._stream(given, send, recv))

    def reduce(self, sendbuf: Any, recvbuf: Any = None, op: str = "sum", root: int = 0, *, stream: Any = None) -> None:
        """recvbuf of `root` = op over ranks of sendbuf (other ranks' recvbuf is not written)."""
        live = self._live()
        code = self._op(op)
        root = self._peer(root, "root")
        given = self._given_stream(stream)
        send = self._buffer(sendbuf, "sendbuf", given)
        recv = self._recv(send, recvbuf, send.count, given)
        live.reduce(send.ptr, recv.ptr, send.count, self._dtype(send), code, root, self._stream(given, send, recv))

    def all_gather(self, sendbuf: Any, recvbuf: Any, *, stream: Any = None) -> None:
        """recvbuf = every rank's sendbuf, in rank order (world_size times sendbuf's elements)."""
        live = self._live()
        given = self._given_stream(stream)
        send = self._buffer(sendbuf, "sendbuf", given)
        recv = self._recv(send, recvbuf, send.count * self.world_size, given, in_place=self.rank * send.nbytes)
        live.all_gather(send.ptr, recv.ptr, send.count, self._dtype(send), self._stream(given, send, recv))

    def reduce_scatter(self, sendbuf: Any, recvbuf: Any, op: str = "sum", *, stream: Any = None) -> None:
        """recvbuf = block `rank` of op over ranks of sendbuf (sendbuf has world_size blocks)."""
        live = self._live()
        code = self._op(op)
        given = self._given_stream(stream)
        send = self._buffer(sendbuf, "sendbuf", given)
        in_place = -self.rank * (send.nbytes // self.world_size)  # recvbuf is block `rank` of sendbuf
        recv = self._recv(send, recvbuf, self._blocks(send), given, in_place=in_place)
        live.reduce_scatter(send.ptr, recv.ptr, recv.count, self._dtype(send), code, self._stream(given, send, recv))

    def all_to_all(self, sendbuf: Any, recvbuf: Any, *, stream: Any = None) -> None:
        """Block i of this rank's sendbuf goes to block `rank` of rank i's recvbuf."""
        live = self._live()
        given = self._given_stream(stream)
        send = self._buffer(sendbuf, "sendbuf", given)
        per_rank = self._blocks(send)
        if recvbuf is None:
            msg = "all_to_all needs a recvbuf distinct from sendbuf"
            raise ValueError(msg)
        recv = self._recv(send, recvbuf, send.count, given, in_place=None)
        live.all_to_all(send.ptr, recv.ptr, per_rank, self._dtype(send), self._stream(given, send, recv))

    def send(self, buf: Any, peer: int, *, stream: Any = None) -> None:
        live = self._live()
        peer = self._peer(peer, "peer")
        given = self._given_stream(stream)
        buffer = self._buffer(buf, "buf", given)
        live.send(buffer.ptr, buffer.count, self._dtype(buffer), peer, self._stream(given, buffer))

    def recv(self, buf: Any, peer: int, *, stream: Any = None) -> None:
        live = self._live()
        peer = self._peer(peer, "peer")
        given = self._given_stream(stream)
        buffer = self._buffer(buf, "buf", given)
        self._writable(buffer, "buf")
        live.recv(buffer.ptr, buffer.count, self._dtype(buffer), peer, self._stream(given, buffer))
