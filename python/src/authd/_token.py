"""Access tokens: what authc hands out, and the process's cache of them."""

from __future__ import annotations

import html
import json
import math
import os
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Dict, Iterable, Optional, Tuple, Union

from . import _authc
from ._errors import Error

# Duration is how long a token must stay valid: a timedelta, or seconds.
Duration = Union[timedelta, int, float]

# DEFAULT_MIN_VALID is how long, at least, a token the cache hands out
# stays valid when the caller did not say: authd's own default, a minute,
# or a quarter of the tokens' lifetime when they live shorter than four.
DEFAULT_MIN_VALID = 60.0


@dataclass(frozen=True, eq=True, repr=False)
class Token:
    """An access token of a profile, as ``authc token --json`` gives it.

    ``access_token`` is the string to send (``Authorization:
    {token_type} {access_token}``, or :attr:`authorization`); ``expiry`` is
    an aware datetime in UTC, or None when the token does not say when it
    expires; ``scopes`` the scopes it was granted, when known.

    Its repr leaves the token out, so that a notebook that shows a Token
    shows no credential. It never holds an ID token or a refresh token.
    """

    access_token: str
    token_type: str = "Bearer"
    expiry: Optional[datetime] = None
    scopes: Tuple[str, ...] = ()
    profile: str = ""

    @property
    def authorization(self) -> str:
        """The value of the Authorization header that sends the token."""
        kind = "Bearer" if self.token_type.lower() in ("", "bearer") else self.token_type
        return f"{kind} {self.access_token}"

    @property
    def expires_in(self) -> Optional[timedelta]:
        """How long the token stays valid from now (negative once it
        expired), or None when it does not say."""
        if self.expiry is None:
            return None
        return self.expiry - datetime.now(timezone.utc)

    def __repr__(self) -> str:
        expiry = self.expiry.isoformat() if self.expiry else None
        return (
            f"Token(profile={self.profile!r}, token_type={self.token_type!r}, expiry={expiry!r}, "
            f"scopes={self.scopes!r}, access_token=<{len(self.access_token)} characters, not shown>)"
        )

    __str__ = __repr__

    def _repr_html_(self) -> str:
        rows = [
            ("profile", self.profile or "-"),
            ("token type", self.token_type),
            ("expires", _format_expiry(self.expiry)),
            ("scopes", " ".join(self.scopes) or "-"),
            ("access token", f"{len(self.access_token)} characters, not shown"),
        ]
        cells = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th><td style='text-align:left'>{html.escape(v)}</td></tr>"
            for k, v in rows
        )
        return f"<table class='authd-token'>{cells}</table>"


def _format_expiry(expiry: Optional[datetime]) -> str:
    if expiry is None:
        return "-"
    return expiry.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def parse_time(value: Any) -> Optional[datetime]:
    """Parses an RFC 3339 time of authc's JSON ("2024-05-01T12:00:00Z")."""
    if not isinstance(value, str) or not value:
        return None
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return t.astimezone(timezone.utc)


