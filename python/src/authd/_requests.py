"""authd for requests: an auth that sends the profile's token, and a
Session for one API. Imported on first use of authd.Auth or authd.Session,
so that requests is no dependency of authd."""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Optional
from urllib.parse import urlsplit

import requests
from requests.cookies import extract_cookies_to_jar
from requests.utils import rewind_body

from . import __version__
from ._token import Duration, Token, get_token, scope_tuple


def _origin(url: str) -> tuple:
    u = urlsplit(url)
    port = u.port or {"http": 80, "https": 443}.get(u.scheme.lower())
    return (u.scheme.lower(), (u.hostname or "").lower(), port)


class Auth(requests.auth.AuthBase):
    """Sends a profile's access token (see :func:`authd.token`) in the
    Authorization header of each request.

    When the server answers 401, it tells authd that the token was refused:
    authd hands out a new one (one refresh for the many requests, in any
    process, refused at once; none when it has replaced that token
    already), and the request is sent once more; a second 401 is the
    answer.

        requests.get(url, auth=authd.Auth("work"))
    """

    def __init__(
        self,
        profile: Optional[str] = None,
        *,
        min_valid: Optional[Duration] = None,
        scopes: Optional[Iterable[str]] = None,
        audience: Optional[str] = None,
        origin: Optional[str] = None,
    ) -> None:
        self.profile = profile
        self.min_valid = min_valid
        self.scopes = scope_tuple(scopes)
        self.audience = audience
        # With origin, only requests to that scheme, host and port get the
        # token: a redirect or an absolute URL elsewhere goes without it.
        self._origin = _origin(origin) if origin else None

    def __repr__(self) -> str:
        return f"authd.Auth(profile={self.profile!r})"

    def _token(self, stale: Optional[str] = None) -> Token:
        return get_token(self.profile, min_valid=self.min_valid, scopes=self.scopes, audience=self.audience, stale=stale)

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        if self._origin is not None and _origin(r.url or "") != self._origin:
            return r
        tok = self._token()
        r.headers["Authorization"] = tok.authorization
        r.register_hook("response", self._retry_on_401)
        return r

    def _retry_on_401(self, resp: requests.Response, **kwargs: Any) -> requests.Response:
        req = resp.request
        if resp.status_code != 401 or getattr(req, "_authd_retried", False):
            return resp
        sent = (req.headers.get("Authorization") or "").partition(" ")[2]
        if not sent or self._origin is not None and _origin(req.url or "") != self._origin:
            # A redirect to another origin, where requests dropped the
            # token: that server's 401 is no reason to send it one.
            return resp
        body_position = getattr(req, "_body_position", None)
        if req.body is not None and hasattr(req.body, "read") and not isinstance(body_position, int):
            return resp  # a stream that cannot be sent again
        tok = self._token(stale=sent)
        # Read what is left of the answer, so that the connection can be
        # used again.
        resp.content
        resp.close()
        retry = req.copy()
        if isinstance(body_position, int):
            rewind_body(retry)
        retry._authd_retried = True  # type: ignore[attr-defined]
        extract_cookies_to_jar(retry._cookies, req, resp.raw)  # type: ignore[attr-defined]
        retry.prepare_cookies(retry._cookies)  # type: ignore[attr-defined]
        retry.headers["Authorization"] = tok.authorization
        again = resp.connection.send(retry, **kwargs)
        again.history.append(resp)
        again.request = retry
        return again


class Session(requests.Session):
    """A requests Session for one API: relative URLs are resolved against
    base_url, and requests to base_url's origin carry the profile's token
    (see :class:`Auth`); requests elsewhere go without it.

        api = authd.Session("https://api.example.com/v1/", profile="work")
        api.get("items").json()

    extra_headers are sent with every request (no Authorization: that is
    authd's); user_agent replaces the User-Agent header, which otherwise
    names authd's package and requests.
    """

    def __init__(
        self,
        base_url: str,
        *,
        profile: Optional[str] = None,
        min_valid: Optional[Duration] = None,
        scopes: Optional[Iterable[str]] = None,
        audience: Optional[str] = None,
        extra_headers: Optional[Mapping[str, str]] = None,
        user_agent: Optional[str] = None,
    ) -> None:
        super().__init__()
        u = urlsplit(base_url)
        if u.scheme.lower() not in ("http", "https") or not u.hostname:
            raise ValueError(f"base_url must be an http(s) URL, not {base_url!r}")
        self.base_url = base_url
        self.auth = Auth(profile, min_valid=min_valid, scopes=scopes, audience=audience, origin=base_url)
        self.headers["User-Agent"] = user_agent or f"authd-python/{__version__} {requests.utils.default_user_agent()}"
        for k, v in (extra_headers or {}).items():
            if k.lower() == "authorization":
                raise ValueError("extra_headers must not set Authorization: the token is authd's")
            self.headers[k] = v

    def __repr__(self) -> str:
        return f"authd.Session({self.base_url!r}, profile={self.auth.profile!r})"  # type: ignore[union-attr]

    def url(self, path: str) -> str:
        """Returns the URL of path: path itself when absolute, else path
        under base_url."""
        if urlsplit(path).scheme:
            return path
        return self.base_url.rstrip("/") + "/" + path.lstrip("/")

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        return super().request(method, self.url(url), *args, **kwargs)
