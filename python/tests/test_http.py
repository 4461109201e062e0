"""authd.Auth, authd.Session and authd.HTTPXAuth against a protected API
that accepts only the current token."""

from __future__ import annotations

import asyncio
import threading
from typing import Iterator, List
from urllib.parse import quote

import httpx
import pytest
import requests

import authd
import harness


@pytest.fixture
def api(env: harness.World) -> Iterator[harness.ProtectedAPI]:
    a = harness.ProtectedAPI(env)
    try:
        yield a
    finally:
        a.close()


def expire(world: harness.World) -> str:
    """Makes the token the process holds stale: authd refreshes, and the
    API accepts only the new token. Returns the new one."""
    world.authc("token", "--force-refresh")
    return world.issued()["access_tokens"][-1]


def test_session_calls_the_api(api: harness.ProtectedAPI) -> None:
    s = authd.Session(api.url + "v1", extra_headers={"X-Client": "test"}, user_agent="authd-test/1")
    r = s.get("hello")
    assert r.status_code == 200 and r.json()["path"] == "/v1/hello"
    path, token, status, headers = api.seen[-1]
    assert token == authd.token().access_token
    assert headers["X-Client"] == "test" and headers["User-Agent"] == "authd-test/1"
    assert s.get("/hello").json()["path"] == "/v1/hello"
    assert authd.Session(api.url).get("x").request.headers["User-Agent"].startswith("authd-python/")
    assert "Bearer" not in repr(s) and "Bearer" not in repr(s.auth)


def test_401_gets_a_new_token_and_one_retry(env: harness.World, api: harness.ProtectedAPI) -> None:
    s = authd.Session(api.url)
    assert s.get("hello").status_code == 200
    old = authd.token().access_token
    # Another process has had authd replace the token this one caches: the
    # 401 tells authd (the refused token on authc's stdin), which hands out
    # its current token without a refresh of its own.
    expire(env)
    before = env.refreshes()
    r = s.post("echo", data="payload")
    assert r.status_code == 200 and r.json()["body"] == "payload"
    assert [h.status_code for h in r.history] == [401]
    assert env.refreshes() == before
    assert [(p, s) for p, _, s, _ in api.seen[-2:]] == [("/echo", 401), ("/echo", 200)]
    assert api.seen[-2][1] == old and api.seen[-1][1] == env.issued()["access_tokens"][-1]
    # A server that refuses the current token makes authd refresh it once;
    # one that keeps refusing gets one retry, and its 401 is the answer.
    before, n = env.refreshes(), len(api.seen)
    r = s.get("always-401")
    assert r.status_code == 401 and len(api.seen) - n == 2 and env.refreshes() - before == 1


def test_401s_at_once_cause_one_refresh(env: harness.World, api: harness.ProtectedAPI) -> None:
    s = authd.Session(api.url)
    assert s.get("hello").status_code == 200
    with api._lock:
        api.revoked.add(authd.token().access_token)  # the token authd serves
    before = env.refreshes()
    results: List[int] = []
    barrier = threading.Barrier(8)

    def call() -> None:
        barrier.wait()
        results.append(authd.Session(api.url).get("hello").status_code)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results == [200] * 8
    assert env.refreshes() - before == 1


def test_rejected_token_refreshes_once_across_processes(env: harness.World) -> None:
    """Processes told at once that one token was refused (authc token
    --rejected-stdin) cause one refresh, and all get the new token; one
    told later, once it was replaced, causes none."""
    refused = env.authc("token").stdout.strip()
    before = env.refreshes()
    got: List[str] = []
    barrier = threading.Barrier(4)

    def call() -> None:
        barrier.wait()
        got.append(env.authc("token", "--rejected-stdin", input=refused).stdout.strip())

    threads = [threading.Thread(target=call) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(got) == 4 and len(set(got)) == 1 and got[0] != refused
    assert env.refreshes() - before == 1
    assert refused not in env.authc("token", "--rejected-stdin", "--json", input=refused).stdout
    assert env.refreshes() - before == 1


def test_session_keeps_the_token_to_its_api(api: harness.ProtectedAPI, env: harness.World) -> None:
    other = harness.ProtectedAPI(env)
    try:
        s = authd.Session(api.url)
        assert s.get(other.url + "elsewhere").status_code == 401
        assert other.seen[-1][1] == "" and "Authorization" not in other.seen[-1][3]
    finally:
        other.close()
    # Nor after a redirect there, even when that server answers 401.
    other = harness.ProtectedAPI(env)
    try:
        before = env.refreshes()
        for auth_user in (authd.Session(api.url), requests.Session()):
            kw = {} if isinstance(auth_user, authd.Session) else {"auth": authd.Auth()}
            r = auth_user.get(api.url + "redirect?to=" + quote(other.url + "there", safe=""), **kw)
            assert r.status_code == 401 and [h.status_code for h in r.history] == [302]
        assert [t for _, t, _, _ in api.seen[-2:]] == [authd.token().access_token] * 2
        assert [t for _, t, _, _ in other.seen] == ["", ""] and env.refreshes() == before
    finally:
        other.close()
    with pytest.raises(ValueError):
        authd.Session(api.url, extra_headers={"authorization": "Bearer x"})
    with pytest.raises(ValueError):
        authd.Session("ftp://example.com/")


def test_auth_with_requests(env: harness.World, api: harness.ProtectedAPI) -> None:
    r = requests.get(api.url + "hello", auth=authd.Auth("work"))
    assert r.status_code == 200
    expire(env)
    r = requests.get(api.url + "hello", auth=authd.Auth("work"))
    assert r.status_code == 200 and [h.status_code for h in r.history] == [401]


def test_httpx(env: harness.World, api: harness.ProtectedAPI) -> None:
    with httpx.Client(auth=authd.HTTPXAuth()) as c:
        assert c.get(api.url + "hello").status_code == 200
        expire(env)
        r = c.post(api.url + "echo", content=b"payload")
        assert r.status_code == 200 and r.json()["body"] == "payload"
    assert api.statuses()[-3:] == [200, 401, 200]

    async def main() -> int:
        async with httpx.AsyncClient(auth=authd.HTTPXAuth("work")) as c:
            await c.get(api.url + "hello")
            expire(env)
            return (await c.get(api.url + "hello")).status_code

    assert asyncio.run(main()) == 200
    assert api.statuses()[-3:] == [200, 401, 200]

    # A 401 from another origin that a redirect led to never saw the token:
    # it costs no refresh, and the request is not sent again.
    other = harness.ProtectedAPI(env)
    try:
        before, n = env.refreshes(), len(api.seen)
        with httpx.Client(auth=authd.HTTPXAuth(), follow_redirects=True) as c:
            r = c.get(api.url + "redirect?to=" + quote(other.url + "there", safe=""))
        assert r.status_code == 401 and [h.status_code for h in r.history] == [302]
        assert env.refreshes() == before and len(api.seen) - n == 1
        assert [t for _, t, _, _ in other.seen] == [""]
    finally:
        other.close()


def test_http_libraries_imported_on_use(env: harness.World) -> None:
    code = (
        "import sys, authd\n"
        "assert 'requests' not in sys.modules and 'httpx' not in sys.modules, sorted(sys.modules)\n"
        "authd.Session; assert 'requests' in sys.modules and 'httpx' not in sys.modules\n"
        "authd.HTTPXAuth; assert 'httpx' in sys.modules\n"
        "assert {'Auth', 'Session', 'HTTPXAuth'} <= set(dir(authd))\n"
    )
    r = harness.run_python(code, harness.python_env(env))
    assert r.returncode == 0, r.stderr
