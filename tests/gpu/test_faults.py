"""What threads, forks and peers that never come do to a communicator: a clear error or a wait
that ends, never a crash or a hang. The cases that could hang or end the process run in a child."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time

import pytest

torch = pytest.importorskip("torch")

import ncclkit  # noqa: E402
from reference import poisoned_like, random_input  # noqa: E402

pytestmark = pytest.mark.gpu


def lonely_rank(**config: object) -> ncclkit.Communicator:
    """Rank 0 of 2 whose peer never comes: a non-blocking init that stays in progress."""
    return ncclkit.Communicator.init_rank(2, ncclkit.UniqueId.generate(), 0, device=0, blocking=False, **config)


def run_child(code: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=timeout, check=False
    )


def test_non_blocking_init_returns_at_once_and_polls() -> None:
    start = time.monotonic()
    comm = lonely_rank()
    assert time.monotonic() - start < 5
    assert (comm.rank, comm.world_size, comm.poll()) == (0, 2, False)
    comm.abort()
    assert not comm.valid


def test_a_wait_past_the_timeout_raises_and_leaves_the_communicator_to_abort() -> None:
    comm = lonely_rank(timeout=0.5)
    start = time.monotonic()
    with pytest.raises(ncclkit.NcclTimeoutError, match=r"^all_reduce did not finish within 0\.5 s"):
        comm.all_reduce(random_input("float32", 8, 0))
    assert 0.5 <= time.monotonic() - start < 5
    comm.timeout = 0.2
    with pytest.raises(ncclkit.NcclTimeoutError, match=r"^wait did not finish within 0\.2 s"):
        comm.wait()
    comm.abort()


def test_abort_from_another_thread_ends_a_wait() -> None:
    comm = lonely_rank()
    aborter = threading.Timer(0.5, comm.abort)
    aborter.start()
    start = time.monotonic()
    with pytest.raises(ncclkit.CommunicatorAbortedError, match="^wait ended: the communicator was aborted"):
        comm.wait()
    aborter.join(10)
    assert not aborter.is_alive()
    assert time.monotonic() - start < 10
    assert not comm.valid


def test_dropping_a_communicator_that_never_finished_its_init() -> None:
    # Its destructor aborts it (a destroy would wait for the peer).
    result = run_child(
        """
        import ncclkit
        comm = ncclkit.Communicator.init_rank(2, ncclkit.UniqueId.generate(), 0, device=0, blocking=False)
        del comm
        print("dropped")
        """
    )
    assert result.returncode == 0, result.stderr
    assert "dropped" in result.stdout


def test_ctrl_c_ends_a_wait() -> None:
    result = run_child(
        """
        import os, signal, threading, ncclkit
        comm = ncclkit.Communicator.init_rank(2, ncclkit.UniqueId.generate(), 0, device=0, blocking=False)
        threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()
        try:
            comm.wait()
        except KeyboardInterrupt:
            print("interrupted")
        comm.abort()
        """
    )
    assert result.returncode == 0, result.stderr
    assert "interrupted" in result.stdout


def test_a_forked_child_gets_an_error_and_exits_cleanly() -> None:
    result = run_child(
        """
        import os, torch, ncclkit
        comm = ncclkit.Communicator.init_rank(1, ncclkit.UniqueId.generate(), 0, device=0)
        x = torch.ones(8, device="cuda")
        pid = os.fork()
        if pid == 0:
            try:
                comm.all_reduce(x)
            except RuntimeError as e:
                print("child:", e, flush=True)
            try:
                comm.abort()
            except RuntimeError as e:
                print("child abort:", e, flush=True)
            try:  # the bindings' own check, below ncclkit.comm's
                comm._handle.all_reduce(x.data_ptr(), x.data_ptr(), 8, 7, 0, 0)
            except RuntimeError as e:
                print("child native:", e, flush=True)
            raise SystemExit(0)  # the interpreter's exit drops the inherited communicator
        _, status = os.waitpid(pid, 0)
        print("child status", status)
        comm.all_reduce(x)
        torch.cuda.synchronize()
        print("parent sum", x.sum().item())
        comm.destroy()
        """
    )
    assert result.returncode == 0, result.stderr
    assert "child: this communicator was made before fork(), in the parent process" in result.stdout
    assert "child abort: this communicator was made before fork()" in result.stdout
    assert "child native: all_reduce: this communicator was made before fork()" in result.stdout
    assert "child status 0" in result.stdout
    assert "parent sum 8.0" in result.stdout


def test_collectives_after_finalize_are_refused() -> None:
    comm = ncclkit.Communicator.init_rank(1, ncclkit.UniqueId.generate(), 0, device=0)
    comm.finalize()
    with pytest.raises(ValueError, match=r"^all_reduce: the communicator has been finalized; only destroy\(\)"):
        comm.all_reduce(random_input("float32", 8, 0))
    with pytest.raises(ValueError, match="^finalize: the communicator has been finalized"):
        comm.finalize()
    comm.destroy()


def test_a_used_unique_id_is_refused_not_waited_on() -> None:
    uid = ncclkit.UniqueId.generate()
    ncclkit.Communicator.init_rank(1, uid, 0, device=0).destroy()
    with pytest.raises(ValueError, match="was already used by this process for rank 0"):
        ncclkit.Communicator.init_rank(1, uid, 0, device=0)


def test_one_communicator_from_many_threads() -> None:
    # Each thread's calls reach NCCL one at a time; every result is exact.
    with ncclkit.Communicator.init_rank(1, ncclkit.UniqueId.generate(), 0, device=0) as comm:
        inputs = [random_input("int32", 4096, 0) for _ in range(4)]
        outputs = [poisoned_like(x) for x in inputs]
        errors: list[BaseException] = []

        def work(i: int) -> None:
            try:
                stream = torch.cuda.Stream()
                with torch.cuda.stream(stream):
                    for _ in range(300):
                        comm.all_reduce(inputs[i], outputs[i])
                stream.synchronize()
            except BaseException as e:  # noqa: BLE001 - reported below
                errors.append(e)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert errors == []
        for x, out in zip(inputs, outputs):
            assert torch.equal(out, x)


def test_destroy_while_another_thread_calls() -> None:
    comm = ncclkit.Communicator.init_rank(1, ncclkit.UniqueId.generate(), 0, device=0)
    x = random_input("float32", 1024, 0)
    outcome: list[str] = []

    def loop() -> None:
        try:
            while True:
                comm._handle.all_reduce(x.data_ptr(), x.data_ptr(), 1024, 7, 0, 0)
        except ValueError as e:
            outcome.append(str(e))

    t = threading.Thread(target=loop)
    t.start()
    time.sleep(0.2)
    comm.destroy()
    t.join(10)
    assert outcome == ["communicator has been destroyed"]
    torch.cuda.synchronize()
