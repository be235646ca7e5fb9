"""ncclkit's statically linked NCCL beside torch's libnccl.so.2 in one process: each all_reduce
runs on its own NCCL and reports its own version."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import ncclkit
import pytest

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(
        not ncclkit.build_info()["nccl"]["static"],
        reason="needs ncclkit built with a static NCCL (NCCLKIT_NCCL=source, or NCCLKIT_NCCL_STATIC=ON)",
    ),
]

# torch first, so its libnccl.so.2 is the one the dynamic loader knows when ncclkit is imported.
SCRIPT = textwrap.dedent(
    """
    import json, socket
    import torch, torch.distributed as dist

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dist.init_process_group("nccl", init_method=f"tcp://127.0.0.1:{port}", rank=0, world_size=1,
                            device_id=torch.device("cuda:0"))
    x = torch.randn(1 << 20, device="cuda")
    torch_result = x.clone()
    dist.all_reduce(torch_result)
    torch.cuda.synchronize()

    import ncclkit
    from ncclkit.compat import loaded_nccl_files

    y = torch.full_like(x, float("nan"))
    with ncclkit.Communicator.init_rank(1, ncclkit.UniqueId.generate(), 0, device=0) as comm:
        comm.all_reduce(x, y)
    torch.cuda.synchronize()
    print(json.dumps({
        "torch_nccl": ".".join(map(str, torch.cuda.nccl.version())),
        "ncclkit_nccl": ncclkit.get_version(),
        "torch_exact": bool(torch.equal(torch_result, x)),
        "ncclkit_exact": bool(torch.equal(y, x)),
        "loaded": loaded_nccl_files(),
    }))
    dist.destroy_process_group()
    """
)


def test_torch_and_ncclkit_each_run_their_own_nccl() -> None:
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["torch_exact"] and result["ncclkit_exact"], result
    assert result["ncclkit_nccl"] == ncclkit.build_info()["nccl"]["version_code"], result
    # torch's NCCL is a shared library of its own; ncclkit's is inside its extension.
    assert any("libnccl.so" in path for path in result["loaded"]), result
    print(f"torch NCCL {result['torch_nccl']}, ncclkit NCCL {result['ncclkit_nccl']}, loaded: {result['loaded']}")
