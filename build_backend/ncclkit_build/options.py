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


def choice_option(name: str, config_settings: ConfigSettings, default: str, choices: tuple[str, ...]) -> str:
    """``build_option`` of an option with a fixed set of values (any case); another is an error."""
    value = build_option(name, config_settings, default).lower()
    if value not in choices:
        msg = f"{name}={value!r} is not one of: {', '.join(choices)}."
        raise RuntimeError(msg)
    return value
