"""Custom all-reduce for small messages between the GPUs of one node.

NCCL's all-reduce pays for a protocol that spans nodes; between GPUs that can read each other's
memory, a single kernel that copies its input into a buffer every rank has mapped, meets the other
ranks at a flag barrier and sums their buffers is several times faster for small messages. This is
the design vLLM and TensorRT-LLM use: "one-shot" (every rank reads every buffer) for the smallest
sizes, "two-shot" (reduce-scatter, then all-gather, through the same buffers) above, NCCL beyond.
Up to 512 KiB, one-shot skips the barriers: each rank writes its input into every rank's buffer
as 16-byte lines that carry the call's flag beside 8 bytes of data (NCCL's LL protocol), and
each rank sums the lines as their flags arrive.

Set it up once per communicator, on every rank::

    comm = ncclkit.init_from_env()
    ncclkit.custom_all_reduce.setup(comm)        # torchrun: the buffers' IPC handles go through its TCPStore
    comm.all_reduce(x)                           # algorithm="auto": custom where it is faster, else NCCL
    comm.all_reduce(x, algorithm="oneshot")      # or an error saying why it cannot

    comms = ncclkit.Communicator.init_all()
    ncclkit.custom_all_reduce.setup_all(comms)   # one process: the buffers are shared by peer access

Sums of float16, bfloat16 and float32, for 1 to 8 ranks whose GPUs all reach each other peer to
peer (cudaDeviceCanAccessPeer); the ranks agree at setup, and where they cannot all use it, every
rank logs why once and "auto" stays with NCCL. Each rank's buffer holds ``max_bytes`` of input,
as much scratch, and 4 x world_size x min(max_bytes, 512 KiB) of lines; a larger message goes to
NCCL.

CUDA graphs: the buffers are registered (mapped by every rank) at setup, and a call copies its
input into this rank's buffer inside its one kernel, so capturing ``all_reduce`` captures
everything; a replay reads whatever the captured input holds then. Every rank must make the same
calls (captured or not) in the same order, on one stream at a time per communicator, as for any
collective. ``close()`` only after every rank's last call has finished (a barrier, or an NCCL
collective on the same stream, after it).

CUDA only: a ROCm build (RCCL) has no custom all-reduce, and says so.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import socket
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from types import ModuleType
from typing import TYPE_CHECKING, Any

from . import compat, rendezvous

if TYPE_CHECKING:
    from .buffers import Buffer
    from .comm import Communicator

logger = logging.getLogger(__name__)

ALGORITHMS = ("auto", "nccl", "oneshot", "twoshot")
DTYPES = ("float16", "bfloat16", "float32")
OPS = ("sum",)
MAX_RANKS = 8
# Each rank's buffer: this much input, and as much scratch for two-shot (vLLM's default size).
DEFAULT_MAX_BYTES = 8 * 1024 * 1024
# The largest buffer (the native CustomAllReduceLayout::kMaxBytes): larger messages are NCCL's.
MAX_BYTES = 2**31
# algorithm="auto": for a message of AUTO_MIN_BYTES or more that the buffer holds, one-shot up to
# the first limit of its world size, two-shot up to the second, NCCL above: where each was the
# fastest on two and on four GPUs (bench/RESULTS.md, "Custom all-reduce against NCCL"). One rank,
# which reads only its own buffer, takes two ranks' limits; the other world sizes, not measured,
# four ranks': with more ranks a one-shot output costs more reads, and that is what puts it behind
# two-shot.
AUTO_MIN_BYTES = 1
AUTO_LIMITS = dict.fromkeys((1, 2), (DEFAULT_MAX_BYTES, DEFAULT_MAX_BYTES))
AUTO_LIMITS_OTHERWISE = (256 * 1024, 4 * 1024 * 1024)

_KEY_PREFIX = "ncclkit/custom_all_reduce"


def _native() -> ModuleType:
    return compat.require_comm()


@dataclass(eq=False)
class CustomAllReduce:
    """One rank's custom all-reduce: its buffer and the other ranks' as mapped here, or, when it
    cannot be used, why (``reason``, the same on every rank)."""

    rank: int
    world_size: int
    device: int
    max_bytes: int
    native: Any | None = None  # _comm.CustomAllReduce, connected; None when unavailable
    reason: str | None = None
    _logged: set[str] = field(default_factory=set, repr=False)

    @property
    def available(self) -> bool:
        return self.native is not None

    def log_once(self, message: str, level: int = logging.INFO) -> None:
        if message not in self._logged:
            self._logged.add(message)
            logger.log(level, "ncclkit custom all-reduce (rank %d of %d): %s", self.rank, self.world_size, message)

    def close(self) -> None:
        """Free this rank's buffer and unmap the others'. Only once every rank's last call has finished."""
        self.native = None
        self.reason = "it was closed (CustomAllReduce.close())"


