"""A package named torch that says what a real one says to ncclkit_find_torch (its version, CUDA,
HIP, C++ ABI, CMake directory), with a CMake package of one empty target: configures against
torch releases and builds (ROCm, another CUDA, too old for the stable ABI) this machine lacks."""

from __future__ import annotations

from pathlib import Path

INIT = """\
from . import version, utils
__version__ = {version!r}
class _C:
    _GLIBCXX_USE_CXX11_ABI = True
"""
VERSION = "cuda = {cuda!r}\nhip = {hip!r}\n"
UTILS = "import os\ncmake_prefix_path = os.path.join(os.path.dirname(os.path.dirname(__file__)), 'share', 'cmake')\n"
CONFIG = """\
add_library(torch INTERFACE IMPORTED)
set(TORCH_LIBRARIES torch)
"""


def write(root: Path, version: str, *, cuda: str | None = None, hip: str | None = None) -> Path:
    """A fake torch `version` under root; returns root, the directory to put on PYTHONPATH."""
    package = root / "torch"
    (package / "utils").mkdir(parents=True)
    (package / "__init__.py").write_text(INIT.format(version=version))
    (package / "version.py").write_text(VERSION.format(cuda=cuda, hip=hip))
    (package / "utils" / "__init__.py").write_text(UTILS)
    config = package / "share" / "cmake" / "Torch"
    config.mkdir(parents=True)
    (config / "TorchConfig.cmake").write_text(CONFIG)
    return root


def record_of_installed(mode: str = "torch", target_version: str | None = None) -> dict:
    """The build record's "torch" of a build against the real torch installed here."""
    import torch

    return {
        "mode": mode,
        "version": torch.__version__,
        "cuda": torch.version.cuda,
        "cxx11_abi": int(torch._C._GLIBCXX_USE_CXX11_ABI),
        "target_version": target_version,
    }
