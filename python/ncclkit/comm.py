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
from .config import COMM_FIELDS, CollectiveConfig, checked_fields
from .errors import NcclUnavailableError
from .features import Feature, nccl_version_string
from .reduction import PreMulSum
from .windows import Window


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
    """NCCL's parameters and the value each has in this process, as text: those NCCL's parameter
    API knows (every one with NCCL_PARAM_DUMP_ALL=1). Reading one fixes it: NCCL reads each from
    the environment once. Needs NCCL 2.30.4 or newer, at build and at run time
    (NcclUnavailableError)."""
    return _params().parameters()


def nccl_parameter(name: str) -> str:
    """One NCCL parameter's value in this process, as text (ncclParamGetParameter, NCCL >=
    2.30.4); NcclError for a name NCCL does not know."""
    if not isinstance(name, str):
        msg = f"name must be a str, got {type(name).__name__} {name!r:.40}"
        raise TypeError(msg)
    return _params().parameter(name)


def set_nccl_parameter(name: str, value: object) -> None:
    """Set NCCL parameter `name` (e.g. "NCCL_IB_TIMEOUT") for this process. NCCL has no setter: it reads
    its parameters from the environment, each once, the first time it needs it. So this sets the
    environment variable and reads the parameter back; a value NCCL does not then report (it had
    read the parameter already) is a RuntimeError naming both, rather than a setting ignored."""
    if not isinstance(name, str):
        msg = f"name must be a str, got {type(name).__name__} {name!r:.40}"
        raise TypeError(msg)
    text = str(value)
    previous = os.environ.get(name)
    os.environ[name] = text
    try:
        now = _params().parameter(name)  # NcclError for a name NCCL does not know
        if now != text:
            msg = (
                f"{name}={text!r} was set in the environment, and NCCL still reports {now!r}: it read {name} "
                "before (NCCL reads each parameter once). Set it before the first communicator, or in the "
                "environment that starts the process"
            )
            raise RuntimeError(msg)
    except BaseException:
        if previous is None:
            del os.environ[name]
        else:
            os.environ[name] = previous
        raise


def _params() -> ModuleType:
    nccl = _nccl()
    if not hasattr(nccl, "parameters"):
        raise _not_compiled_in("params")
    return nccl


def set_encryption(psk: str | None) -> None:
    """Encrypt NCCL's TCP sockets (bootstrap and socket transport) of the communicators made after
    this with the pre-shared key `psk` (NCCL wants 32 bytes at least), or stop (None):
    ncclSetEncryption, NCCL >= 2.32. Every rank sets the same key."""
    if psk is not None and (not isinstance(psk, str) or not psk or "\0" in psk):
        msg = f"psk must be a non-empty str without NUL characters, or None, got {type(psk).__name__}"
        raise TypeError(msg)
    nccl = _nccl()
    if not hasattr(nccl, "set_encryption"):
        raise _not_compiled_in("encryption")
    nccl.set_encryption(psk)


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


class GroupSimulation:
    """What ``group(simulate=True)`` found: NCCL's estimate of how long the group's calls would
    take, in microseconds (ncclSimInfo_t.estimatedTime), once the block has ended."""

    __slots__ = ("estimated_us",)

    def __init__(self) -> None:
        self.estimated_us: float | None = None

    def __repr__(self) -> str:
        return f"GroupSimulation(estimated_us={self.estimated_us})"


@contextlib.contextmanager
def group(*, simulate: bool = False) -> Iterator[GroupSimulation | None]:
    """ncclGroupStart/ncclGroupEnd around the block: needed to drive several communicators from one
    thread. ``simulate=True``: ncclGroupSimulateEnd instead (NCCL >= 2.22), which runs nothing and
    yields a GroupSimulation whose estimated_us it fills in; blocking communicators only. Calls
    that NCCL completes only at a group's end (split, shrink, grow, join, register_window and its
    deregister, suspend, resume) are refused inside one."""
    nccl = _nccl()
    if type(simulate) is not bool:
        msg = f"simulate must be True or False, got {type(simulate).__name__}"
        raise TypeError(msg)
    if simulate and not hasattr(nccl, "group_simulate_end"):
        raise _not_compiled_in("group_simulate")
    simulation = GroupSimulation() if simulate else None
    nccl.group_start(simulate)  # NcclUnavailableError, before the group opens, where NCCL lacks it
    end = nccl.group_simulate_end if simulate else nccl.group_end
    try:
        yield simulation
    except BaseException:
        end()  # a simulated group that ended by an exception runs nothing either
        raise
    estimate = end()
    if simulation is not None:
        simulation.estimated_us = estimate


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


