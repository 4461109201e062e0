"""32 threads and 8 processes that ask for a token at once, after it
expired, cause one refresh at the provider."""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, List

import pytest

import authd
import harness
from conftest import use

WORKER = r"""
import os, sys, time
import authd
authd.token()
print("ready", flush=True)
while not os.path.exists(sys.argv[1]):
    time.sleep(0.002)
print(authd.token().access_token, flush=True)
"""


def test_one_refresh_for_all(bins: Dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chromium: None) -> None:
    # Tokens that live 8s: the test waits for one to expire.
    world = harness.World(bins, token_lifetime="8s")
    try:
        world.login()
        use(monkeypatch, world)
        wrapper, log = harness.counting_authc(tmp_path, bins["authc"])
        monkeypatch.setenv("AUTHD_AUTHC", str(wrapper))
        go = tmp_path / "go"

        # Every caller holds a token in its cache.
        workers = [
            harness.Running([sys.executable, "-c", WORKER, str(go)], harness.python_env(world, AUTHD_AUTHC=str(wrapper)))
            for _ in range(8)
        ]
        for w in workers:
            w.wait_stdout(r"ready\n")
        held = authd.token()

        # The machine sleeps: authd stops, past the expiry of every token
        # it or a caller has.
        current = json.loads(world.authc("token", "--json").stdout)
        assert world.daemon is not None
        world.daemon.send_signal(signal.SIGSTOP)
        try:
            time.sleep(0.2)
            before = world.refreshes()
            runs_before = len(harness.runs(log))
            expiry = max(held.expiry.timestamp(), datetime.fromisoformat(current["expiry"].replace("Z", "+00:00")).timestamp())
            while datetime.now(timezone.utc).timestamp() < expiry + 0.5:
                time.sleep(0.1)

            # Everyone asks at once, and waits for authd to wake up.
            results: List[authd.Token] = []
            lock = threading.Lock()
            barrier = threading.Barrier(32)

            def call() -> None:
                barrier.wait()
                tok = authd.token()
                with lock:
                    results.append(tok)

            threads = [threading.Thread(target=call) for _ in range(32)]
            for t in threads:
                t.start()
            go.write_text("")
            time.sleep(1.5)
        finally:
            world.daemon.send_signal(signal.SIGCONT)
        for t in threads:
            t.join(60)
        outs = []
        for w in workers:
            rc, out, err = w.wait()
            assert rc == 0, err
            outs.append(out.splitlines()[-1])

        assert world.refreshes() - before == 1
        new = world.issued()["access_tokens"][-1]
        assert len(results) == 32 and all(r is results[0] for r in results)
        assert results[0].access_token == new and results[0].access_token != held.access_token
        assert outs == [new] * 8
        # One run of authc in this process, one in each worker.
        assert len(harness.runs(log)) - runs_before == 9
    finally:
        world.close()
