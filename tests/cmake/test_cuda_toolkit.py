"""NcclkitCudaToolkit.cmake: a project that enables CXX alone and find_package(ncclkit)s compiles
with NVIDIA's PyPI compiler wheels on a machine whose toolkit install is hidden; a tree that lacks
a wheel or mixes releases, and a compiler that is not the one asked for, are errors that say so."""

from __future__ import annotations

from pathlib import Path

import pypi_toolkit
import pytest
from consumer_project import AVAILABLE, configure

pytestmark = pytest.mark.skipif(not AVAILABLE, reason="needs cmake and the CUDA toolkit's nvcc")


@pytest.fixture(scope="module")
def pypi_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = tmp_path_factory.mktemp("pypi-toolkit")
    pypi_toolkit.install(site)
    return site


def fake_tree(site: Path, versions: dict[str, str]) -> Path:
    """site/nvidia/cu13 with each wheel's file and dist-info, of the versions given."""
    files = pypi_toolkit.WHEEL_FILES
    tree = site / "nvidia" / "cu13"
    for name, version in versions.items():
        path = tree / files[name]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")
        path.chmod(0o755)
        (site / f"{name.replace('-', '_')}-{version}.dist-info").mkdir()
    return tree


def pypi_configure(tmp_path: Path, site: Path, **env: str):
    hidden = pypi_toolkit.hidden_toolkit_environment(PYTHONPATH=str(site), NCCLKIT_CUDA_TOOLKIT="pypi")
    return configure(tmp_path, languages="CXX", nvcc=None, NCCLKIT_CUDA_ARCHS="90", **{**hidden, **env})


def test_a_consumer_builds_with_the_pypi_toolkit(tmp_path: Path, pypi_site: Path) -> None:
    run = pypi_configure(tmp_path, pypi_site)
    assert run.error == "", run.log[-3000:]
    assert f"CUDA toolkit: NVIDIA's PyPI wheels at {pypi_site}/nvidia/cu13" in run.log
    view = run.build / "ncclkit-cuda"
    assert (next(view.iterdir()) / "lib64" / "libcudart.so").resolve() == next(
        (pypi_site / "nvidia" / "cu13" / "lib").glob("libcudart.so.13*")
    )
    built = run.compile()
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    toolkit = run.json("_probe.build.json")["cuda"]["toolkit"]
    assert toolkit["source"] == "pypi"
    assert sorted(w.split("==")[0] for w in toolkit["wheels"]) == sorted(pypi_toolkit.WHEELS)


def test_without_the_wheels_pypi_names_where_it_looked(tmp_path: Path) -> None:
    run = pypi_configure(tmp_path, tmp_path / "empty-site")
    assert "NCCLKIT_CUDA_TOOLKIT=pypi, and no nvidia/cu*/bin/nvcc is on the path of" in run.error
    assert f"{tmp_path}/empty-site" in run.error
    assert all(f"'{name}==13.0.*'" in run.error for name in pypi_toolkit.WHEELS)


def test_a_tree_of_mixed_releases_is_refused(tmp_path: Path) -> None:
    versions = dict.fromkeys(pypi_toolkit.WHEELS, "13.0.88") | {"nvidia-nvvm": "13.5.1"}
    fake_tree(tmp_path / "site", versions)
    run = pypi_configure(tmp_path, tmp_path / "site")
    assert "mixes releases" in run.error and "nvidia-nvvm==13.5.1" in run.error
    assert "install every one as '<name>==X.Y.*'" in run.error


def test_a_tree_without_a_wheel_names_it(tmp_path: Path) -> None:
    versions = {name: "13.0.88" for name in pypi_toolkit.WHEELS if name != "nvidia-cuda-crt"}
    tree = fake_tree(tmp_path / "site", versions)
    run = pypi_configure(tmp_path, tmp_path / "site")
    assert f"the CUDA toolkit of PyPI wheels at {tree} lacks nvidia-cuda-crt" in run.error


def test_the_release_must_be_the_one_asked_for(tmp_path: Path) -> None:
    fake_tree(tmp_path / "site", dict.fromkeys(pypi_toolkit.WHEELS, "13.0.88"))
    run = pypi_configure(tmp_path, tmp_path / "site", NCCLKIT_CUDA_VERSION="13.2")
    assert "NCCLKIT_CUDA_VERSION=13.2, and the CUDA toolkit of PyPI wheels at" in run.error
    assert "is release 13.0" in run.error


def test_pypi_refuses_a_toolkit_install(tmp_path: Path) -> None:
    run = configure(tmp_path, languages="CXX", NCCLKIT_CUDA_TOOLKIT="pypi")
    assert "NCCLKIT_CUDA_TOOLKIT=pypi, and the CUDA compiler given is" in run.error
    assert "not one of NVIDIA's PyPI wheels" in run.error


def test_a_glibc_that_declares_rsqrt_asks_for_a_newer_cuda(tmp_path: Path) -> None:
    # glibc 2.42's math.h, in effect: rsqrt declared with noexcept, which CUDA 13.0's headers
    # (this machine's toolkit) conflict with.
    include = tmp_path / "include"
    include.mkdir()
    (include / "math.h").write_text(
        '#include_next <math.h>\nextern "C" double rsqrt(double __x) noexcept(true);\n'
        "#undef __GLIBC_MINOR__\n#define __GLIBC_MINOR__ 42\n"
    )
    run = configure(tmp_path, languages="CXX", CXXFLAGS=f"-isystem {include}")
    assert "cannot compile on this system" in run.error
    assert "math.h (glibc 2.42, as" in run.error and "crt/math_functions.h declares rsqrt" in run.error
    assert "NCCLKIT_CUDA_TOOLKIT=pypi NCCLKIT_CUDA_VERSION=13.2" in run.error