def token_from_json(text: str) -> Token:
    """Reads the output of ``authc token --json``. An ID token in it is
    dropped here: the package never asks for one, and never keeps one."""
    try:
        data = json.loads(text)
    except ValueError:
        raise Error("authc token --json printed no JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("access_token"), str) or not data["access_token"]:
        raise Error("authc token --json printed no access token")
    scopes = data.get("scopes") or ()
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        scopes = ()
    token_type = data.get("token_type")
    profile = data.get("profile")
    return Token(
        access_token=data["access_token"],
        token_type=token_type if isinstance(token_type, str) and token_type else "Bearer",
        expiry=parse_time(data.get("expiry")),
        scopes=tuple(scopes),
        profile=profile if isinstance(profile, str) else "",
    )


def seconds(d: Optional[Duration], what: str) -> Optional[float]:
    """Returns a duration in seconds, or None."""
    if d is None:
        return None
    if isinstance(d, timedelta):
        s = d.total_seconds()
    elif isinstance(d, (int, float)) and not isinstance(d, bool):
        s = float(d)
    else:
        raise TypeError(f"{what} must be a timedelta or a number of seconds, not {type(d).__name__}")
    if s < 0 or math.isnan(s) or math.isinf(s):
        raise ValueError(f"{what} must be a finite duration of zero or more")
    return s


def scope_tuple(scopes: Optional[Iterable[str]]) -> Tuple[str, ...]:
    """Returns scopes as a tuple; a string holds scopes separated by spaces."""
    if scopes is None:
        return ()
    if isinstance(scopes, str):
        return tuple(scopes.split())
    out = tuple(scopes)
    for s in out:
        if not isinstance(s, str):
            raise TypeError(f"scopes must be strings, not {type(s).__name__}")
    return out


def token_args(
    profile: Optional[str],
    min_valid: Optional[float],
    scopes: Tuple[str, ...],
    audience: Optional[str],
    rejected: bool = False,
) -> list:
    """Returns the arguments of ``authc token --json`` for a request. It
    never asks for an ID token, and never starts a login: a program that
    needs one is told (LoginRequired), it does not hang."""
    args = ["token", "--json", "--no-login"]
    if profile:
        args.append("--profile=" + profile)
    if min_valid is not None:
        args.append(f"--min-valid={int(math.ceil(min_valid * 1000))}ms")
    args += ["--scope=" + s for s in scopes]
    if audience:
        args.append("--audience=" + audience)
    if rejected:
        # The refused token goes on stdin: other users can read every
        # process's command line.
        args.append("--rejected-stdin")
    return args


# The environment variables that decide which token authc hands out: the
# socket, the config file, the static tokens.
_ENV_PREFIXES = ("AUTHD_", "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "HOME")


def env_key() -> Tuple[Tuple[str, str], ...]:
    """Returns the environment's part of a cache key: a token cached for
    one daemon or one AUTHD_TOKEN is not handed out for another."""
    env = os.environ
    for _ in range(3):
        try:
            # Keys first: reading every value would cost more than the
            # rest of a cached call.
            return tuple(sorted((k, env[k]) for k in list(env) if k.startswith(_ENV_PREFIXES)))
        except (RuntimeError, KeyError):  # another thread changed the environment meanwhile
            continue
    return tuple(sorted((k, v) for k, v in env.copy().items() if k.startswith(_ENV_PREFIXES)))


CacheKey = Tuple[str, Tuple[str, ...], str, Tuple[Tuple[str, str], ...]]


class _Entry:
    __slots__ = ("token", "expires_at")

    def __init__(self, token: Token) -> None:
        self.token = token
        self.expires_at = token.expiry.timestamp() if token.expiry else math.inf


class TokenCache:
    """The process's tokens, by profile, scopes, audience and environment.

    A token is handed out again until it comes within min_valid of its
    expiry. One call per key runs authc at a time: threads that ask for
    the same token while it is fetched wait for that call and share its
    token.
    """

    def __init__(self) -> None:
        self._init_locks()
        self._entries: Dict[CacheKey, _Entry] = {}
        # The longest lifetime seen of a fresh token, per key: authd's
        # default min_valid is a quarter of it when that is under a minute.
        self._lifetimes: Dict[CacheKey, float] = {}

    def _init_locks(self) -> None:
        self._lock = threading.Lock()
        self._key_locks: Dict[CacheKey, threading.Lock] = {}

    def after_fork(self) -> None:
        """Replaces the locks in a child process: a thread of the parent
        may have held one at the fork, and will never release it here."""
        self._init_locks()

    def _key_lock(self, key: CacheKey) -> threading.Lock:
        with self._lock:
            lock = self._key_locks.get(key)
            if lock is None:
                lock = self._key_locks[key] = threading.Lock()
            return lock

    def _fresh(self, key: CacheKey, min_valid: Optional[float], now: float) -> Optional[Token]:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if min_valid is None:
            min_valid = min(DEFAULT_MIN_VALID, self._lifetimes.get(key, math.inf) / 4)
        if entry.expires_at - now > min_valid:
            return entry.token
        return None

    def peek(self, key: CacheKey, min_valid: Optional[float]) -> Optional[Token]:
        """Returns the cached token of key when it is still fresh."""
        return self._fresh(key, min_valid, _now())

    def get(
        self,
        key: CacheKey,
        min_valid: Optional[float],
        fetch: Callable[[Optional[str]], Token],
        stale: Optional[str] = None,
    ) -> Token:
        """Returns the cached token of key, or the one fetch(force) gets.

        With stale, the access token a server refused, it returns a token
        other than stale that another thread got meanwhile, or else runs
        fetch(stale), which tells authd that the token was refused: many
        callers refused at once cause one refresh, in this process and
        across the processes that ask authd.
        """
        now = _now()
        if stale is None:
            tok = self._fresh(key, min_valid, now)
            if tok is not None:
                return tok
        with self._key_lock(key):
            now = _now()
            tok = self._fresh(key, min_valid, now)
            if tok is not None and (stale is None or tok.access_token != stale):
                return tok
            tok = fetch(stale)
            entry = _Entry(tok)
            self._entries[key] = entry
            if entry.expires_at != math.inf:
                lifetime = entry.expires_at - now
                self._lifetimes[key] = max(self._lifetimes.get(key, 0.0), lifetime)
            return tok

    def clear(self) -> None:
        """Forgets every token."""
        with self._lock:
            self._entries.clear()


def _now() -> float:
    return time.time()


cache = TokenCache()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=cache.after_fork)


def _request(
    profile: Optional[str],
    min_valid: Optional[Duration],
    scopes: Optional[Iterable[str]],
    audience: Optional[str],
) -> Tuple[CacheKey, Optional[float], Tuple[str, ...]]:
    """Checks a token request, and returns its cache key, min_valid in
    seconds and scopes."""
    if profile is not None and not isinstance(profile, str):
        raise TypeError(f"profile must be a string, not {type(profile).__name__}")
    if audience is not None and not isinstance(audience, str):
        raise TypeError(f"audience must be a string, not {type(audience).__name__}")
    mv = seconds(min_valid, "min_valid")
    sc = scope_tuple(scopes)
    return (profile or "", sc, audience or "", env_key()), mv, sc


def get_token(
    profile: Optional[str] = None,
    *,
    min_valid: Optional[Duration] = None,
    scopes: Optional[Iterable[str]] = None,
    audience: Optional[str] = None,
    stale: Optional[str] = None,
) -> Token:
    """token(), and for the HTTP integrations the refresh after a 401: with
    stale, the access token the server refused."""
    key, mv, sc = _request(profile, min_valid, scopes, audience)

    def fetch(rejected: Optional[str]) -> Token:
        args = token_args(profile, mv, sc, audience, rejected=rejected is not None)
        out = _authc.run(args, input=rejected)
        return token_from_json(out.stdout)

    return cache.get(key, mv, fetch, stale=stale)


def cached_token(
    profile: Optional[str] = None,
    *,
    min_valid: Optional[Duration] = None,
    scopes: Optional[Iterable[str]] = None,
    audience: Optional[str] = None,
) -> Optional[Token]:
    """Returns the token get_token would hand out without running authc,
    or None when it would run it."""
    key, mv, _ = _request(profile, min_valid, scopes, audience)
    return cache.peek(key, mv)
