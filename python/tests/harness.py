"""The real parts the tests run against: authd, authc and the browser
driver built from this checkout, and the test OpenID provider of
internal/idptest served by tools/pyharness, which records every token it
issues.

A World is one user's: a provider, a config file with one profile "work"
on an encrypted file keyring, and an `authd run` serving it on a private
socket.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Dict, List, Optional, Tuple

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("AUTHD_CHROMIUM", "/usr/bin/chromium")
KEYRING_PASSPHRASE = "python-test-passphrase"

# Every wait of the harness is bounded: a stuck part fails the test, it
# does not hang the run.
COMMAND_TIMEOUT = 90


def have_chromium() -> bool:
    return shutil.which(CHROMIUM) is not None


def build(dest: Path) -> Dict[str, str]:
    """Builds the binaries into dest and returns their paths by name."""
    names = {
        "authd": "./cmd/authd",
        "authc": "./cmd/authc",
        "browserdriver": "./tools/browserdriver",
        "pyharness": "./tools/pyharness",
    }
    go = shutil.which("go") or os.path.join(os.environ.get("GOROOT", "/usr/local/go"), "bin", "go")
    subprocess.run(
        [go, "build", "-o", str(dest) + os.sep, *names.values()],
        cwd=REPO,
        check=True,
        timeout=20 * 60,
    )
    return {name: str(dest / name) for name in names}


def clean_environ() -> Dict[str, str]:
    """The environment without what would point authd, authc or a browser
    elsewhere than a World says."""
    drop = ("AUTHD_", "BROWSER", "DISPLAY", "WAYLAND_DISPLAY", "SSH_CONNECTION", "SSH_TTY", "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME")
    return {k: v for k, v in os.environ.items() if not k.startswith(drop)}


class World:
    """A provider, a config and a daemon, all under one temporary directory
    (short: the socket's path must fit sun_path)."""

    def __init__(self, bins: Dict[str, str], *, token_lifetime: str = "5m", passphrase: bool = True) -> None:
        self.bins = bins
        self.dir = Path(tempfile.mkdtemp(prefix="authd-py-"))
        self.runtime = self.dir / "run"
        self.browser_out = self.dir / "browser"
        for d in (self.runtime, self.browser_out, self.dir / "config" / "authd"):
            d.mkdir(parents=True, mode=0o700)
        self.config = self.dir / "config" / "authd" / "config.toml"
        self.socket = self.runtime / "authd" / "authd.sock"
        self.daemon: Optional[subprocess.Popen] = None
        self.provider = subprocess.Popen(
            [bins["pyharness"], "serve", "-token-lifetime", token_lifetime],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=open(self.dir / "provider.log", "wb"),
        )
        assert self.provider.stdout is not None
        line = self.provider.stdout.readline()
        if not line:
            raise RuntimeError("pyharness serve printed nothing; see " + str(self.dir / "provider.log"))
        self.idp = json.loads(line)
        passphrase_file = self.dir / "passphrase"
        passphrase_file.write_text(KEYRING_PASSPHRASE + "\n")
        passphrase_file.chmod(0o600)
        keyring = f'backend = "file"\nfile_dir = "{self.dir / "keyring"}"\n'
        if passphrase:
            keyring += f'passphrase_file = "{passphrase_file}"\n'
        self.config.write_text(
            f"""default_profile = "work"

[keyring]
{keyring}
[profiles.work]
issuer = "{self.idp["issuer"]}"
token_endpoint = "{self.idp["token_endpoint"]}"
client_id = "{self.idp["client_id"]}"
login_timeout = "80s"
"""
        )
        # What authd, authc and the package read: set in os.environ by
        # the tests that call the package in this process.
        self.vars = {
            "XDG_RUNTIME_DIR": str(self.runtime),
            "XDG_CONFIG_HOME": str(self.dir / "config"),
            "AUTHD_CONFIG": str(self.config),
            "AUTHD_SOCKET": str(self.socket),
            "AUTHD_AUTHC": bins["authc"],
            # A test that stops authd means it stopped: authc must not
            # start one in the background.
            "AUTHD_NO_AUTOSTART": "1",
        }
        self.env = {**clean_environ(), **self.vars}
        self.start_daemon()

    # The daemon.

    def start_daemon(self) -> None:
        log = open(self.dir / "authd.log", "ab")
        self.daemon = subprocess.Popen(
            [self.bins["authd"], "run", "--config", str(self.config), "--socket", str(self.socket)],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
        deadline = time.monotonic() + 30
        while True:
            r = self.authc("status", check=False)
            if r.returncode == 0:
                return
            if self.daemon.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"authd did not start: {r.stderr}\n{self.daemon_log()}")
            time.sleep(0.05)

    def stop_daemon(self) -> None:
        d, self.daemon = self.daemon, None
        if d is None or d.poll() is not None:
            return
        d.send_signal(signal.SIGCONT)
        d.terminate()
        try:
            d.wait(timeout=15)
        except subprocess.TimeoutExpired:
            d.kill()
            d.wait()

    def daemon_log(self) -> str:
        try:
            return (self.dir / "authd.log").read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def close(self) -> None:
        self.stop_daemon()
        if self.provider.poll() is None:
            assert self.provider.stdin is not None
            self.provider.stdin.close()
            try:
                self.provider.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.provider.kill()
                self.provider.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    # authc, the browser, the provider.

    def authc(self, *args: str, check: bool = True, input: Optional[str] = None, extra: Optional[Dict[str, str]] = None) -> subprocess.CompletedProcess:
        env = {**self.env, **(extra or {})}
        r = subprocess.run(
            [self.bins["authc"], *args],
            env=env,
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
        )
        if check and r.returncode != 0:
            raise AssertionError(f"authc {' '.join(args)}: exit {r.returncode}\n{r.stderr}\nauthd log:\n{self.daemon_log()}")
        return r

    def login(self) -> None:
        """Logs the default user in with the browser flow: authc opens
        the driver as $BROWSER, which signs in."""
        self.authc(
            "login",
            extra={"BROWSER": self.bins["browserdriver"], "AUTHD_DRIVER_OUT": str(self.browser_out), "AUTHD_CHROMIUM": CHROMIUM},
        )

    def drive_device(self, url: str, user_code: Optional[str] = None, action: str = "device") -> None:
        """Plays the person who approves (or denies) a device login in a
        browser on another machine."""
        env = {**self.env, "AUTHD_DRIVER_ACTION": action, "AUTHD_DRIVER_OUT": str(self.browser_out), "AUTHD_CHROMIUM": CHROMIUM}
        if user_code:
            env["AUTHD_DRIVER_USER_CODE"] = user_code
        r = subprocess.run([self.bins["browserdriver"], url], env=env, capture_output=True, text=True, timeout=COMMAND_TIMEOUT)
        if r.returncode != 0:
            raise AssertionError(f"browserdriver {action} {url}: exit {r.returncode}\n{r.stdout}{r.stderr}")

    def _control(self, what: str) -> dict:
        with urllib.request.urlopen(self.idp["control"] + what, timeout=10) as resp:
            return json.load(resp)

    def issued(self) -> Dict[str, List[str]]:
        """Every token the provider issued: access_tokens, refresh_tokens,
        id_tokens, oldest first."""
        return self._control("issued")

    def counts(self) -> Dict[str, int]:
        """Requests per endpoint at the provider ("token:refresh_token": N)."""
        return self._control("counts")

    def refreshes(self) -> int:
        return self.counts()["token:refresh_token"]

    def secrets(self) -> List[str]:
        """What must never reach a program: every refresh and ID token the
        provider issued, the client secrets it knows, the keyring's
        passphrase."""
        issued = self.issued()
        return issued["refresh_tokens"] + issued["id_tokens"] + [self.idp["client_secret"], KEYRING_PASSPHRASE]


def counting_authc(dir: Path, authc: str) -> Tuple[Path, Path]:
    """Returns an authc that runs authc after writing a line for the run
    to a log, and the log."""
    log = dir / "authc-runs"
    log.write_text("")
    wrapper = dir / "authc"
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> "{log}"\nexec "{authc}" "$@"\n')
    wrapper.chmod(0o700)
    return wrapper, log


def runs(log: Path) -> List[str]:
    """The runs of authc a counting_authc logged."""
    return [l for l in log.read_text().splitlines() if l]


def python_env(world: World, **extra: str) -> Dict[str, str]:
    """The environment of a Python process (a worker, a kernel) that uses
    the package against world."""
    env = {**world.env, **extra}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def run_python(code: str, env: Dict[str, str], timeout: float = COMMAND_TIMEOUT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=timeout)


class Running:
    """A process whose stderr a test reads as it comes (a login's URL or
    code), then waits for."""

    def __init__(self, argv: List[str], env: Dict[str, str]) -> None:
        self.argv = argv
        self.proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self._out: List[str] = []
        self._err: List[str] = []
        self._changed = threading.Condition()
        self._readers = [
            threading.Thread(target=self._read, args=(self.proc.stdout, self._out), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, self._err), daemon=True),
        ]
        for t in self._readers:
            t.start()

    def _read(self, stream, into: List[str]) -> None:
        for line in stream:
            with self._changed:
                into.append(line)
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def stderr(self) -> str:
        with self._changed:
            return "".join(self._err)

    def wait_stderr(self, pattern: str, timeout: float = 60) -> "re.Match[str]":
        """Waits until stderr has a match of pattern (up to its newline)."""
        return self._wait(self._err, "stderr", pattern, timeout)

    def wait_stdout(self, pattern: str, timeout: float = 60) -> "re.Match[str]":
        """Waits until stdout has a match of pattern."""
        return self._wait(self._out, "stdout", pattern, timeout)

    def _wait(self, buf: List[str], name: str, pattern: str, timeout: float) -> "re.Match[str]":
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                m = rx.search("".join(buf))
                if m:
                    return m
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not any(t.is_alive() for t in self._readers)):
                    raise AssertionError(f"{self.argv}: no {pattern!r} on {name}:\n{''.join(buf)}\nstderr:\n{''.join(self._err)}")
                self._changed.wait(min(left, 0.5))

    def wait(self, timeout: float = COMMAND_TIMEOUT) -> Tuple[int, str, str]:
        """Waits for the process and returns its status, stdout and stderr."""
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"{self.argv} did not end within {timeout}s; stderr:\n{self.stderr()}")
        for t in self._readers:
            t.join(timeout=10)
        with self._changed:
            return rc, "".join(self._out), "".join(self._err)


