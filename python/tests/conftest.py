"""Fixtures: the binaries (built once per run, or taken from
$AUTHD_TEST_BIN), Worlds of provider and daemon, and the process
environment the package reads."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Dict, Iterator

import pytest

import harness


@pytest.fixture(scope="session")
def bins() -> Iterator[Dict[str, str]]:
    prebuilt = os.environ.get("AUTHD_TEST_BIN")
    if prebuilt:
        yield {name: os.path.join(prebuilt, name) for name in ("authd", "authc", "browserdriver", "pyharness")}
        return
    with tempfile.TemporaryDirectory(prefix="authd-py-bin-") as d:
        yield harness.build(Path(d))


@pytest.fixture
def world(bins: Dict[str, str]) -> Iterator[harness.World]:
    """A provider and a daemon, nobody logged in."""
    w = harness.World(bins)
    try:
        yield w
    finally:
        w.close()


@pytest.fixture(scope="module")
def shared_world(bins: Dict[str, str]) -> Iterator[harness.World]:
    """A provider and a daemon with the user logged in, shared by the
    tests of a module that leave the session as they found it."""
    if not harness.have_chromium():
        pytest.skip(f"no Chromium at {harness.CHROMIUM} (set AUTHD_CHROMIUM) to log in with")
    w = harness.World(bins)
    try:
        w.login()
        yield w
    finally:
        w.close()


@pytest.fixture
def logged_in(world: harness.World) -> harness.World:
    """world, with the user logged in by the browser flow."""
    if not harness.have_chromium():
        pytest.skip(f"no Chromium at {harness.CHROMIUM} (set AUTHD_CHROMIUM) to log in with")
    world.login()
    return world


@pytest.fixture
def chromium() -> None:
    if not harness.have_chromium():
        pytest.skip(f"no Chromium at {harness.CHROMIUM} (set AUTHD_CHROMIUM)")


def use(monkeypatch: pytest.MonkeyPatch, world: harness.World) -> None:
    """Points this process's environment, which the package reads, at world."""
    for k in list(os.environ):
        if k.startswith("AUTHD_") or k in ("BROWSER", "DISPLAY", "WAYLAND_DISPLAY"):
            monkeypatch.delenv(k)
    for k, v in world.vars.items():
        monkeypatch.setenv(k, v)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, shared_world: harness.World) -> harness.World:
    """The module's shared, logged-in world, in this process's environment."""
    use(monkeypatch, shared_world)
    return shared_world
