from __future__ import annotations

import pickle

from ncclkit import CommunicatorAbortedError, CompatibilityError, ExtensionBuildError, NcclError, NcclTimeoutError
from ncclkit.compat import Problem


def test_nccl_error_carries_what_nccl_said() -> None:
    error = NcclError(
        "ncclCommInitRankConfig", 4, "ncclInvalidArgument", "invalid argument", "Invalid rank requested : 5/2"
    )
    assert (error.call, error.code, error.name, error.last_error) == (
        "ncclCommInitRankConfig",
        4,
        "ncclInvalidArgument",
        "Invalid rank requested : 5/2",
    )
    assert str(error) == (
        "ncclCommInitRankConfig failed: ncclInvalidArgument (4): invalid argument\n"
        "NCCL's last error: Invalid rank requested : 5/2"
    )


def test_nccl_error_pickles() -> None:
    error = pickle.loads(pickle.dumps(NcclError("ncclAllReduce", 2, "ncclSystemError", "system error")))
    assert str(error) == "ncclAllReduce failed: ncclSystemError (2): system error"


def test_compatibility_error_lists_problems() -> None:
    error = CompatibilityError([Problem("a", "b", "c", "d")])
    assert str(error).startswith("ncclkit does not match this machine:\n- a: found b; expected c. Fix: d\n")


def test_compatibility_error_of_an_extension_names_it_and_pickles() -> None:
    error = CompatibilityError([Problem("a", "b", "c", "d")], "mypkg._myext")
    assert str(error).startswith("mypkg._myext does not match this machine:\n")
    assert "ncclkit info --extension mypkg._myext" in str(error)
    copy = pickle.loads(pickle.dumps(error))
    assert (str(copy), copy.module, copy.problems) == (str(error), "mypkg._myext", error.problems)


def test_wait_errors_say_what_ended_the_wait_and_pickle() -> None:
    timeout = pickle.loads(pickle.dumps(NcclTimeoutError("ncclCommSplit", 2.5)))
    assert isinstance(timeout, TimeoutError)
    assert (timeout.call, timeout.seconds) == ("ncclCommSplit", 2.5)
    assert str(timeout).startswith("ncclCommSplit did not finish within 2.5 s (the communicator's timeout)")
    aborted = pickle.loads(pickle.dumps(CommunicatorAbortedError("wait")))
    assert str(aborted) == "wait ended: the communicator was aborted (abort() from another thread)"


def test_extension_build_error_keeps_the_output_and_pickles() -> None:
    error = pickle.loads(pickle.dumps(ExtensionBuildError("the build step failed", "x.cpp:1: error: no", "/tmp/log")))
    assert str(error) == "the build step failed"
    assert (error.output, error.log) == ("x.cpp:1: error: no", "/tmp/log")
