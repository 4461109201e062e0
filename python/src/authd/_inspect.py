"""Reading a token's claims, for display, through ``authc inspect``."""

from __future__ import annotations

import html
import json
from typing import Any, Dict, Iterator, Mapping, Optional, Union

from . import _authc
from ._errors import Error
from ._token import Token, get_token

_TIMES = ("exp", "iat", "nbf", "auth_time")


class Claims(Mapping[str, Any]):
    """The claims of a JWT, decoded for display only.

    Nothing is verified: not the signature, not the issuer, not the
    audience, not the expiry. Never decide anything on them; the server
    that receives the token is the one that checks it. ``header`` is the
    JWT's header; ``times`` holds the time claims (exp, iat, nbf,
    auth_time) as RFC 3339 text. In Jupyter the claims show as a table.
    """

    def __init__(self, claims: Dict[str, Any], header: Dict[str, Any], times: Dict[str, str]) -> None:
        self._claims = claims
        self.header = header
        self.times = times

    def __getitem__(self, key: str) -> Any:
        return self._claims[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._claims)

    def __len__(self) -> int:
        return len(self._claims)

    def __repr__(self) -> str:
        return f"Claims({self._claims!r})"

    def _repr_html_(self) -> str:
        rows = []
        for k, v in self._claims.items():
            shown = v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
            if k in self.times:
                shown = f"{shown}  ({self.times[k]})"
            rows.append(
                f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
                f"<td style='text-align:left'><code>{html.escape(str(shown))}</code></td></tr>"
            )
        return (
            "<table class='authd-claims'><caption style='text-align:left'>Token claims, decoded for display only: "
            "nothing here is verified.</caption>"
            "<tr><th style='text-align:left'>claim</th><th style='text-align:left'>value</th></tr>"
            + "".join(rows)
            + "</table>"
        )


def inspect(token: Union[None, str, Token] = None, *, profile: Optional[str] = None) -> Claims:
    """Returns the claims of a JWT access token, for display only (see
    :class:`Claims`): of token (a string or a :class:`Token`), or else of
    the profile's current access token, got as :func:`authd.token` gets it.

    Raises authd.Error when the token is no JWT (an opaque token has no
    claims to show)."""
    if token is None:
        raw = get_token(profile).access_token
    elif isinstance(token, Token):
        raw = token.access_token
    elif isinstance(token, str):
        raw = token
    else:
        raise TypeError(f"token must be a string or an authd.Token, not {type(token).__name__}")
    out = _authc.run(["inspect", "-"], input=raw)
    try:
        data = json.loads(out.stdout)
    except ValueError:
        raise Error("authc inspect printed no JSON") from None
    claims = data.get("claims") if isinstance(data, dict) else None
    if not isinstance(claims, dict):
        raise Error("authc inspect printed no claims")
    header = data.get("header") if isinstance(data.get("header"), dict) else {}
    times = data.get("times") if isinstance(data.get("times"), dict) else {}
    return Claims(claims, header, {k: v for k, v in times.items() if k in _TIMES and isinstance(v, str)})
