"""authd.token() against the real daemon: the token, its cache, static
tokens, and what it never holds."""

from __future__ import annotations

import json
import pickle
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import authd
import harness
from conftest import use


def test_token_is_the_daemons(env: harness.World) -> None:
    tok = authd.token()
    assert tok.access_token == env.issued()["access_tokens"][-1]
    assert tok.token_type == "Bearer"
    assert tok.authorization == "Bearer " + tok.access_token
    assert tok.profile == "work"
    assert "openid" in tok.scopes and isinstance(tok.scopes, tuple)
    assert tok.expiry is not None and tok.expiry.tzinfo is not None
    assert timedelta(minutes=3) < tok.expiry - datetime.now(timezone.utc) <= timedelta(minutes=5)
    assert timedelta(0) < tok.expires_in <= timedelta(minutes=5)
    # The names are those of authc token --json.
    printed = json.loads(env.authc("token", "--json").stdout)
    assert {"access_token", "token_type", "expiry", "scopes", "profile"} <= set(printed)
    assert authd.token("work").access_token == tok.access_token


def test_token_shows_no_credential(env: harness.World) -> None:
    tok = authd.token()
    for shown in (repr(tok), str(tok), tok._repr_html_()):
        assert tok.access_token not in shown
    # It holds the access token, and nothing else of the session's.
    held = pickle.dumps(tok) + repr(vars(tok)).encode()
    for secret in env.secrets():
        assert secret.encode() not in held
    assert not hasattr(tok, "id_token") and not hasattr(tok, "refresh_token")


def test_cached_until_min_valid(env: harness.World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wrapper, log = harness.counting_authc(tmp_path, env.bins["authc"])
    monkeypatch.setenv("AUTHD_AUTHC", str(wrapper))
    first = authd.token()
    for _ in range(50):
        assert authd.token() is first
    assert len(harness.runs(log)) == 1, harness.runs(log)
    # A token about to come within min_valid of its expiry is asked for
    # again, and authd refreshes it: the fresh one lives 5m, this one
    # has less than that left.
    time.sleep(2)
    left = first.expires_in.total_seconds()
    again = authd.token(min_valid=timedelta(seconds=left + 1))
    assert len(harness.runs(log)) == 2 and "--min-valid=" in harness.runs(log)[1]
    assert again.access_token != first.access_token
    assert again.access_token == env.issued()["access_tokens"][-1]
    # ... and cached in turn, for the callers that ask for less.
    assert authd.token() is again
    assert len(harness.runs(log)) == 2


def test_min_valid_longer_than_tokens_live(env: harness.World) -> None:
    with pytest.raises(authd.TokenLifetimeTooShort) as e:
        authd.token(min_valid=timedelta(hours=1))
    assert e.value.exit_code == 10
    assert "--min-valid" in e.value.message or "min" in e.value.message


def test_scopes_and_audience(env: harness.World) -> None:
    narrow = authd.token(scopes=["openid"])
    assert narrow.scopes == ("openid",)
    assert narrow.access_token != authd.token().access_token
    assert authd.token(scopes="openid") is narrow
    with pytest.raises(authd.Error) as e:
        authd.token(scopes=["not-a-scope-of-the-profile"])
    assert e.value.exit_code == 1 and e.value.message


def test_arguments_checked(env: harness.World) -> None:
    with pytest.raises(ValueError):
        authd.token(min_valid=-1)
    with pytest.raises(TypeError):
        authd.token(min_valid="5m")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        authd.token(42)  # type: ignore[arg-type]
    # A profile that looks like a flag is a profile's name to authc.
    with pytest.raises(authd.ProfileNotFound):
        authd.token("--force-refresh")


def test_static_tokens(world: harness.World, monkeypatch: pytest.MonkeyPatch) -> None:
    """AUTHD_TOKEN and AUTHD_TOKEN_<PROFILE> work through authc, without
    the daemon, as they do in CI."""
    use(monkeypatch, world)
    world.stop_daemon()
    monkeypatch.setenv("AUTHD_TOKEN", "static-any")
    tok = authd.token()
    assert tok.access_token == "static-any" and tok.expiry is None
    monkeypatch.setenv("AUTHD_TOKEN_WORK", "static-work")
    assert authd.token("work").access_token == "static-work"
    assert authd.token().access_token == "static-work"  # work is the default profile
    # A JWT's expiry is read from it.
    jwt = "e30.eyJleHAiOjQxMDI0NDQ4MDB9.c2ln"  # {"exp": 4102444800}: 2100-01-01
    monkeypatch.setenv("AUTHD_TOKEN_WORK", jwt)
    assert authd.token().expiry == datetime(2100, 1, 1, tzinfo=timezone.utc)
    monkeypatch.delenv("AUTHD_TOKEN_WORK")
    monkeypatch.delenv("AUTHD_TOKEN")
    with pytest.raises(authd.DaemonNotRunning):
        authd.token()


def test_token_never_asks_for_id_token() -> None:
    """The package never passes --id-token to authc."""
    src = Path(authd.__file__).parent
    for f in src.glob("*.py"):
        assert "--id-token" not in f.read_text(), f
