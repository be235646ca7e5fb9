"""NCCL's parameters and encryption setting through the NCCL this process loads, no GPU needed:
each case in a child process, whose NCCL has read nothing yet."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import ncclkit
import pytest


def run(code: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def needs(feature: str) -> None:
    found = ncclkit.nccl_features()[feature]
    if not found.available:
        pytest.skip(f"{feature}: {found.reason}")


def test_parameters_by_name_and_set_before_nccl_reads_them() -> None:
    needs("params")
    lines = run(
        """
        import ncclkit
        ncclkit.set_nccl_parameter("NCCL_IB_QPS_PER_CONNECTION", 4)
        listed = ncclkit.nccl_parameters()  # reads every parameter: none can be set after
        print(all(ncclkit.nccl_parameter(name) == value for name, value in listed.items()))
        print(listed["NCCL_IB_QPS_PER_CONNECTION"])
        try:
            ncclkit.set_nccl_parameter("NCCL_IB_QPS_PER_CONNECTION", 2)
        except RuntimeError as error:
            print("refused:", error)
        import os
        print(os.environ["NCCL_IB_QPS_PER_CONNECTION"])
        try:
            ncclkit.nccl_parameter("NCCL_NO_SUCH_PARAMETER")
        except ncclkit.NcclError as error:
            print(error.call, error.name)
        """
    )
    assert lines[0] == "True"
    assert lines[1] == "4"
    assert lines[2].startswith("refused: NCCL_IB_QPS_PER_CONNECTION='2' was set in the environment, and NCCL still")
    assert lines[3] == "4"  # put back: the environment says what NCCL has
    assert lines[4] == "ncclParamGetParameter ncclInvalidArgument"


def test_encryption_takes_a_long_enough_key() -> None:
    needs("encryption")
    lines = run(
        """
        import ncclkit
        ncclkit.set_encryption("k" * 32)
        ncclkit.set_encryption(None)
        try:
            ncclkit.set_encryption("short")
        except ncclkit.NcclError as error:
            print(error.last_error)
        """
    )
    assert lines == ["ncclSetEncryption: config->psk must be at least 32 bytes"]
