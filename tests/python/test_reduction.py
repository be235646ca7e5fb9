"""premul_sum without a GPU: the host scalar's bytes in each dtype, checked against numbers whose
encodings are known, and the errors for scales NCCL cannot take."""

from __future__ import annotations

import struct
from types import SimpleNamespace

import pytest
from ncclkit import PreMulSum, premul_sum
from ncclkit.buffers import Buffer
from ncclkit.reduction import host_bytes


@pytest.mark.parametrize(
    ("scale", "dtype", "expected"),
    [
        (0.5, "float32", struct.pack("<f", 0.5)),
        (0.1, "float64", struct.pack("<d", 0.1)),
        (-2.0, "float16", b"\x00\xc0"),  # sign, exponent 16, no mantissa
        (1.0, "bfloat16", b"\x80\x3f"),  # float32 0x3f800000's upper half
        (1 + 2**-8, "bfloat16", b"\x80\x3f"),  # a tie: rounds to the even mantissa, down
        (1 + 3 * 2**-8, "bfloat16", b"\x82\x3f"),  # a tie above an odd mantissa: up
        (3, "int32", struct.pack("<i", 3)),
        (4.0, "int64", struct.pack("<q", 4)),
        (255, "uint8", b"\xff"),
    ],
)
def test_host_scalars_in_the_data_type(scale: float, dtype: str, expected: bytes) -> None:
    assert host_bytes(scale, dtype) == expected


@pytest.mark.parametrize(
    ("scale", "dtype", "error", "message"),
    [
        (0.5, "int32", TypeError, r"^premul_sum over int32 data needs a whole scale, got 0\.5$"),
        (256, "uint8", ValueError, r"^premul_sum's scale 256 does not fit uint8$"),
        (-1, "uint32", ValueError, r"^premul_sum's scale -1 does not fit uint32$"),
        (1e6, "float16", ValueError, r"^premul_sum's scale 1000000\.0 does not fit float16$"),
        (1.0, "float8_e4m3fn", TypeError, r"^premul_sum over float8_e4m3fn data takes its scale as a one-element"),
    ],
)
def test_host_scalars_that_do_not_fit(scale: float, dtype: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        host_bytes(scale, dtype)


def test_scales_that_are_no_number() -> None:
    with pytest.raises(
        TypeError, match="^premul_sum's scale must be a number or a one-element device array, got a bool$"
    ):
        premul_sum(True)
    with pytest.raises(ValueError, match=r"^premul_sum's scale must be finite, got inf$"):
        premul_sum(float("inf"))
    op = premul_sum(0.25)
    assert premul_sum(op) is op
    assert repr(op) == "premul_sum(0.25)"


class Bindings:
    """ncclkit._comm's PreMulSum and DTYPES, recording what they are given."""

    DTYPES = {"float32": 7, "bfloat16": 9}

    class PreMulSum:
        on_host = staticmethod(lambda scalar, dtype: ("host", scalar, dtype))
        on_device = staticmethod(lambda address, dtype: ("device", address, dtype))


def data(dtype: str, count: int = 8) -> Buffer:
    return Buffer(0x7F0000000000, count, dtype, 0)


def test_a_device_scale_is_one_element_of_the_data_type() -> None:
    def device_scalar(scale: Buffer) -> Buffer:
        return scale

    assert PreMulSum(data("float32", 1)).native(Bindings, data("float32"), device_scalar) == (
        "device",
        0x7F0000000000,
        7,
    )
    assert PreMulSum(0.5).native(Bindings, data("bfloat16"), device_scalar) == ("host", b"\x00\x3f", 9)
    with pytest.raises(ValueError, match="^premul_sum's scale must hold one element, it holds 8$"):
        PreMulSum(data("float32")).native(Bindings, data("float32"), device_scalar)
    with pytest.raises(
        TypeError, match="^premul_sum's scale has dtype bfloat16, and the data float32: NCCL takes the same$"
    ):
        PreMulSum(data("bfloat16", 1)).native(Bindings, data("float32"), device_scalar)


def test_the_custom_all_reduce_plans_nccl_for_a_premul_sum() -> None:
    from ncclkit.custom_all_reduce import plan

    state = SimpleNamespace(reason=None, max_bytes=2**20, world_size=2)
    with pytest.raises(ValueError, match=r"custom all-reduce sums only \(op='sum'\), not op=premul_sum\(0\.5\)"):
        plan(state, "oneshot", dtype="float32", op=premul_sum(0.5), nbytes=1024)
    assert plan(state, "auto", dtype="float32", op=premul_sum(0.5), nbytes=1024)[0] == "nccl"
