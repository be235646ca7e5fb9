"""The torchrun rendezvous: its environment, and the TCPStore at MASTER_ADDR:MASTER_PORT through
which ranks swap what they need (a unique id, the custom all-reduce's buffers). No protocol of
ncclkit's own: torch's store, made the way torchrun expects."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

ENV_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


def read_env() -> dict[str, str]:
    """torchrun's variables, checked: each set, the numbers non-negative integers."""
    missing = [name for name in ENV_VARS if not os.environ.get(name)]
    if missing:
        msg = f"init_from_env() needs {', '.join(ENV_VARS)} (as torchrun sets them); missing: {', '.join(missing)}"
        raise ValueError(msg)
    env = {name: os.environ[name] for name in ENV_VARS}
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_PORT"):
        if not env[name].isdigit():
            msg = f"{name} must be a non-negative integer, got {env[name]!r}"
            raise ValueError(msg)
    return env


def tcp_store(env: dict[str, str], timeout: timedelta) -> Any:
    """The TCPStore at MASTER_ADDR:MASTER_PORT: torchrun's agent's, or, outside the agent, rank 0's."""
    from torch.distributed import TCPStore

    rank, world_size = int(env["RANK"]), int(env["WORLD_SIZE"])
    agent_store = os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True"
    return TCPStore(
        env["MASTER_ADDR"],
        int(env["MASTER_PORT"]),
        world_size,
        is_master=rank == 0 and not agent_store,
        timeout=timeout,
    )


def leave_store(store: Any, key: str, rank: int, world_size: int) -> None:
    """Outside torchrun's agent, rank 0 serves the store tcp_store() makes, which closes when rank 0
    lets go of it: rank 0 waits here until every rank has read what it needed under ``key``."""
    store.set(f"{key}/read/{rank}", b"1")
    if rank == 0:
        store.wait([f"{key}/read/{r}" for r in range(world_size)])