# Each communicator's, while it lives; functional ops reach the same object through its key.
_states: weakref.WeakKeyDictionary[Communicator, CustomAllReduce] = weakref.WeakKeyDictionary()
# Store keys: the n-th connect() of rank r uses the n-th key, in whichever process or thread.
_connect_counts: dict[tuple[int, int], itertools.count] = {}
_connect_lock = threading.Lock()


def get(comm: Communicator) -> CustomAllReduce | None:
    """The custom all-reduce that setup() made for ``comm``, or None."""
    return _states.get(comm)


def _check_max_bytes(max_bytes: int) -> None:
    if type(max_bytes) is not int:
        msg = f"max_bytes must be an int, got {type(max_bytes).__name__} {max_bytes!r:.40}"
        raise TypeError(msg)
    if max_bytes <= 0 or max_bytes % 16 or max_bytes > MAX_BYTES:
        msg = f"max_bytes must be a positive multiple of 16 of at most {MAX_BYTES} (2 GiB), got {max_bytes}"
        raise ValueError(msg)


class _LocalStore:
    """A store for ranks of one thread (a one-rank communicator)."""

    def __init__(self) -> None:
        self._values: dict[str, bytes] = {}

    def set(self, key: str, value: str | bytes) -> None:
        self._values[key] = value.encode() if isinstance(value, str) else bytes(value)

    def get(self, key: str) -> bytes:
        return self._values[key]


def _torchrun_store(world_size: int, timeout: timedelta) -> Any:
    if not all(os.environ.get(name) for name in rendezvous.ENV_VARS):
        msg = (
            f"setup() of a communicator of {world_size} ranks exchanges its buffers through a store: pass "
            "store= (a torch.distributed Store every rank reaches), or run under torchrun "
            f"({', '.join(rendezvous.ENV_VARS)} set)"
        )
        raise ValueError(msg)
    return rendezvous.tcp_store(rendezvous.read_env(), timeout)


def _all_gather(store: Any, key: str, rank: int, world_size: int, value: dict) -> list[dict]:
    store.set(f"{key}/{rank}", json.dumps(value))
    return [json.loads(store.get(f"{key}/{r}")) for r in range(world_size)]


def _first_reason(entries: list[dict]) -> str | None:
    """The lowest rank's reason against, so that every rank reports the same one."""
    return next((entry["reason"] for entry in entries if entry.get("reason")), None)


def _allocate(nccl: ModuleType, device: int, rank: int, world_size: int, max_bytes: int) -> tuple[Any, str | None]:
    """This rank's buffer, or why there is none."""
    if not hasattr(nccl, "CustomAllReduce"):
        return None, "custom all-reduce is CUDA-only, and this ncclkit was built against RCCL"
    if world_size > MAX_RANKS:
        return None, f"custom all-reduce supports up to {MAX_RANKS} ranks on one node, not {world_size}"
    try:
        return nccl.CustomAllReduce(device, rank, world_size, max_bytes), None
    except (RuntimeError, ValueError) as error:  # out of memory, say
        return None, f"rank {rank} could not allocate its {max_bytes}-byte buffer on cuda:{device}: {error}"


def _process() -> dict[str, Any]:
    """Where this rank runs: ranks of one host can share memory, ranks of one process need no IPC."""
    return {"host": socket.gethostname(), "pid": os.getpid()}


def _peer_problem(nccl: ModuleType, everyone: list[dict], rank: int, device: int) -> str | None:
    """Why this rank cannot reach every other rank's buffer, or None."""
    me = everyone[rank]
    for peer, other in enumerate(everyone):
        if peer == rank:
            continue
        # A rank finds the others' scratch and lines at offsets its own max_bytes gives.
        if other["max_bytes"] != me["max_bytes"]:
            return (
                f"ranks {rank} and {peer} asked for buffers of {me['max_bytes']} and {other['max_bytes']} bytes: "
                "every rank must pass the same max_bytes"
            )
        if other["host"] != me["host"]:
            hosts = f"{me['host']}, {other['host']}"
            return f"ranks {rank} and {peer} are on different hosts ({hosts}): custom all-reduce is for one node"
        if other["pid"] == me["pid"]:
            return (
                f"ranks {rank} and {peer} are in one process, where CUDA IPC cannot map a buffer: use setup_all() "
                "for the communicators of Communicator.init_all()"
            )
        local = nccl.device_by_pci_bus_id(other["bus_id"])
        if local < 0:
            return (
                f"rank {peer}'s GPU ({other['bus_id']}) is not visible in rank {rank}'s process (CUDA_VISIBLE_DEVICES?)"
            )
        if not nccl.can_access_peer(device, local):
            return (
                f"rank {rank}'s cuda:{device} ({me['bus_id']}) cannot reach rank {peer}'s GPU ({other['bus_id']}) "
                "peer to peer (cudaDeviceCanAccessPeer)"
            )
    return None


