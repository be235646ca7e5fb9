"""ncclkit.load()'s and load_inline()'s arguments, the project they generate and where they keep
builds: checked before anything is built (tests/packaging/test_load.py builds)."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import ncclkit
import pytest
from ncclkit import jit
from ncclkit.jit_project import Options, build_options, cmakelists


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "ext.cpp"
    path.write_text("int f() { return 1; }\n")
    return path


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"name": 3}, TypeError, "ncclkit.load: name must be a string, got int"),
        ({"name": "my-ext"}, ValueError, "ncclkit.load: name 'my-ext' must be a Python identifier"),
        ({"sources": "ext.cpp"}, TypeError, "ncclkit.load: sources must be a list of strings, got str"),
        ({"sources": [1]}, TypeError, "ncclkit.load: sources[0] must be a string, got int"),
        ({"sources": ["missing.cpp"]}, ValueError, "ncclkit.load: sources[0] 'missing.cpp' is not a file"),
        ({"nccl": "yes"}, TypeError, "ncclkit.load: nccl must be True or False, got 'yes'"),
        ({"stable_abi": True}, ValueError, "stable_abi=True builds against torch's stable ABI; add torch=True"),
        (
            {"torch": True, "stable_abi": True, "pybind11": True},
            ValueError,
            "stable_abi=True and pybind11=True exclude each other",
        ),
        ({"torch_target": "2.10"}, ValueError, "torch_target is the stable ABI's target release; add stable_abi=True"),
        (
            {"torch": True, "stable_abi": True, "torch_target": "2"},
            ValueError,
            "torch_target must be a torch release 'X.Y' (e.g. '2.10'), got '2'",
        ),
        ({"archs": 90}, TypeError, "ncclkit.load: archs must be a list of strings, got int"),
        ({"archs": []}, ValueError, "ncclkit.load: archs names no arch"),
        ({"features": ["WINDOW_REGISTRATION"]}, ValueError, "features are NCCL features; add nccl=True"),
        ({"cflags": "-O3"}, TypeError, "ncclkit.load: cflags must be a list of strings, got str"),
        ({"cflags": ['-DX="1"']}, ValueError, "ncclkit.load: cflags[0] '-DX=\"1\"' holds one of"),
        ({"ldflags": ["-Wl,$ORIGIN"]}, ValueError, "ncclkit.load: ldflags[0]"),
        ({"verbose": 1}, TypeError, "ncclkit.load: verbose must be True or False, got 1"),
        ({"colour": "red"}, TypeError, "ncclkit.load: unknown option colour; the options are nccl, torch,"),
    ],
)
def test_bad_arguments_are_refused_before_building(
    source: Path, tmp_path: Path, arguments: dict, error: type, message: str
) -> None:
    call = {"name": "ext", "sources": [source], "cache_dir": tmp_path / "cache", **arguments}
    with pytest.raises(error) as raised:
        ncclkit.load(**call)
    assert message in str(raised.value)
    assert not (tmp_path / "cache").exists()


def test_a_source_of_another_language_and_headers_alone_are_refused(tmp_path: Path) -> None:
    (tmp_path / "ext.rs").write_text("")
    (tmp_path / "ext.h").write_text("")
    with pytest.raises(ValueError, match=r"sources\[0\] 'ext.rs' is no C, C\+\+ or CUDA source or header"):
        ncclkit.load("ext", [tmp_path / "ext.rs"], cache_dir=tmp_path)
    with pytest.raises(ValueError, match="sources names no file to compile"):
        ncclkit.load("ext", [tmp_path / "ext.h"], cache_dir=tmp_path)


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"cpp_source": 3}, TypeError, "ncclkit.load_inline: cpp_source must be a string, got int"),
        ({"cpp_source": ""}, ValueError, "cpp_source and cuda_source are both empty"),
        ({"functions": "f"}, TypeError, "functions must be a list of names or a dict of names and docstrings"),
        ({"functions": ["f()"]}, ValueError, "functions: 'f()' is not the name of a C++ function"),
        ({"functions": []}, ValueError, "functions names nothing to bind, and without torch=True"),
        ({"pybind11": True}, TypeError, "pybind11 is not an option here"),
    ],
)
def test_bad_inline_arguments_are_refused(tmp_path: Path, arguments: dict, error: type, message: str) -> None:
    call = {
        "name": "ext",
        "cpp_source": "int f() { return 1; }",
        "functions": ["f"],
        "cache_dir": tmp_path,
        **arguments,
    }
    with pytest.raises(error) as raised:
        ncclkit.load_inline(**call)
    assert message in str(raised.value)


def test_the_project_is_one_ncclkit_add_extension_call(tmp_path: Path) -> None:
    options = build_options(
        "test",
        nccl=True,
        torch=True,
        stable_abi=True,
        torch_target="2.10",
        archs=["80", "90a"],
        features=["COMM_SHRINK"],
        include_dirs=[tmp_path],
        libraries=["m"],
        cflags=["-O3", "-DLIST=a,b"],
        cuda_cflags=["--use_fast_math"],
        ldflags=["-Wl,--no-undefined"],
    )
    text = cmakelists("ext", [tmp_path / "a.cpp", tmp_path / "b.cu"], options)
    assert (
        f'ncclkit_add_extension(ext NO_INSTALL SOURCES "{tmp_path}/a.cpp" "{tmp_path}/b.cu" NCCL TORCH STABLE_ABI '
        'TORCH_TARGET 2.10 ARCHS "80;90a" FEATURES "COMM_SHRINK")'
    ) in text
    assert f'target_include_directories(ext PRIVATE "{tmp_path}")' in text
    assert 'target_link_libraries(ext PRIVATE "m")' in text
    # one generator expression a flag, a comma in it kept from ending it
    assert (
        'target_compile_options(ext PRIVATE "$<$<COMPILE_LANGUAGE:CXX>:-O3>" '
        '"$<$<COMPILE_LANGUAGE:CXX>:-DLIST=a$<COMMA>b>")'
    ) in text
    assert 'target_compile_options(ext PRIVATE "$<$<COMPILE_LANGUAGE:CUDA>:--use_fast_math>")' in text
    assert 'target_link_options(ext PRIVATE "-Wl,--no-undefined")' in text


def test_pybind11_is_the_default_without_torch_only() -> None:
    assert build_options("test") == Options(pybind11=True)
    assert build_options("test", torch=True).pybind11 is False
    plain = cmakelists("ext", [Path("/a.cpp")], build_options("test", torch=True))
    bound = cmakelists("ext", [Path("/a.cpp")], build_options("test", torch=True, pybind11=True))
    assert "PYBIND11" not in plain
    assert 'SOURCES "/a.cpp" TORCH PYBIND11)' in bound


def test_the_cache_is_the_argument_else_the_environment_else_the_users(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NCCLKIT_EXTENSIONS_DIR", str(tmp_path / "env"))
    assert jit.cache_root(tmp_path / "given") == tmp_path / "given"
    assert jit.cache_root() == tmp_path / "env"
    monkeypatch.delenv("NCCLKIT_EXTENSIONS_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert jit.cache_root() == tmp_path / "xdg" / "ncclkit" / "extensions"


def test_the_key_follows_the_sources_the_options_and_the_toolchain(source: Path) -> None:
    tools = jit.toolchain(torch=False)
    key = jit.build_key("ext", [source], Options(), tools)
    assert key == jit.build_key("ext", [source], Options(), jit.toolchain(torch=False))
    assert key != jit.build_key("ext", [source], Options(nccl=True), tools)
    assert key != jit.build_key("ext", [source], Options(), {**tools, "environment": {"NCCLKIT_CUDA_ARCHS": "90"}})
    source.write_text("int f() { return 2; }\n")
    assert key != jit.build_key("ext", [source], Options(), tools)


def test_the_toolchain_leaves_out_what_only_says_where_the_cache_is(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NCCLKIT_CUDA_ARCHS", "90")
    monkeypatch.setenv("NCCLKIT_EXTENSIONS_DIR", "/elsewhere")
    monkeypatch.setenv("HOME_OF_SOMETHING", "x")
    environment = jit.toolchain(torch=False)["environment"]
    assert environment["NCCLKIT_CUDA_ARCHS"] == "90"
    assert "NCCLKIT_EXTENSIONS_DIR" not in environment
    assert "HOME_OF_SOMETHING" not in environment


def test_a_directory_named_cmake_is_not_taken_for_the_cmake_package(monkeypatch: pytest.MonkeyPatch) -> None:
    """A checkout's cmake/ on sys.path, and no cmake package, imports as an empty namespace package."""
    monkeypatch.setitem(sys.modules, "cmake", types.ModuleType("cmake"))
    monkeypatch.setattr(jit.shutil, "which", lambda tool: f"/usr/bin/{tool}")
    assert jit._cmake() == "/usr/bin/cmake"
