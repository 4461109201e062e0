"""Access tokens from authd, the per-user OAuth2/OpenID Connect daemon, for
Python programs and Jupyter notebooks.

The daemon keeps the refresh tokens and client secrets; this package asks
it for short-lived access tokens through its client command, authc (on
PATH, or $AUTHD_AUTHC), and never sees anything else. It uses the
standard library only.

    import authd

    authd.login()                          # once; a panel in Jupyter
    tok = authd.token()                    # the default profile's token
    headers = {"Authorization": tok.authorization}

    api = authd.Session("https://api.example.com/v1/", profile="work")
    api.get("items")                       # requests, with the token

Tokens are cached in the process until they come within min_valid of
expiry; AUTHD_TOKEN and AUTHD_TOKEN_<PROFILE> hand out a static token, as
they do for authc. Every failure is an :class:`Error`, one subclass per
exit code of authc, with authc's message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, List, Optional

from ._errors import (
    AuthcNotFound,
    DaemonNotRunning,
    Error,
    Interrupted,
    KeyringLocked,
    LoginFailed,
    LoginRequired,
    PermissionDenied,
    ProfileNotFound,
    ProviderUnavailable,
    TokenLifetimeTooShort,
    UsageError,
)
from ._inspect import Claims, inspect
from ._login import login, logout
from ._token import Duration, Token, get_token

if TYPE_CHECKING:
    from ._httpx import HTTPXAuth
    from ._requests import Auth, Session

__version__ = "0.1.0"

# Tracebacks and reprs name the public module.
for _cls in (Error, UsageError, LoginRequired, DaemonNotRunning, ProviderUnavailable, ProfileNotFound, LoginFailed,
             KeyringLocked, PermissionDenied, TokenLifetimeTooShort, Interrupted, AuthcNotFound, Token, Claims):
    _cls.__module__ = __name__
del _cls

__all__ = [
    "token",
    "login",
    "logout",
    "inspect",
    "Token",
    "Claims",
    "Auth",
    "Session",
    "HTTPXAuth",
    "Error",
    "UsageError",
    "LoginRequired",
    "DaemonNotRunning",
    "ProviderUnavailable",
    "ProfileNotFound",
    "LoginFailed",
    "KeyringLocked",
    "PermissionDenied",
    "TokenLifetimeTooShort",
    "Interrupted",
    "AuthcNotFound",
]


def token(
    profile: Optional[str] = None,
    *,
    min_valid: Optional[Duration] = None,
    scopes: Optional[Iterable[str]] = None,
    audience: Optional[str] = None,
) -> Token:
    """Returns an access token of profile (the default profile when None).

    min_valid (a timedelta, or seconds) is how long the token must stay
    valid at least; by default a minute, or a quarter of the tokens'
    lifetime when they live shorter than four. scopes (a subset of the
    profile's) and audience ask authd for a token for less, or for
    another API.

    The token is cached in this process and handed out again until it comes
    within min_valid of its expiry; threads that ask at once share one call
    of authc. It never starts a login: nobody logged in raises
    LoginRequired (log in with :func:`login`). Other failures raise the
    :class:`Error` of authc's exit code.
    """
    return get_token(profile, min_valid=min_valid, scopes=scopes, audience=audience)


_LAZY = {"Auth": "_requests", "Session": "_requests", "HTTPXAuth": "_httpx"}
_NEEDS = {"_requests": "requests", "_httpx": "httpx"}


def __getattr__(name: str) -> Any:
    # requests and httpx are imported on first use: neither is a dependency.
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'authd' has no attribute {name!r}")
    import importlib

    try:
        mod = importlib.import_module("." + module, __name__)
    except ImportError as e:
        if e.name != _NEEDS[module]:
            raise
        raise ImportError(f"authd.{name} needs the {_NEEDS[module]} package: pip install {_NEEDS[module]}") from e
    value = getattr(mod, name)
    value.__module__ = __name__
    globals()[name] = value
    return value


def __dir__() -> List[str]:
    return sorted(set(globals()) | set(_LAZY))
