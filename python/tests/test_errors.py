"""Each exit code of authc is an exception of its own, with authc's
message: from the real daemon where a test can make it fail that way, and
for every code from a stand-in authc that exits with it."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Dict

import pytest

import authd
import harness
from conftest import use

# The exception of each exit code.
EXCEPTIONS = {
    1: authd.Error,
    2: authd.UsageError,
    3: authd.LoginRequired,
    4: authd.DaemonNotRunning,
    5: authd.ProviderUnavailable,
    6: authd.ProfileNotFound,
    7: authd.LoginFailed,
    8: authd.KeyringLocked,
    9: authd.PermissionDenied,
    10: authd.TokenLifetimeTooShort,
    130: authd.Interrupted,
    143: authd.Interrupted,
}


def exit_codes(bins: Dict[str, str]) -> Dict[int, str]:
    """authc's exit codes, from package api's table, with their meanings."""
    out = subprocess.run([bins["pyharness"], "exit-codes"], capture_output=True, text=True, check=True).stdout
    codes: Dict[int, str] = {}
    for row in json.loads(out):
        codes.setdefault(row["exit"], row["meaning"])
    return codes


def test_every_exit_code_has_its_exception(bins: Dict[str, str]) -> None:
    codes = exit_codes(bins)
    assert set(codes) - {0} == set(EXCEPTIONS), "a new exit code of authc needs its exception (and a row here)"
    for cls in EXCEPTIONS.values():
        assert issubclass(cls, authd.Error)
    assert issubclass(authd.AuthcNotFound, authd.Error)


def stand_in(tmp_path: Path, script: str) -> str:
    path = tmp_path / "authc"
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


@pytest.mark.parametrize("code", sorted(EXCEPTIONS))
def test_exit_code_maps_to_exception(code: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stand-in authc (what the real one cannot be made to do here: the
    socket of another user, as root) exits with code and authc's kind of
    error line."""
    monkeypatch.setenv("AUTHD_AUTHC", stand_in(tmp_path, f"echo 'Waiting...' >&2\necho 'authc: it went wrong: {code}' >&2\nexit {code}\n"))
    with pytest.raises(EXCEPTIONS[code]) as e:
        authd.token()
    assert e.value.exit_code == code
    assert e.value.message == f"it went wrong: {code}"
    assert type(e.value) is EXCEPTIONS[code]


def test_signal_ended_authc_is_interrupted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTHD_AUTHC", stand_in(tmp_path, "kill -TERM $$\n"))
    with pytest.raises(authd.Interrupted) as e:
        authd.token()
    assert e.value.exit_code == 143 and "SIGTERM" in e.value.message


def test_config_problems_keep_their_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTHD_AUTHC", stand_in(tmp_path, "printf 'authc: config.toml:3: bad\\n  config.toml:4: worse\\n' >&2\nexit 6\n"))
    with pytest.raises(authd.ProfileNotFound) as e:
        authd.token()
    assert e.value.message == "config.toml:3: bad\n  config.toml:4: worse"


def test_login_required(logged_in: harness.World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    use(monkeypatch, logged_in)
    authd.token()
    authd.logout()
    assert "Logged out of work." in capsys.readouterr().err
    with pytest.raises(authd.LoginRequired) as e:
        authd.token()  # the cache went with the logout
    assert e.value.exit_code == 3 and "login required" in e.value.message
    assert "authd.login()" in str(e.value)


def test_daemon_not_running(world: harness.World, monkeypatch: pytest.MonkeyPatch) -> None:
    use(monkeypatch, world)
    world.stop_daemon()
    with pytest.raises(authd.DaemonNotRunning) as e:
        authd.token()
    assert "cannot reach authd" in e.value.message


def test_provider_unavailable(world: harness.World, monkeypatch: pytest.MonkeyPatch) -> None:
    use(monkeypatch, world)
    assert world.provider.stdin is not None
    world.provider.stdin.close()
    world.provider.wait(timeout=10)
    with pytest.raises(authd.ProviderUnavailable) as e:
        authd.login(device=True)
    assert e.value.reason == "IDP_UNAVAILABLE" and "identity provider unavailable" in e.value.message


def test_profile_not_found(world: harness.World, monkeypatch: pytest.MonkeyPatch) -> None:
    use(monkeypatch, world)
    with pytest.raises(authd.ProfileNotFound) as e:
        authd.token("nope")
    assert 'no profile "nope"' in e.value.message
    with pytest.raises(authd.ProfileNotFound) as e:
        authd.login("nope")
    assert e.value.reason == "PROFILE_NOT_FOUND"


def test_keyring_locked(bins: Dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    world = harness.World(bins, passphrase=False)
    try:
        use(monkeypatch, world)
        with pytest.raises(authd.KeyringLocked) as e:
            authd.token()
        assert "passphrase" in e.value.message
    finally:
        world.close()


def test_authc_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without authc, importing works and each call says how to install it."""
    monkeypatch.delenv("AUTHD_AUTHC", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    r = subprocess.run([sys.executable, "-c", "import authd"], capture_output=True, text=True, env={**os.environ})
    assert r.returncode == 0, r.stderr
    for call in (authd.token, authd.login, authd.logout, authd.inspect):
        with pytest.raises(authd.AuthcNotFound) as e:
            call()
        assert "authc is not on PATH" in e.value.message and "go install authd.dev/authd/cmd/authc@latest" in e.value.message
    monkeypatch.setenv("AUTHD_AUTHC", str(tmp_path / "nowhere"))
    with pytest.raises(authd.AuthcNotFound) as e:
        authd.token()
    assert "AUTHD_AUTHC names" in e.value.message
