"""Build options as the PEP 517 hooks see them, before CMake runs."""

from __future__ import annotations

import os

ConfigSettings = dict[str, str | list[str]] | None


def build_option(name: str, config_settings: ConfigSettings, default: str) -> str:
    """A CMake option's value: ``-C cmake.define.NAME=...`` first, then the environment.

    This is the precedence cmake/NcclkitOptions.cmake gives the cache over the environment.
    """
    value = (config_settings or {}).get(f"cmake.define.{name}")
    if isinstance(value, list):
        value = value[-1]
    if value is None:
        value = os.environ.get(name)
    return value.strip() if value else default
