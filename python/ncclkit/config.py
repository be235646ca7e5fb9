"""The configuration NCCL takes: ncclConfig_t for a communicator (init_rank, split, shrink, grow)
and ncclCollConfig_t for one collective (CollectiveConfig), each field by nccl4py's name.

An NCCL older than a field reads the struct it knows and ignores the rest, so a field the loaded
NCCL lacks is an error here rather than a setting that silently does nothing; a name NCCL has no
field for is a TypeError, as an unknown keyword argument is.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from . import compat
from .build_info import build_info
from .errors import NcclUnavailableError
from .features import nccl_version_code, nccl_version_string

# NCCL_CTA_POLICY_*: bits, combined by giving their sum.
CTA_POLICIES = {"default": 0, "efficiency": 1, "zero": 2}
# ncclHostCftMode_t and ncclNvlsHostMode_t (whose disable_* values combine, too).
HOST_CFT_MODES = {"enable": 1, "disable": 2, "fallback": 3}
NVLS_HOST_MODES = {"enable": 0, "disable_transport": 1, "disable_symmetric_multimem": 2, "disable": 2**31 - 1}

_INT_MAX = 2**31 - 1


@dataclass(frozen=True)
class Field:
    """One field: its kind (bool, int, str, "event", or the names of an enum's values), the NCCL
    release whose header and library have it, and the least int value NCCL takes."""

    kind: Any
    since: str
    low: int = 0
    high: int = _INT_MAX


COMM_FIELDS = {
    "blocking": Field(bool, "2.14.0"),
    "cga_cluster_size": Field(int, "2.17.0"),
    "min_ctas": Field(int, "2.17.0", 1),
    "max_ctas": Field(int, "2.17.0", 1),
    "net_name": Field(str, "2.17.0"),
    "split_share": Field(bool, "2.18.0"),
    "traffic_class": Field(int, "2.25.0"),
    "comm_name": Field(str, "2.27.0"),
    "collnet_enable": Field(bool, "2.27.0"),
    "cta_policy": Field(CTA_POLICIES, "2.27.0"),
    "shrink_share": Field(bool, "2.27.0"),
    "nvls_ctas": Field(int, "2.27.0", 1),
    "n_channels_per_net_peer": Field(int, "2.28.0", 1),
    "nvlink_centric_sched": Field(bool, "2.28.0"),
    "graph_usage_mode": Field(int, "2.29.0"),
    "num_rma_ctx": Field(int, "2.29.0", 1),
    "max_p2p_peers": Field(int, "2.30.0", 1),
    "graph_stream_ordering": Field(int, "2.30.5"),
    "launch_order_implicit": Field(bool, "2.31.0"),
    "num_rma_sig": Field(int, "2.31.0", 1),
    "rma_eager_init": Field(bool, "2.31.0"),
    "host_cft_mode": Field(HOST_CFT_MODES, "2.31.0"),
    "nvls_host_mode": Field(NVLS_HOST_MODES, "2.32.0"),
}

COLLECTIVE_FIELDS = {
    "min_ctas": Field(int, "2.31.0", 1),
    "max_ctas": Field(int, "2.31.0", 1),
    "nvls_ctas": Field(int, "2.31.0", 1),
    "cga_cluster_size": Field(int, "2.31.0"),
    "alg_selection": Field(str, "2.31.0"),
    "force_alg_selection": Field(bool, "2.31.0"),
    "cta_policy": Field(CTA_POLICIES, "2.31.0"),
    "user_profiler_tag": Field(int, "2.31.0", 0, 2**63 - 1),  # NCCL keeps the tags with the top bit set
    "launch_completion_event": Field("event", "2.32.0"),
}


def _value(name: str, value: Any, field: Field) -> int | str:
    """`value` as the int or str the struct holds, or the TypeError/ValueError naming `name`."""
    kind = field.kind
    if kind is bool:
        if type(value) is not bool:
            msg = f"config field {name} must be True or False, got {type(value).__name__} {value!r:.40}"
            raise TypeError(msg)
        return int(value)
    if kind is str:
        if not isinstance(value, str):
            msg = f"config field {name} must be a str, got {type(value).__name__} {value!r:.40}"
            raise TypeError(msg)
        if "\0" in value:
            msg = f"config field {name} must not hold a NUL character"
            raise ValueError(msg)
        return value
    if kind == "event":
        return _event_handle(name, value)
    if isinstance(kind, Mapping) and isinstance(value, str):
        if value not in kind:
            msg = f"config field {name} must be one of {', '.join(kind)} (or their int values), got {value!r}"
            raise ValueError(msg)
        return kind[value]
    try:
        if type(value) is bool:
            raise TypeError
        number = operator.index(value)
    except TypeError:
        names = f"one of {', '.join(kind)} or " if isinstance(kind, Mapping) else ""
        msg = f"config field {name} must be {names}an int, got {type(value).__name__} {value!r:.40}"
        raise TypeError(msg) from None
    if not field.low <= number <= field.high:
        msg = f"config field {name} must be in [{field.low}, {field.high}], got {number}"
        raise ValueError(msg)
    return number


def _event_handle(name: str, event: Any) -> int:
    """A cudaEvent_t: a torch.cuda.Event, a CuPy Event or the handle as an int."""
    handle = event
    for attribute in ("cuda_event", "ptr"):
        if hasattr(event, attribute):
            handle = getattr(event, attribute)
            break
    if type(handle) is bool or not isinstance(handle, int) or not 0 <= handle < 2**64:
        msg = f"config field {name} must be a torch.cuda.Event, a CuPy Event or a cudaEvent_t handle, got {event!r:.40}"
        raise TypeError(msg)
    if handle == 0:  # torch makes its CUDA event on the first record()
        msg = f"config field {name} has no CUDA event yet: record() a torch.cuda.Event once before passing it"
        raise ValueError(msg)
    return handle


def checked_fields(
    given: Mapping[str, Any], table: Mapping[str, Field], compiled: Any, nccl: ModuleType, what: str
) -> list[tuple[str, int | str]]:
    """The fields of `given` (None: unset) that `what` passes to NCCL, checked: their names (a
    TypeError naming those `table` lacks), their values, that the header had them (`compiled`, the
    names the bindings know) and that the loaded NCCL has them (NcclUnavailableError)."""
    unknown = [name for name in given if name not in table]
    if unknown:
        msg = f"{what} got unknown config field(s) {', '.join(map(repr, unknown))}; NCCL's are: {', '.join(table)}"
        raise TypeError(msg)
    loaded = nccl.get_version()
    fields = []
    for name, value in given.items():
        if value is None:
            continue
        field = table[name]
        converted = _value(name, value, field)
        if name not in compiled:
            header = build_info()["nccl"]["version"]
            raise NcclUnavailableError(f"config field {name}", field.since, "", "", header=header)
        if loaded < nccl_version_code(field.since):
            raise NcclUnavailableError(
                f"config field {name}", field.since, nccl_version_string(loaded), nccl.library_path()
            )
        fields.append((name, converted))
    return fields


class CollectiveConfig:
    """NCCL's per-call configuration (ncclCollConfig_t, NCCL 2.31): made once, passed as
    ``config=`` to any collective that has an nccl*Config form (all_reduce, broadcast, reduce,
    all_gather, reduce_scatter, all_to_all, gather, scatter). Set it alike on every rank.
    Fields: min_ctas, max_ctas, nvls_ctas, cga_cluster_size, alg_selection, force_alg_selection,
    cta_policy, user_profiler_tag and (NCCL 2.32) launch_completion_event."""

    __slots__ = ("_keep", "_native", "fields")

    def __init__(self, **fields: Any) -> None:
        nccl = compat.require_comm()
        if not nccl.COLLECTIVE_CONFIG_FIELDS:
            header = build_info()["nccl"]["version"]
            raise NcclUnavailableError("per-call configuration (ncclCollConfig_t)", "2.31.0", "", "", header=header)
        self.fields = checked_fields(fields, COLLECTIVE_FIELDS, nccl.COLLECTIVE_CONFIG_FIELDS, nccl, "CollectiveConfig")
        self._native = nccl.CollectiveConfig(self.fields)
        # NCCL records into the event as long as the config is used: the event must outlive it.
        self._keep = fields.get("launch_completion_event")

    def __repr__(self) -> str:
        return f"CollectiveConfig({', '.join(f'{name}={value!r}' for name, value in self.fields)})"