def check_device(device: int, name: str = "device") -> None:
    _int(device, name, -_INT_MAX - 1)  # the range is said below, against the visible devices
    count = _cuda().device_count()
    if count == 0:
        msg = "no CUDA GPU is visible (check nvidia-smi and CUDA_VISIBLE_DEVICES)"
        raise RuntimeError(msg)
    if not 0 <= device < count:
        msg = f"{name} {device} is out of range: {count} CUDA device(s) are visible"
        raise ValueError(msg)


def _unique_ids(unique_id: Any) -> list[UniqueId]:
    ids = [unique_id] if isinstance(unique_id, UniqueId) else unique_id
    if isinstance(ids, (str, bytes)) or not isinstance(ids, Sequence) or not ids:
        msg = f"unique_id must be a ncclkit.UniqueId or a non-empty sequence of them, got {type(unique_id).__name__}"
        raise TypeError(msg)
    for uid in ids:
        if not isinstance(uid, UniqueId):
            msg = f"unique_id must be a ncclkit.UniqueId or a sequence of them, got a {type(uid).__name__} among them"
            raise TypeError(msg)
    return list(ids)


def _comm_config(config: dict[str, Any], what: str) -> list[tuple[str, int | str]]:
    """ncclConfig_t's fields as the bindings take them (ncclkit.config checks them)."""
    nccl = _nccl()
    return checked_fields(config, COMM_FIELDS, nccl.CONFIG_FIELDS, nccl, what)


def _timeout(timeout: Any, blocking: Any) -> float | None:
    if timeout is None:
        return None
    timeout = _seconds(timeout, "timeout")
    if blocking is not False:
        msg = "timeout needs blocking=False: a blocking communicator waits inside NCCL, where nothing ends it"
        raise ValueError(msg)
    return timeout


