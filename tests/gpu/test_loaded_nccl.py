"""ncclkit built against a newer NCCL header than the one the process loaded: one libnccl.so.2 in
the process (torch's, when torch came first), every feature of the loaded NCCL working, and the
rest reporting unavailable instead of crashing. Run the GPU suite once with torch's NCCL and once
with an older one preloaded (LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libnccl.so.2)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import ncclkit
import pytest
from ncclkit.features import nccl_version_code

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.gpu

DYNAMIC = not ncclkit.build_info()["nccl"]["static"]

# torch first, as most programs import it: its libnccl.so.2 is the one ncclkit must use too.
_TORCH_FIRST = """\
import json, os, torch
import torch.distributed as dist
import ncclkit
os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=os.environ["PORT"])
dist.init_process_group("nccl", rank=0, world_size=1, device_id=torch.device("cuda", 0))
x = torch.arange(1024, dtype=torch.float32, device="cuda")
dist.all_reduce(x)
with ncclkit.Communicator.init_rank(1, ncclkit.UniqueId.generate(), 0, device=0) as comm:
    comm.all_reduce(x)
    torch.cuda.synchronize()
dist.destroy_process_group()
maps = {line.split()[-1] for line in open("/proc/self/maps") if "libnccl" in line}
print(json.dumps({
    "maps": sorted(os.path.realpath(p) for p in maps),
    "ncclkit": os.path.realpath(ncclkit.comm._nccl().library_path()),
    "torch_version": list(torch.cuda.nccl.version()),
    "ncclkit_version": ncclkit.get_version(),
    "exact": bool((x.cpu() == torch.arange(1024, dtype=torch.float32)).all()),
}))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(not DYNAMIC, reason="a static NCCL is inside the extension, beside torch's (test_side_by_side)")
def test_torch_and_ncclkit_share_one_nccl() -> None:
    env = {**os.environ, "PORT": str(free_port())}
    proc = subprocess.run([sys.executable, "-c", _TORCH_FIRST], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.splitlines()[-1])
    assert report["exact"]
    preloaded = [os.path.realpath(p) for p in os.environ.get("LD_PRELOAD", "").split(":") if "libnccl" in p]
    if preloaded:
        # ncclkit takes the libnccl.so.2 loaded first; torch dlopens its wheel's by path, a second
        # copy whatever ncclkit does.
        assert report["ncclkit"] == preloaded[0], report
        return
    assert report["maps"] == [report["ncclkit"]], report  # one libnccl, and it is ncclkit's too
    major, minor, patch = report["torch_version"]
    assert report["ncclkit_version"] == nccl_version_code(f"{major}.{minor}.{patch}")


def test_every_feature_follows_the_loaded_nccl() -> None:
    loaded = ncclkit.get_version()
    for feature in ncclkit.nccl_features().values():
        expected = feature.compiled and loaded >= nccl_version_code(feature.since)
        assert feature.available == expected, feature


def test_revoke_where_the_loaded_nccl_has_it(comm: ncclkit.Communicator) -> None:
    x = torch.ones(256, device="cuda")
    feature = ncclkit.nccl_features()["comm_revoke"]
    if not feature.compiled:
        pytest.skip(f"built against NCCL {ncclkit.build_info()['nccl']['version']}, without ncclCommRevoke")
    if not comm.supports("comm_revoke"):
        with pytest.raises(ncclkit.NcclUnavailableError) as error:
            comm.revoke()
        loaded = ncclkit.features.nccl_version_string(ncclkit.get_version())
        assert (error.value.name, error.value.since, error.value.loaded) == ("ncclCommRevoke", "2.28.7", loaded)
        comm.all_reduce(x)  # the communicator is untouched
        torch.cuda.synchronize()
        assert bool((x == 1).all())
        return
    comm.all_reduce(x)
    comm.revoke()
    with pytest.raises(ValueError, match="all_reduce: the communicator has been revoked"):
        comm.all_reduce(x)


def test_native_all_to_all_or_its_fallback_is_exact(comms: list[ncclkit.Communicator]) -> None:
    world, block = len(comms), 64
    sends, recvs = [], []
    for comm in comms:
        with torch.cuda.device(comm.device):
            sends.append(torch.randint(-(2**20), 2**20, (world * block,), device="cuda").float())
            recvs.append(torch.full((world * block,), float("nan"), device="cuda"))
    with ncclkit.group():
        for comm, send, recv in zip(comms, sends, recvs):
            comm.all_to_all(send, recv)
    for comm, recv in zip(comms, recvs):
        torch.cuda.synchronize(comm.device)
        # Block `peer` of this rank's recv is block `rank` of peer's send.
        expected = torch.cat([s.cpu()[comm.rank * block : (comm.rank + 1) * block] for s in sends])
        assert torch.equal(recv.cpu(), expected)


def test_nccl_parameters_where_the_loaded_nccl_has_them() -> None:
    if not ncclkit.nccl_features()["params"].compiled:
        pytest.skip("built against an NCCL header without the parameter API (2.30.4)")
    if ncclkit.nccl_features()["params"].available:
        assert "NCCL_DEBUG" in ncclkit.nccl_parameters()
        return
    with pytest.raises(ncclkit.NcclUnavailableError, match=r"^ncclParamGetAllParameterKeys came with NCCL 2\.30\.4"):
        ncclkit.nccl_parameters()