def connect(
    rank: int,
    world_size: int,
    device: int,
    *,
    store: Any = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    key: str | None = None,
    timeout: timedelta = timedelta(minutes=5),
) -> CustomAllReduce:
    """This rank's custom all-reduce, agreed with ranks in other processes through ``store`` (what
    setup() does for a communicator). Collective: every rank calls it. ``key`` names the exchange
    in the store; by default the n-th call of a rank is the n-th exchange, which holds where every
    process makes its communicators in one order (else give each communicator its own key)."""
    _check_max_bytes(max_bytes)
    if not 0 <= rank < world_size:
        msg = f"rank {rank} is out of range for world_size {world_size}"
        raise ValueError(msg)
    served_here = store is None and world_size > 1
    if store is None:
        store = _LocalStore() if world_size == 1 else _torchrun_store(world_size, timeout)
    if key is None:
        with _connect_lock:
            key = str(next(_connect_counts.setdefault((rank, world_size), itertools.count())))
    key = f"{_KEY_PREFIX}/{key}"
    nccl = _native()
    native, reason = _allocate(nccl, device, rank, world_size, max_bytes)
    me: dict[str, Any] = {"reason": reason, "max_bytes": max_bytes, **_process()}
    if native is not None:
        me |= {
            "bus_id": nccl.pci_bus_id(device),
            "handle": native.ipc_handle().hex(),
            "multiprocessors": native.multiprocessors,
        }
    # Three rounds, so that every rank takes the same decision: what each has, whether each can
    # reach all the others, whether each mapped their buffers.
    everyone = _all_gather(store, f"{key}/buffers", rank, world_size, me)
    reason = _first_reason(everyone)
    if reason is None:
        problem = _peer_problem(nccl, everyone, rank, device)
        reason = _first_reason(_all_gather(store, f"{key}/reachable", rank, world_size, {"reason": problem}))
    if reason is None:
        blocks = min(nccl.CUSTOM_ALL_REDUCE_MAX_BLOCKS, *(entry["multiprocessors"] for entry in everyone))
        mapped = None
        try:
            native.open_ipc_handles([bytes.fromhex(entry["handle"]) for entry in everyone], blocks)
        except (RuntimeError, ValueError) as error:
            mapped = f"rank {rank} could not map the other ranks' buffers: {error}"
        reason = _first_reason(_all_gather(store, f"{key}/mapped", rank, world_size, {"reason": mapped}))
    if served_here:
        rendezvous.leave_store(store, key, rank, world_size)
    state = CustomAllReduce(rank, world_size, device, max_bytes, native if reason is None else None, reason)
    if reason is not None:
        state.log_once(f"unavailable, all_reduce stays with NCCL: {reason}", logging.WARNING)
    return state


def setup(
    comm: Communicator,
    *,
    store: Any = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    key: str | None = None,
    timeout: timedelta = timedelta(minutes=5),
) -> CustomAllReduce:
    """Custom all-reduce for ``comm``, whose ranks are processes of one node. Collective: every
    rank calls it. ``store``: a torch.distributed Store all ranks reach; under torchrun, the
    default is its TCPStore at MASTER_ADDR:MASTER_PORT (a one-rank communicator needs none).
    Where it cannot be used, the result says why (``reason``), logged once, and ``all_reduce``'s
    "auto" uses NCCL."""
    state = connect(comm.rank, comm.world_size, comm.device, store=store, max_bytes=max_bytes, key=key, timeout=timeout)
    _states[comm] = state
    return state