def _collective_config(config: Any) -> Any:
    """The bindings' ncclCollConfig_t of ``config=``: a CollectiveConfig, a dict of its fields, or None."""
    if config is None or isinstance(config, CollectiveConfig):
        return None if config is None else config._native
    if isinstance(config, dict):
        return CollectiveConfig(**config)._native
    msg = f"config must be a ncclkit.CollectiveConfig, a dict of its fields or None, got {type(config).__name__}"
    raise TypeError(msg)


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
        self._windows: weakref.WeakSet[Window] = weakref.WeakSet()  # the one-sided calls' sources
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
        unique_id: UniqueId | Sequence[UniqueId],
        rank: int,
        *,
        device: int,
        timeout: float | None = None,
        **config: Any,
    ) -> Communicator:
        """This process's rank of `world_size` (ncclCommInitRankConfig); every rank passes the same id,
        which serves one communicator. A sequence of ids (alike on every rank, at most one per rank)
        spreads the bootstrap over several roots: ncclCommInitRankScalable, NCCL >= 2.23.

        `config`: fields of ncclConfig_t by nccl4py's names (blocking, cga_cluster_size, min_ctas,
        max_ctas, net_name, split_share, traffic_class, comm_name, collnet_enable, cta_policy, ...:
        docs/communicators.md lists them); an unknown one is a TypeError, one the loaded NCCL lacks
        an NcclUnavailableError. With ``blocking=False`` it returns at once and NCCL goes on
        initializing: poll() tells when it is done, every call waits for it, and ``timeout``
        (seconds) bounds those waits (NcclTimeoutError; abort() from another thread also ends them).
        A blocking communicator waits inside NCCL, where nothing can end the wait: no timeout."""
        ids = _unique_ids(unique_id)
        world_size = _int(world_size, "world_size", 1)
        rank = _int(rank, "rank", -_INT_MAX - 1)  # the range is said below, against world_size
        fields = _comm_config(config, "init_rank")
        if not 0 <= rank < world_size:
            msg = f"rank {rank} is out of range for world_size {world_size}"
            raise ValueError(msg)
        if len(ids) > world_size:
            msg = f"{len(ids)} unique ids for {world_size} ranks: NCCL takes one per rank at most"
            raise ValueError(msg)
        timeout = _timeout(timeout, config.get("blocking"))
        check_device(device)
        for uid in ids:
            _claim(uid, rank)
        scalable = not isinstance(unique_id, UniqueId)
        if scalable and not _features()["comm_init_scalable"].compiled:
            raise _not_compiled_in("comm_init_scalable")
        handle = _nccl().Comm.init_rank(world_size, [bytes(uid) for uid in ids], rank, device, fields, scalable)
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
            check_device(device, "devices entry")
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
    def _compiled(self, attribute: str, feature: str) -> Any:
        """The live bindings, which have `attribute` where the header had `feature`; the error that
        says it is not compiled in where it did not."""
        live = self._live()
        if not hasattr(live, attribute):
            raise _not_compiled_in(feature)
        return live

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

    def _child(self, handle: Any) -> Communicator | None:
        return None if handle is None else Communicator(handle)

    def _child_config(self, config: dict[str, Any], what: str) -> list[tuple[str, int | str]] | None:
        """A child's ncclConfig_t fields; None without any (all unset too): NCCL then gives it this
        one's config."""
        return _comm_config(config, what) or None

    def split(self, color: int, key: int | None = None, **config: Any) -> Communicator | None:
        """The ranks passing the same color, ordered by key (default: rank); None for a negative color.
        No `config`: the new communicator has this one's (ncclCommSplit's rule); config fields: NCCL's
        defaults for the rest, but blocking, which stays this communicator's unless given."""
        live = self._live()
        color = _int(color, "color", -_INT_MAX - 1)
        key = self.rank if key is None else _int(key, "key", -_INT_MAX - 1)
        return self._child(live.split(color, key, self._child_config(config, "split")))

    def shrink(self, exclude_ranks: Sequence[int], *, abort_first: bool = False, **config: Any) -> Communicator | None:
        """Every rank but `exclude_ranks` (ncclCommShrink, NCCL >= 2.27), called by every rank the
        new communicator keeps; an excluded rank's call returns None and leaves NCCL alone (NCCL
        refuses a call from a rank it leaves out). `config` as for split()."""
        live = self._compiled("shrink", "comm_shrink")
        if not exclude_ranks:
            msg = "exclude_ranks is empty: shrink leaves out at least one rank (split(0) copies a communicator)"
            raise ValueError(msg)
        excluded = [self._peer(rank, "exclude_ranks entry") for rank in exclude_ranks]
        if len(set(excluded)) != len(excluded):
            msg = f"exclude_ranks has a rank twice: {excluded}"
            raise ValueError(msg)
        fields = self._child_config(config, "shrink")
        if self.rank in excluded:
            return None
        return self._child(live.shrink(excluded, bool(abort_first), fields))

    def grow_unique_id(self) -> UniqueId:
        """The id the new ranks of a grow() join with (ncclCommGetUniqueId, NCCL >= 2.29): one
        existing rank makes it and passes it to grow(); the new ranks pass it to Communicator.join()."""
        live = self._compiled("grow", "comm_grow")
        return UniqueId(live.grow_unique_id())

    def grow(self, world_size: int, unique_id: UniqueId | None = None, **config: Any) -> Communicator:
        """This communicator's ranks and new ones, `world_size` in all (ncclCommGrow, NCCL >= 2.29):
        every existing rank calls it, the one that made grow_unique_id() passes that id, and the new
        ranks call Communicator.join(). The existing ranks keep their ranks. `config` as for split()."""
        live = self._compiled("grow", "comm_grow")
        world_size = _int(world_size, "world_size", 1)
        if world_size <= self.world_size:
            msg = f"grow needs a world_size above the communicator's {self.world_size}, got {world_size}"
            raise ValueError(msg)
        if unique_id is not None and not isinstance(unique_id, UniqueId):
            msg = f"unique_id must be a ncclkit.UniqueId or None, got {type(unique_id).__name__}"
            raise TypeError(msg)
        fields = self._child_config(config, "grow")
        raw = None if unique_id is None else bytes(unique_id)
        return Communicator(live.grow(world_size, raw, fields))

    @classmethod
    def join(
        cls,
        world_size: int,
        unique_id: UniqueId,
        rank: int,
        *,
        device: int,
        timeout: float | None = None,
        **config: Any,
    ) -> Communicator:
        """A new rank's side of grow(): `rank` (one the existing ranks do not have) of `world_size`,
        with the id an existing rank's grow_unique_id() made (ncclCommGrow, NCCL >= 2.29)."""
        if not isinstance(unique_id, UniqueId):
            msg = f"unique_id must be a ncclkit.UniqueId, got {type(unique_id).__name__}"
            raise TypeError(msg)
        world_size = _int(world_size, "world_size", 2)
        rank = _int(rank, "rank", -_INT_MAX - 1)
        fields = _comm_config(config, "join")
        if not 0 <= rank < world_size:
            msg = f"rank {rank} is out of range for world_size {world_size}"
            raise ValueError(msg)
        timeout = _timeout(timeout, config.get("blocking"))
        check_device(device)
        native = _nccl().Comm
        if not hasattr(native, "join"):
            raise _not_compiled_in("comm_grow")
        _claim(unique_id, rank)
        handle = native.join(world_size, bytes(unique_id), rank, device, fields)
        handle.timeout = timeout
        return cls(handle)

    def suspend(self) -> None:
        """Give back NCCL's dynamic GPU memory until resume() (ncclCommSuspend with
        NCCL_SUSPEND_MEM, the one thing it suspends; NCCL >= 2.29.7). Only resume(), destroy() and
        abort() may follow."""
        live = self._compiled("suspend", "comm_suspend")
        live.suspend()

    def resume(self) -> None:
        """Take back what suspend() gave (ncclCommResume)."""
        live = self._compiled("resume", "comm_suspend")
        live.resume()

    def memory_stats(self) -> dict[str, int]:
        """NCCL's GPU memory of this communicator, in bytes (ncclCommMemStats, NCCL >= 2.29.7):
        suspendable (what suspend() gives back), persistent, total; suspended is 1 while suspended."""
        live = self._compiled("memory_stat", "comm_mem_stats")
        return {name: live.memory_stat(stat) for name, stat in _nccl().MEMORY_STATS.items()}

    def register_buffer(self, buf: Any) -> int:
        """Register `buf` with NCCL (ncclCommRegister, NCCL >= 2.19); returns the handle to deregister."""
        live = self._compiled("register_buffer", "buffer_registration")
        buffer = self._buffer(buf, "buf")
        return live.register_buffer(buffer.ptr, buffer.nbytes)

    def register_window(self, buf: Any, *, symmetric: bool = False, flags: Sequence[str] = ()) -> Window:
        """Register `buf` as this rank's part of a window (ncclCommWindowRegister, NCCL >= 2.27):
        collective, every rank registers its own, in the same order. ``symmetric=True``
        (NCCL_WIN_COLL_SYMMETRIC) lets collectives on such buffers take NCCL's symmetric kernels;
        each rank's buffer must then come from NCCL's allocator (ncclkit.mem_alloc,
        ncclkit.nccl_mem_pool) and be as large as the others'. `flags`: more NCCL_WIN_* by name
        ("strict_ordering", ...: those of the header). Returns the Window; a with-block
        deregisters it."""
        live = self._compiled("register_window", "window_registration")
        if type(symmetric) is not bool:
            msg = f"symmetric must be True or False, got {type(symmetric).__name__}"
            raise TypeError(msg)
        known = _nccl().WINDOW_FLAGS
        if isinstance(flags, str) or not all(isinstance(flag, str) for flag in flags):
            msg = f"flags must be a sequence of names, of {', '.join(known)}, got {flags!r:.60}"
            raise TypeError(msg)
        unknown = [flag for flag in flags if flag not in known]
        if unknown:
            msg = f"flags has {', '.join(map(repr, unknown))}, and this NCCL header's are {', '.join(known)}"
            raise ValueError(msg)
        bits = known["coll_symmetric"] if symmetric else 0
        for flag in flags:
            bits |= known[flag]
        buffer = self._buffer(buf, "buf")
        if not buffer.nbytes:
            msg = "buf is empty: a window holds at least one byte"
            raise ValueError(msg)
        window = Window(
            self, live.register_window(buffer.ptr, buffer.nbytes, bits), buf, buffer.ptr, buffer.nbytes, bits
        )
        self._windows.add(window)
        return window

    def _deregister_window(self, handle: int) -> None:
        self._live().deregister_window(handle)

    def _window_user_ptr(self, window: Window) -> int:
        live = self._compiled("window_user_ptr", "window_user_ptr")
        return live.window_user_ptr(window.handle)

    def _window(self, window: Any) -> Window:
        if not isinstance(window, Window) or window._comm is not self:
            msg = f"window must be a Window this communicator registered, got {type(window).__name__}"
            raise TypeError(msg)
        window.handle  # noqa: B018 - deregistered: ValueError
        return window

    def _symmetric(self) -> list[Window]:
        symmetric = _nccl().WINDOW_FLAGS["coll_symmetric"]
        return [w for w in self._windows if w.registered and w.flags & symmetric]

    def put_signal(
        self,
        buf: Any,
        peer: int,
        window: Window,
        offset: int = 0,
        *,
        signal: int = 0,
        context: int = 0,
        stream: Any = None,
    ) -> None:
        """Write `buf` into `peer`'s part of `window`, `offset` bytes in, then signal (`signal`,
        `context`) there (ncclPutSignal, NCCL >= 2.29): one-sided, the peer posts nothing but a
        wait_signal(). NCCL takes symmetric windows only: `window` one, and `buf` inside one this
        rank registered (it may be `window`'s own buffer). The write must fit the window."""
        live = self._compiled("put_signal", "one_sided")
        peer = self._peer(peer, "peer")
        window = self._window(window)
        offset = _int(offset, "offset", 0, 2**63 - 1)
        signal, context = _int(signal, "signal"), _int(context, "context")
        given = self._given_stream(stream)
        buffer = self._buffer(buf, "buf", given)
        if offset + buffer.nbytes > window.nbytes:
            msg = f"offset {offset} + buf's {buffer.nbytes} bytes run past the window's {window.nbytes}"
            raise ValueError(msg)
        symmetric = _nccl().WINDOW_FLAGS["coll_symmetric"]
        if not window.flags & symmetric:
            msg = "window must be symmetric (register_window(..., symmetric=True)): NCCL puts into no other"
            raise ValueError(msg)
        inside = (w.ptr <= buffer.ptr and buffer.ptr + buffer.nbytes <= w.ptr + w.nbytes for w in self._symmetric())
        if not any(inside):
            msg = "buf must lie inside a symmetric window this communicator registered: NCCL sends from no other memory"
            raise ValueError(msg)
        live.put_signal(
            buffer.ptr,
            buffer.count,
            self._dtype(buffer),
            peer,
            window.handle,
            offset,
            signal,
            context,
            self._stream(given, buffer),
        )

    def signal(self, peer: int, *, signal: int = 0, context: int = 0, stream: Any = None) -> None:
        """A signal alone to `peer` (ncclSignal, NCCL >= 2.29), on `stream` (default: the default stream)."""
        live = self._compiled("put_signal", "one_sided")
        peer = self._peer(peer, "peer")
        live.signal(peer, _int(signal, "signal"), _int(context, "context"), self._bare_stream(stream))

    def wait_signal(self, counts: dict[int, int], *, signal: int = 0, context: int = 0, stream: Any = None) -> None:
        """Make `stream` wait until each peer of `counts` has signalled (`signal`, `context`) that
        many times (ncclWaitSignal, NCCL >= 2.29)."""
        if not isinstance(counts, dict) or not counts:
            msg = f"counts must be a non-empty dict of peer -> number of signals, got {type(counts).__name__}"
            raise TypeError(msg)
        signal, context = _int(signal, "signal"), _int(context, "context")
        waits = [
            (self._peer(peer, "counts' peer"), _int(count, f"counts[{peer}]", 1), signal, context)
            for peer, count in counts.items()
        ]
        live = self._compiled("put_signal", "one_sided")
        live.wait_signal(waits, self._bare_stream(stream))

    def revoke(self) -> None:
        """Stop every operation of this communicator in flight, on every rank that calls it, and
        return once none is left (ncclCommRevoke, NCCL >= 2.28.7); then destroy(), abort(), split()
        or shrink() it: no collective or finalize() runs on it any more. An error the communicator
        held (a peer that failed) is raised as ncclCommRevoke's."""
        live = self._compiled("revoke", "comm_revoke")
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

    def _counts(self, counts: Any, name: str) -> list[int]:
        """Per-rank element counts: world_size of them, each an int >= 0."""
        if isinstance(counts, (str, bytes)) or not isinstance(counts, Sequence):
            msg = f"{name} must be a sequence of {self.world_size} ints, got {type(counts).__name__}"
            raise TypeError(msg)
        if len(counts) != self.world_size:
            msg = f"{name} must have one count per rank ({self.world_size}), got {len(counts)}"
            raise ValueError(msg)
        return [_int(count, f"{name}[{i}]", 0, 2**63 - 1) for i, count in enumerate(counts)]

    @staticmethod
    def _count_of(buffer: Buffer, expected: int, name: str, what: str) -> None:
        if buffer.count != expected:
            msg = f"{name} has {buffer.count} elements, and {what} is {expected}"
            raise ValueError(msg)

    def _not_on_this_rank(self, buf: Any, name: str, root: int) -> None:
        if buf is not None:
            msg = f"{name} is the root's (rank {root}) alone: pass None on rank {self.rank}"
            raise ValueError(msg)

    def _peer(self, peer: int, name: str) -> int:
        peer = _int(peer, name, -_INT_MAX - 1)  # the range is said below, against world_size
        if not 0 <= peer < self.world_size:
            msg = f"{name} {peer} is out of range for a communicator of {self.world_size} ranks"
            raise ValueError(msg)
        return peer

    def _op(self, op: str | PreMulSum) -> int | PreMulSum:
        if isinstance(op, PreMulSum):
            return op
        ops = _nccl().OPS
        if not isinstance(op, str):
            msg = f"op must be a str, one of {', '.join(sorted(ops))}, got {type(op).__name__} {op!r:.40}"
            raise TypeError(msg)
        if op not in ops:
            msg = f"op must be one of {', '.join(sorted(ops))}, got {op!r}"
            raise ValueError(msg)
        return ops[op]

    def _reduction(self, op: int | PreMulSum, data: Buffer) -> Any:
        """The bindings' op for a collective over `data`: a built-in's code, or a PreMulSum's."""
        if isinstance(op, PreMulSum):
            return op.native(_nccl(), data, lambda scale: self._buffer(scale, "premul_sum's scale"))
        return op

    @staticmethod
    def _bare_stream(stream: Any) -> int:
        """The stream of a call without buffers: the given one, else the default."""
        return 0 if stream is None else _stream_handle(stream)

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
    # `op`: a name of NCCL's reductions or ncclkit.premul_sum(scale). `config`: a
    # ncclkit.CollectiveConfig (or a dict of its fields), NCCL 2.31's per-call configuration.
    def all_reduce(
        self,
        sendbuf: Any,
        recvbuf: Any = None,
        op: str | PreMulSum = "sum",
        *,
        stream: Any = None,
        algorithm: str = "auto",
        config: Any = None,
    ) -> None:
        """recvbuf = op over ranks of sendbuf (in place when recvbuf is None). ``algorithm``: "nccl";
        "oneshot" or "twoshot", the custom all-reduce that ncclkit.custom_all_reduce.setup() made;
        "auto": that one for the messages it is faster for, where it was set up, else NCCL."""
        live = self._live()
        code = self._op(op)
        native_config = _collective_config(config)
        given = self._given_stream(stream)
        send = self._buffer(sendbuf, "sendbuf", given)
        recv = self._recv(send, recvbuf, send.count, given)
        stream_handle = self._stream(given, send, recv)
        if native_config is None and custom_all_reduce.launch(self, send, recv, op, stream_handle, algorithm):
            return
        if native_config is None and type(code) is int:  # the fast path (fast_all_reduce.cpp)
            live.all_reduce(send.ptr, recv.ptr, send.count, self._dtype(send), code, stream_handle)
            return
        reduction = self._reduction(code, send)
        live.all_reduce_with(send.ptr, recv.ptr, send.count, self._dtype(send), reduction, stream_handle, native_config)

    def broadcast(
        self, sendbuf: Any, recvbuf: Any = None, root: int = 0, *, stream: Any = None, config: Any = None
    ) -> None:
        """recvbuf on every rank = sendbuf of `root` (in place when recvbuf is None)."""
        live = self._live()
        root = self._peer(root, "root")
        native_config = _collective_config(config)
        given = self._given_stream(stream)
        send = self._buffer(sendbuf, "sendbuf", given)
        recv = self._recv(send, recvbuf, send.count, given)
        stream_handle = self._stream(given, send, recv)
        live.broadcast(send.ptr, recv.ptr, send.count, self._dtype(send), root, stream_handle, native_config)

    def reduce(
        self,
        sendbuf: Any,
        recvbuf: Any = None,
        op: str | PreMulSum = "sum",
        root: int = 0,
        *,
        stream: Any = None,
        config: Any = None,
    ) -> None:
        """recvbuf of `root` = op over ranks of sendbuf (other ranks' recvbuf is not written)."""
        live = self._live()
        code = self._op(op)
        root = self._peer(root, "root")
        native_config = _collective_config(config)
        given = self._given_stream(stream)
        send = self._buffer(sendbuf, "sendbuf", given)
        recv = self._recv(send, recvbuf, send.count, given)
        stream_handle = self._stream(given, send, recv)
        reduction = self._reduction(code, send)
        live.reduce(send.ptr, recv.ptr, send.count, self._dtype(send), reduction, root, stream_handle, native_config)

    def all_gather(self, sendbuf: Any, recvbuf: Any, *, stream: Any = None, config: Any = None) -> None:
        """recvbuf = every rank's sendbuf, in rank order (world_size times sendbuf's elements)."""
        live = self._live()
        native_config = _collective_config(config)
        given = self._given_stream(stream)
        send = self._buffer(sendbuf, "sendbuf", given)
        recv = self._recv(send, recvbuf, send.count * self.world_size, given, in_place=self.rank * send.nbytes)
        stream_handle = self._stream(given, send, recv)
        live.all_gather(send.ptr, recv.ptr, send.count, self._dtype(send), stream_handle, native_config)

    def reduce_scatter(
        self, sendbuf: Any, recvbuf: Any, op: str | PreMulSum = "sum", *, stream: Any = None, config: Any = None
    ) -> None:
        """recvbuf = block `rank` of op over ranks of sendbuf (sendbuf has world_size blocks)."""
        live = self._live()
        code = self._op(op)
        native_config = _collective_config(config)
        given = self._given_stream(stream)
        send = self._buffer(sendbuf, "sendbuf", given)
        in_place = -self.rank * (send.nbytes // self.world_size)  # recvbuf is block `rank` of sendbuf
        recv = self._recv(send, recvbuf, self._blocks(send), given, in_place=in_place)
        stream_handle = self._stream(given, send, recv)
        reduction = self._reduction(code, send)
        live.reduce_scatter(send.ptr, recv.ptr, recv.count, self._dtype(send), reduction, stream_handle, native_config)

    def all_to_all(self, sendbuf: Any, recvbuf: Any, *, stream: Any = None, config: Any = None) -> None:
        """Block i of this rank's sendbuf goes to block `rank` of rank i's recvbuf (ncclAlltoAll;
        a send and a receive per peer with an NCCL older than 2.28)."""
        live = self._live()
        native_config = _collective_config(config)
        given = self._given_stream(stream)
        send = self._buffer(sendbuf, "sendbuf", given)
        per_rank = self._blocks(send)
        if recvbuf is None:
            msg = "all_to_all needs a recvbuf distinct from sendbuf"
            raise ValueError(msg)
        recv = self._recv(send, recvbuf, send.count, given, in_place=None)
        stream_handle = self._stream(given, send, recv)
        live.all_to_all(send.ptr, recv.ptr, per_rank, self._dtype(send), stream_handle, native_config)

    def gather(
        self, sendbuf: Any, recvbuf: Any = None, root: int = 0, *, stream: Any = None, config: Any = None
    ) -> None:
        """Block r of root's recvbuf = rank r's sendbuf (ncclGather; grouped sends and receives with
        an NCCL older than 2.28). recvbuf (world_size times sendbuf's elements) on the root only; in
        place there when sendbuf is its block `root`."""
        live = self._live()
        root = self._peer(root, "root")
        native_config = _collective_config(config)
        given = self._given_stream(stream)
        send = self._buffer(sendbuf, "sendbuf", given)
        if self.rank == root:
            if recvbuf is None:
                msg = f"gather needs a recvbuf on the root (rank {root})"
                raise ValueError(msg)
            recv = self._recv(send, recvbuf, send.count * self.world_size, given, in_place=root * send.nbytes)
        else:
            self._not_on_this_rank(recvbuf, "recvbuf", root)
            recv = send
        stream_handle = self._stream(given, send, recv)
        live.gather(send.ptr, recv.ptr, send.count, self._dtype(send), root, stream_handle, native_config)

    def scatter(self, sendbuf: Any, recvbuf: Any, root: int = 0, *, stream: Any = None, config: Any = None) -> None:
        """recvbuf of rank r = block r of root's sendbuf (ncclScatter; grouped below NCCL 2.28).
        sendbuf (world_size times recvbuf's elements) on the root only; None elsewhere."""
        live = self._live()
        root = self._peer(root, "root")
        native_config = _collective_config(config)
        given = self._given_stream(stream)
        if recvbuf is None:
            msg = "scatter needs a recvbuf"
            raise ValueError(msg)
        if self.rank == root:
            if sendbuf is None:
                msg = f"scatter needs a sendbuf on the root (rank {root})"
                raise ValueError(msg)
            send = self._buffer(sendbuf, "sendbuf", given)
            in_place = -root * (send.nbytes // self.world_size)  # recvbuf is block `root` of sendbuf
            recv = self._recv(send, recvbuf, self._blocks(send), given, in_place=in_place)
        else:
            self._not_on_this_rank(sendbuf, "sendbuf", root)
            recv = self._buffer(recvbuf, "recvbuf", given)
            self._writable(recv, "recvbuf")
            send = recv
        stream_handle = self._stream(given, send, recv)
        live.scatter(send.ptr, recv.ptr, recv.count, self._dtype(recv), root, stream_handle, native_config)

    def all_gather_v(self, sendbuf: Any, recvbuf: Any, counts: Sequence[int], *, stream: Any = None) -> None:
        """Uneven all_gather: rank r contributes counts[r] elements, placed in recvbuf after those
        of the ranks before it (sum(counts) elements); sendbuf has counts[rank]. A broadcast from
        each rank in one group, as vLLM's all_gatherv."""
        live = self._live()
        counts = self._counts(counts, "counts")
        given = self._given_stream(stream)
        send = self._buffer(sendbuf, "sendbuf", given)
        self._count_of(send, counts[self.rank], "sendbuf", f"counts[{self.rank}]")
        before = sum(counts[: self.rank]) * send.itemsize
        recv = self._recv(send, recvbuf, sum(counts), given, in_place=before)
        stream_handle = self._stream(given, send, recv)
        live.all_gather_v(send.ptr, recv.ptr, counts, self._dtype(send), stream_handle)

    def reduce_scatter_v(
        self, sendbuf: Any, recvbuf: Any, counts: Sequence[int], op: str | PreMulSum = "sum", *, stream: Any = None
    ) -> None:
        """Uneven reduce_scatter: recvbuf (counts[rank] elements) = op over ranks of this rank's part
        of sendbuf (sum(counts) elements, rank r's part after those before it). A reduce to each
        rank in one group, as vLLM's reduce_scatterv."""
        live = self._live()
        code = self._op(op)
        counts = self._counts(counts, "counts")
        given = self._given_stream(stream)
        send = self._buffer(sendbuf, "sendbuf", given)
        self._count_of(send, sum(counts), "sendbuf", "sum(counts)")
        before = sum(counts[: self.rank]) * send.itemsize
        recv = self._recv(send, recvbuf, counts[self.rank], given, in_place=-before)
        stream_handle = self._stream(given, send, recv)
        reduction = self._reduction(code, send)
        live.reduce_scatter_v(send.ptr, recv.ptr, counts, self._dtype(send), reduction, stream_handle)

    def all_to_all_v(
        self,
        sendbuf: Any,
        recvbuf: Any,
        send_counts: Sequence[int],
        recv_counts: Sequence[int],
        *,
        stream: Any = None,
    ) -> None:
        """Uneven all_to_all (torch's all_to_all_single with splits): send_counts[i] elements of
        sendbuf go to rank i, recv_counts[i] come from it, each rank's after those of the ranks
        before it. Rank i's recv_counts[r] must be rank r's send_counts[i]. A send and a receive
        per peer in one group."""
        live = self._live()
        send_counts = self._counts(send_counts, "send_counts")
        recv_counts = self._counts(recv_counts, "recv_counts")
        given = self._given_stream(stream)
        send = self._buffer(sendbuf, "sendbuf", given)
        self._count_of(send, sum(send_counts), "sendbuf", "sum(send_counts)")
        if recvbuf is None:
            msg = "all_to_all_v needs a recvbuf distinct from sendbuf"
            raise ValueError(msg)
        recv = self._recv(send, recvbuf, sum(recv_counts), given, in_place=None)
        stream_handle = self._stream(given, send, recv)
        live.all_to_all_v(send.ptr, send_counts, recv.ptr, recv_counts, self._dtype(send), stream_handle)

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
