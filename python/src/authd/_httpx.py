"""authd for httpx: an auth that sends the profile's token. Imported on
first use of authd.HTTPXAuth, so that httpx is no dependency of authd."""

from __future__ import annotations

from typing import Any, AsyncGenerator, Generator, Iterable, Optional

import httpx

from ._token import Duration, Token, cached_token, get_token, scope_tuple


class HTTPXAuth(httpx.Auth):
    """Sends a profile's access token (see :func:`authd.token`) in the
    Authorization header, with httpx's Client and AsyncClient alike.

    When the server answers 401, it tells authd that the token was refused:
    authd hands out a new one (one refresh for the many requests, in any
    process, refused at once; none when it has replaced that token
    already), and the request is sent once more.

        httpx.get(url, auth=authd.HTTPXAuth("work"))
    """

    # The body is read before the first try, so that it can be sent again.
    requires_request_body = True

    def __init__(
        self,
        profile: Optional[str] = None,
        *,
        min_valid: Optional[Duration] = None,
        scopes: Optional[Iterable[str]] = None,
        audience: Optional[str] = None,
    ) -> None:
        self.profile = profile
        self.min_valid = min_valid
        self.scopes = scope_tuple(scopes)
        self.audience = audience

    def __repr__(self) -> str:
        return f"authd.HTTPXAuth(profile={self.profile!r})"

    def _token(self, stale: Optional[str] = None) -> Token:
        return get_token(self.profile, min_valid=self.min_valid, scopes=self.scopes, audience=self.audience, stale=stale)

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        tok = self._token()
        request.headers["Authorization"] = tok.authorization
        response = yield request
        if response.status_code == 401 and _same_origin(request, response):
            response.read()
            tok = self._token(stale=tok.access_token)
            request.headers["Authorization"] = tok.authorization
            yield request

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        # authc runs in a thread: a refresh must not stop the event loop.
        tok = cached_token(self.profile, min_valid=self.min_valid, scopes=self.scopes, audience=self.audience)
        if tok is None:
            tok = await _in_thread(self._token)
        request.headers["Authorization"] = tok.authorization
        response = yield request
        if response.status_code == 401 and _same_origin(request, response):
            await response.aread()
            stale = tok.access_token
            tok = await _in_thread(lambda: self._token(stale=stale))
            request.headers["Authorization"] = tok.authorization
            yield request


def _same_origin(request: httpx.Request, response: httpx.Response) -> bool:
    """Whether the 401 came from the origin the token was sent to: httpx
    follows redirects within one turn of the flow, and a 401 of another
    origin (which never saw the token) must not cost a refresh."""
    a, b = request.url, response.request.url
    return (a.scheme, a.host, a.port) == (b.scheme, b.host, b.port)


async def _in_thread(fn: Any) -> Token:
    try:
        import anyio.to_thread  # httpx runs on anyio: asyncio or trio
    except ImportError:
        import asyncio

        return await asyncio.get_running_loop().run_in_executor(None, fn)
    return await anyio.to_thread.run_sync(fn)