class ProtectedAPI:
    """A tiny HTTP API on loopback that answers only a request with the
    newest access token the provider issued: any older one, though not
    expired yet, is refused with 401, as a server that has seen the token
    revoked or rotated would. GET and POST /PATH answer
    {"message": "hello", "path": ..., "body": ...}; /always-401 refuses
    every token; /redirect?to=URL redirects to URL whatever the token.
    Tokens in revoked are refused too, as a server that revoked them
    before the provider issued another would. seen lists each request:
    (path, token, status, headers)."""

    def __init__(self, world: World) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        api = self
        self.world = world
        self.seen: List[Tuple[str, str, int, Dict[str, str]]] = []
        self.revoked: set = set()
        self._lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _answer(self) -> None:
                auth = self.headers.get("Authorization") or ""
                token = auth[len("Bearer "):] if auth.startswith("Bearer ") else ""
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                if self.path.startswith("/redirect?to="):
                    with api._lock:
                        api.seen.append((self.path, token, 302, dict(self.headers)))
                    self.send_response(302)
                    self.send_header("Location", urllib.parse.unquote(self.path[len("/redirect?to="):]))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                current = world.issued()["access_tokens"]
                with api._lock:
                    revoked = token in api.revoked
                ok = bool(token) and bool(current) and token == current[-1] and self.path != "/always-401" and not revoked
                status = 200 if ok else 401
                with api._lock:
                    api.seen.append((self.path, token, status, dict(self.headers)))
                payload = json.dumps({"message": "hello", "path": self.path, "body": body} if ok else {"error": "invalid_token"}).encode()
                self.send_response(status)
                if not ok:
                    self.send_header("WWW-Authenticate", 'Bearer error="invalid_token"')
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def statuses(self) -> List[int]:
        with self._lock:
            return [s for _, _, s, _ in self.seen]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
