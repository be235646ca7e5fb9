"""ncclConfig_t and ncclCollConfig_t fields by name, without a GPU: what reaches the bindings, and
the error for a name NCCL has no field for, a value of the wrong kind, a field the header lacked
and a field the loaded NCCL lacks."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from ncclkit import CollectiveConfig, NcclUnavailableError, _comm
from ncclkit.config import COLLECTIVE_FIELDS, COMM_FIELDS, checked_fields


def loaded(code: int) -> SimpleNamespace:
    """The bindings as checked_fields asks them, with an NCCL of version `code` loaded."""
    return SimpleNamespace(get_version=lambda: code, library_path=lambda: "/opt/nccl/libnccl.so.2")


def test_fields_reach_the_bindings_as_ints_and_strs() -> None:
    given = {
        "blocking": False,
        "min_ctas": 2,
        "net_name": "IB",
        "cta_policy": "zero",
        "host_cft_mode": "fallback",
        "nvls_host_mode": 3,  # disable_transport | disable_symmetric_multimem
        "split_share": None,  # unset
    }
    fields = checked_fields(given, COMM_FIELDS, COMM_FIELDS, loaded(23206), "init_rank")
    assert fields == [
        ("blocking", 0),
        ("min_ctas", 2),
        ("net_name", "IB"),
        ("cta_policy", 2),
        ("host_cft_mode", 3),
        ("nvls_host_mode", 3),
    ]


def test_every_field_this_header_has_is_known() -> None:
    """The bindings' fields are a prefix of the table, in its order: the header's own history."""
    assert list(COMM_FIELDS)[: len(_comm.CONFIG_FIELDS)] == _comm.CONFIG_FIELDS
    assert [name for name in COLLECTIVE_FIELDS if name in _comm.COLLECTIVE_CONFIG_FIELDS] == list(
        _comm.COLLECTIVE_CONFIG_FIELDS
    )


def test_unknown_names_are_a_type_error_naming_each() -> None:
    with pytest.raises(TypeError, match=r"^split got unknown config field\(s\) 'minctas', 'bogus'; NCCL's are: "):
        checked_fields({"minctas": 1, "blocking": True, "bogus": 0}, COMM_FIELDS, COMM_FIELDS, loaded(23206), "split")


def test_a_field_the_loaded_nccl_lacks_is_named_with_its_release() -> None:
    """NCCL 2.27.7 reads the struct it knows and would ignore nvls_host_mode: an error, not a no-op."""
    assert checked_fields({"comm_name": "tp"}, COMM_FIELDS, COMM_FIELDS, loaded(22707), "init_rank") == [
        ("comm_name", "tp")
    ]
    with pytest.raises(
        NcclUnavailableError, match=r"^config field nvls_host_mode came with NCCL 2\.32\.0, and the NCCL"
    ) as info:
        checked_fields({"nvls_host_mode": "disable"}, COMM_FIELDS, COMM_FIELDS, loaded(22707), "init_rank")
    assert (info.value.loaded, info.value.library) == ("2.27.7", "/opt/nccl/libnccl.so.2")
    with pytest.raises(NcclUnavailableError, match=r"graph_stream_ordering came with NCCL 2\.30\.5"):
        checked_fields({"graph_stream_ordering": 1}, COMM_FIELDS, COMM_FIELDS, loaded(23004), "init_rank")


def test_a_field_the_header_lacked_says_to_rebuild() -> None:
    with pytest.raises(
        NcclUnavailableError, match=r"^config field comm_name came with NCCL 2\.27\.0, and ncclkit was built"
    ):
        checked_fields({"comm_name": "tp"}, COMM_FIELDS, ["blocking"], loaded(23206), "init_rank")


@pytest.mark.parametrize(
    ("given", "error", "message"),
    [
        ({"blocking": 1}, TypeError, r"^config field blocking must be True or False, got int 1$"),
        ({"nvls_ctas": True}, TypeError, r"^config field nvls_ctas must be an int, got bool True$"),
        ({"nvls_ctas": 0}, ValueError, r"^config field nvls_ctas must be in \[1, 2147483647\], got 0$"),
        ({"traffic_class": 2**31}, ValueError, r"^config field traffic_class must be in \[0, 2147483647\]"),
        (
            {"cta_policy": 1.0},
            TypeError,
            r"^config field cta_policy must be one of default, efficiency, zero or an int",
        ),
        ({"nvls_host_mode": "off"}, ValueError, r"^config field nvls_host_mode must be one of enable, disable_tr"),
        ({"comm_name": b"tp"}, TypeError, r"^config field comm_name must be a str, got bytes b'tp'$"),
    ],
)
def test_values_of_the_wrong_kind(given: dict, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        checked_fields(given, COMM_FIELDS, COMM_FIELDS, loaded(23206), "init_rank")


@pytest.mark.skipif(not _comm.COLLECTIVE_CONFIG_FIELDS, reason="built against an NCCL header older than 2.31")
def test_collective_config_checks_its_fields_once() -> None:
    config = CollectiveConfig(max_ctas=4, alg_selection="ring", force_alg_selection=False, user_profiler_tag=7)
    assert config.fields == [
        ("max_ctas", 4),
        ("alg_selection", "ring"),
        ("force_alg_selection", 0),
        ("user_profiler_tag", 7),
    ]
    assert (
        repr(config) == "CollectiveConfig(max_ctas=4, alg_selection='ring', force_alg_selection=0, user_profiler_tag=7)"
    )
    with pytest.raises(
        TypeError, match=r"^CollectiveConfig got unknown config field\(s\) 'blocking'; NCCL's are: min_ctas"
    ):
        CollectiveConfig(blocking=True)
    with pytest.raises(ValueError, match=r"^config field user_profiler_tag must be in \[0, 9223372036854775807\]"):
        CollectiveConfig(user_profiler_tag=2**63)


@pytest.mark.skipif(
    "launch_completion_event" not in _comm.COLLECTIVE_CONFIG_FIELDS, reason="NCCL header older than 2.32"
)
def test_a_launch_completion_event_is_an_event_or_its_handle() -> None:
    assert CollectiveConfig(launch_completion_event=SimpleNamespace(cuda_event=0x1234)).fields == [
        ("launch_completion_event", 0x1234)
    ]
    assert CollectiveConfig(launch_completion_event=SimpleNamespace(ptr=0x99)).fields == [
        ("launch_completion_event", 0x99)
    ]
    with pytest.raises(TypeError, match=r"^config field launch_completion_event must be a torch\.cuda\.Event, a CuPy"):
        CollectiveConfig(launch_completion_event="event")
    with pytest.raises(ValueError, match=r"has no CUDA event yet: record\(\) a torch\.cuda\.Event once"):
        CollectiveConfig(launch_completion_event=SimpleNamespace(cuda_event=0))  # torch's, before its first record
    event = SimpleNamespace(cuda_event=0x1234)
    config = CollectiveConfig(launch_completion_event=event)
    del event
    assert config._keep.cuda_event == 0x1234  # NCCL records into it while the config is used
