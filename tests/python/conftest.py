from __future__ import annotations

import importlib
import json
import sys
import sysconfig
from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture
def install_extension(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[dict], Path]:
    """Installs mypkg/_myext<suffix> with `record` as its build record, importable on sys.path.

    The extension file is empty: the check reads the record beside it and never loads it.
    """

    def install(record: dict) -> Path:
        package = tmp_path / "mypkg"
        package.mkdir()
        (package / "__init__.py").write_text("")
        (package / f"_myext{sysconfig.get_config_var('EXT_SUFFIX')}").write_bytes(b"")
        (package / "_myext.build.json").write_text(json.dumps(record))
        monkeypatch.syspath_prepend(str(tmp_path))
        monkeypatch.delitem(sys.modules, "mypkg", raising=False)
        importlib.invalidate_caches()
        return package

    return install
