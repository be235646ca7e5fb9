"""What this process can use of NCCL, asked from Python: ncclkit.nccl_features(), comm.supports(),
and the calls that need a newer NCCL, with the NCCL wheel the tests run with (no GPU needed)."""

from __future__ import annotations

from types import SimpleNamespace

import ncclkit
import pytest
from ncclkit import Communicator

BUILD = ncclkit.build_info()
HEADER = BUILD["nccl"]["version_code"]


def test_every_feature_of_the_table_is_there_by_its_python_name() -> None:
    features = ncclkit.nccl_features()
    assert list(features) == [name.lower() for name in BUILD["nccl"]["features"]]
    shrink = features["comm_shrink"]
    assert (shrink.since, shrink.entry_points) == ("2.27.0", ("ncclCommShrink",))


def test_supports_answers_for_the_loaded_nccl() -> None:
    comm = Communicator(SimpleNamespace(valid=True))
    features = ncclkit.nccl_features()
    assert comm.supports("comm_shrink") is features["comm_shrink"].available
    if ncclkit.get_version() >= HEADER:  # the header's own NCCL has whatever is compiled in, but
        # what its library does not define (2.32.3 declares ncclCftBarrierCreateRequirement only)
        lacking = {f.name: f.reason for f in features.values() if f.compiled and not f.available}
        assert all(reason.startswith("the NCCL loaded lacks ") for reason in lacking.values()), lacking


def test_supports_names_the_features_it_knows() -> None:
    comm = Communicator(SimpleNamespace(valid=True))
    with pytest.raises(ValueError, match=r"^feature must be one of all_to_all, avg, bf16, .*, got 'teleport'$"):
        comm.supports("teleport")


def test_a_call_the_header_lacked_says_it_is_not_compiled_in() -> None:
    comm = Communicator(SimpleNamespace(valid=True))  # a build against NCCL < 2.28.7 binds no revoke
    with pytest.raises(ncclkit.NcclUnavailableError) as error:
        comm.revoke()
    assert str(error.value).startswith(
        f"comm_revoke came with NCCL 2.28.7, and ncclkit was built against the header of NCCL "
        f"{BUILD['nccl']['version']}, so it is not compiled in. Fix: rebuild ncclkit against NCCL 2.28.7 or newer"
    )
    assert (error.value.name, error.value.since, error.value.header) == (
        "comm_revoke",
        "2.28.7",
        BUILD["nccl"]["version"],
    )


@pytest.mark.skipif(not ncclkit.nccl_features()["params"].available, reason="needs NCCL 2.30.4 or newer, loaded")
def test_nccl_parameters_of_this_process() -> None:
    parameters = ncclkit.nccl_parameters()
    assert isinstance(parameters["NCCL_DEBUG"], str)
    assert all(name.startswith("NCCL_") for name in parameters)