def setup_all(comms: Sequence[Communicator], *, max_bytes: int = DEFAULT_MAX_BYTES) -> list[CustomAllReduce]:
    """Custom all-reduce for the communicators of one process (Communicator.init_all): every rank's
    buffer, shared by peer access instead of IPC. Returns them in ``comms``' order."""
    _check_max_bytes(max_bytes)
    comms = list(comms)
    if not comms or sorted(c.rank for c in comms) != list(range(comms[0].world_size)):
        ranks = [c.rank for c in comms]
        msg = f"setup_all needs every rank of one communicator once, got ranks {ranks}"
        raise ValueError(msg)
    nccl = _native()
    world_size = len(comms)
    natives, reason = [], None
    for c in comms:
        native, problem = _allocate(nccl, c.device, c.rank, world_size, max_bytes)
        natives.append(native)
        reason = reason or problem
    if reason is None:
        for a in comms:
            for b in comms:
                if not nccl.can_access_peer(a.device, b.device):
                    reason = f"cuda:{a.device} cannot reach cuda:{b.device} peer to peer (cudaDeviceCanAccessPeer)"
                    break
            if reason:
                break
    if reason is None:
        by_rank = sorted(zip(comms, natives), key=lambda pair: pair[0].rank)
        buffers = [native.buffer for _, native in by_rank]
        devices = [c.device for c, _ in by_rank]
        blocks = min(nccl.CUSTOM_ALL_REDUCE_MAX_BLOCKS, *(native.multiprocessors for native in natives))
        try:
            for native in natives:
                native.connect_in_process(buffers, devices, blocks)
        except (RuntimeError, ValueError) as error:
            reason = f"could not enable peer access between the GPUs: {error}"
    states = []
    for c, native in zip(comms, natives):
        state = CustomAllReduce(c.rank, world_size, c.device, max_bytes, native if reason is None else None, reason)
        _states[c] = state
        states.append(state)
    if reason is not None:
        states[0].log_once(f"unavailable, all_reduce stays with NCCL: {reason}", logging.WARNING)
    return states


def plan(state: CustomAllReduce | None, algorithm: str, *, dtype: str, op: str, nbytes: int) -> tuple[str, str | None]:
    """The algorithm an all_reduce runs ("nccl", "oneshot" or "twoshot") and, where "auto" falls
    back to NCCL for a reason other than the size, that reason. An explicit custom algorithm that
    cannot run raises, saying why. It depends only on what every rank shares (the setup's verdict,
    size, dtype, op), so every rank decides alike."""
    if algorithm not in ALGORITHMS:
        msg = f"algorithm must be one of {', '.join(ALGORITHMS)}, got {algorithm!r}"
        raise ValueError(msg)
    if algorithm == "nccl":
        return "nccl", None
    explicit = algorithm != "auto"
    if state is None:
        if explicit:
            msg = (
                f"algorithm={algorithm!r} needs this communicator's custom all-reduce: call "
                "ncclkit.custom_all_reduce.setup(comm) on every rank first (setup_all() for Communicator.init_all())"
            )
            raise RuntimeError(msg)
        return "nccl", None  # never set up: NCCL, as asked for
    if state.reason is not None:
        if explicit:
            msg = f"algorithm={algorithm!r} cannot run: {state.reason}"
            raise RuntimeError(msg)
        return "nccl", None  # logged once at setup
    unsupported = None
    if op not in OPS:
        unsupported = f"custom all-reduce sums only (op='sum'), not op={op!r}"
    elif dtype not in DTYPES:
        unsupported = f"custom all-reduce sums {', '.join(DTYPES)}, not {dtype}"
    if explicit:
        if unsupported is None and nbytes > state.max_bytes:
            unsupported = f"{nbytes} bytes do not fit its {state.max_bytes}-byte buffer (setup(max_bytes=...))"
        if unsupported is not None:
            msg = f"algorithm={algorithm!r} cannot run: {unsupported}"
            raise ValueError(msg)
        return algorithm, None
    if unsupported is not None:
        return "nccl", f"{unsupported}; such all_reduce calls use NCCL"
    # By size alone: outside the range NCCL is the faster, which is no fallback to report.
    if nbytes < AUTO_MIN_BYTES or nbytes > state.max_bytes:
        return "nccl", None
    oneshot_max, twoshot_max = AUTO_LIMITS.get(state.world_size, AUTO_LIMITS_OTHERWISE)
    if nbytes <= oneshot_max:
        return "oneshot", None
    if nbytes <= twoshot_max:
        return "twoshot", None
    return "nccl", None


def launch(comm: Communicator, send: Buffer, recv: Buffer, op: str, stream: int, algorithm: str) -> bool:
    """Communicator.all_reduce's custom path: runs it and returns True, or returns False for NCCL."""
    if algorithm == "nccl" or (algorithm == "auto" and not _states):
        return False  # the common case, decided before a lookup costs anything
    state = _states.get(comm)
    choice, fallback = plan(state, algorithm, dtype=send.dtype, op=op, nbytes=send.nbytes)
    if choice == "nccl":
        if fallback is not None and state is not None:
            state.log_once(fallback)
        return False
    nccl = _native()
    state.native.all_reduce(
        send.ptr, recv.ptr, send.count, nccl.DTYPES[send.dtype], nccl.CUSTOM_ALL_REDUCE_ALGORITHMS[choice], stream
    )
    return True
