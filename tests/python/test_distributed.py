"""The torch rendezvous: environment checks, and the unique id travelling through a real TCPStore."""

from __future__ import annotations

import socket
import threading
from datetime import timedelta

import pytest
from ncclkit import Communicator, UniqueId, distributed, rendezvous

TORCHRUN_ENV = {"RANK": "0", "WORLD_SIZE": "2", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500"}


def set_env(monkeypatch: pytest.MonkeyPatch, **env: str) -> None:
    for name in rendezvous.ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def test_missing_variables_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, RANK="0", WORLD_SIZE="2")
    with pytest.raises(
        ValueError,
        match="^init_from_env\\(\\) needs RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, "
        "MASTER_PORT \\(as torchrun sets them\\); missing: LOCAL_RANK, MASTER_ADDR, MASTER_PORT$",
    ):
        distributed.init_from_env()


def test_non_integer_rank(monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, **{**TORCHRUN_ENV, "RANK": "zero"})
    with pytest.raises(ValueError, match="^RANK must be a non-negative integer, got 'zero'$"):
        distributed.init_from_env()


def test_rank_out_of_range(monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, **{**TORCHRUN_ENV, "RANK": "2"})
    with pytest.raises(ValueError, match="^RANK 2 is out of range for WORLD_SIZE 2$"):
        distributed.init_from_env()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unique_id_travels_through_the_tcp_store() -> None:
    """Two ranks (threads here, processes under torchrun) get rank 0's id."""
    pytest.importorskip("torch")
    port = str(free_port())
    envs = [{**TORCHRUN_ENV, "RANK": str(r), "LOCAL_RANK": str(r), "MASTER_PORT": port} for r in (1, 0)]
    got: dict[str, UniqueId] = {}

    def rank(env: dict[str, str]) -> None:
        got[env["RANK"]] = distributed.share_unique_id(env, "ncclkit/unique_id/test", timedelta(seconds=30))

    threads = [threading.Thread(target=rank, args=(env,)) for env in envs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert set(got) == {"0", "1"}
    assert got["0"] == got["1"]


def test_init_from_env_single_rank(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("torch")
    set_env(monkeypatch, **{**TORCHRUN_ENV, "WORLD_SIZE": "1", "MASTER_PORT": str(free_port())})
    made: list[tuple] = []
    monkeypatch.setattr(
        Communicator,
        "init_rank",
        classmethod(lambda cls, world_size, uid, rank, *, device: made.append((world_size, uid, rank, device))),
    )
    distributed.init_from_env()
    ((world_size, uid, rank, device),) = made
    assert (world_size, rank, device) == (1, 0, 0)
    assert isinstance(uid, UniqueId)


def test_from_process_group_sends_rank_0_s_id_through_the_group(monkeypatch: pytest.MonkeyPatch) -> None:
    """A one-rank gloo group: the id broadcast through it reaches init_rank, on the current device."""
    torch = pytest.importorskip("torch")
    import torch.distributed as dist

    made: list[tuple] = []
    monkeypatch.setattr(
        Communicator,
        "init_rank",
        classmethod(lambda cls, world_size, uid, rank, *, device: made.append((world_size, uid, rank, device))),
    )
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{free_port()}", rank=0, world_size=1)
    try:
        Communicator.from_process_group()
    finally:
        dist.destroy_process_group()
    ((world_size, uid, rank, device),) = made
    assert (world_size, rank, device, type(uid)) == (1, 0, 0, UniqueId)
