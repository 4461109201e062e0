"""A real notebook executed with nbclient on a real ipykernel: a device
login approved in a real browser while the cell runs, a protected API
called with authd.Session, a token that goes stale between two cells, and
a saved .ipynb with no refresh token, client secret or ID token in it.

Set AUTHD_NOTEBOOK_OUT to a path to keep the executed notebook."""

from __future__ import annotations

import asyncio
import html
import json
import os
import re
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import nbformat
import pytest
from nbclient import NotebookClient

import harness

CELLS = [
    ("markdown", "# Calling a protected API from a notebook\n\nThe kernel holds access tokens only; authd keeps the rest."),
    ("code", "import os\nimport authd\n\nauthd.login(device=True)"),
    (
        "code",
        'api = authd.Session(os.environ["PROTECTED_API"], extra_headers={"X-Notebook": "demo"})\n'
        'r = api.get("hello")\n'
        'print(r.status_code, r.json()["message"])',
    ),
    # Before this cell the test makes the kernel's token stale.
    (
        "code",
        'r = api.get("hello")\n'
        'print(r.status_code, r.json()["message"], "after", [h.status_code for h in r.history])',
    ),
    ("code", "authd.token()"),
    ("code", "authd.inspect()"),
]
STALE_BEFORE = 3


class LiveClient(NotebookClient):
    """An nbclient that shows a test each display a cell makes as it comes,
    while the cell still runs."""

    def __init__(self, nb: Any, on_display: Callable[[Dict[str, Any]], None], **kw: Any) -> None:
        super().__init__(nb, **kw)
        self.on_display = on_display

    def process_message(self, msg: Dict[str, Any], cell: Any, cell_index: int) -> Any:
        if msg["msg_type"] in ("display_data", "update_display_data"):
            self.on_display(msg["content"].get("data", {}))
        return super().process_message(msg, cell, cell_index)


class Approver:
    """Approves the device login as soon as the panel shows its code, in
    a browser on "another machine", from a thread of its own: the cell is
    still running."""

    def __init__(self, world: harness.World) -> None:
        self.world = world
        self.states: List[str] = []
        self.code: Optional[str] = None
        self.error: Optional[BaseException] = None
        self.thread: Optional[threading.Thread] = None

    def on_display(self, data: Dict[str, Any]) -> None:
        page = data.get("text/html", "")
        state = re.search(r'class="authd-login" data-state="(\w+)"', page)
        if state:
            self.states.append(state.group(1))
        uri = re.search(r'class="authd-verification-uri" href="([^"]+)"', page)
        code = re.search(r'class="authd-user-code"[^>]*>([^<]+)<', page)
        if uri and code and self.thread is None:
            self.code = html.unescape(code.group(1))
            self.thread = threading.Thread(target=self._approve, args=(html.unescape(uri.group(1)), self.code), daemon=True)
            self.thread.start()

    def _approve(self, uri: str, code: str) -> None:
        try:
            self.world.drive_device(uri, code)
        except BaseException as e:  # reported by the test
            self.error = e


def outputs(nb: Any, i: int) -> List[Dict[str, Any]]:
    return nb.cells[i].outputs


def stdout_of(nb: Any, i: int) -> str:
    return "".join(o.get("text", "") for o in outputs(nb, i) if o.output_type == "stream" and o.name == "stdout")


def run_notebook(
    world: harness.World,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    cells: List[Any],
    watch: Callable[[LiveClient, Dict[str, Any]], None],
    before_cell: Callable[[int], None] = lambda i: None,
    **env: str,
) -> Any:
    """Executes cells on a fresh ipykernel of this Python, whose package
    talks to world, calling watch with each display as it comes and
    before_cell before each cell. Returns the executed notebook."""
    jupyter = tmp_path / "jupyter"
    spec = jupyter / "kernels" / "authd-test"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python (authd)",
        "language": "python",
    }))
    dirs = {
        "JUPYTER_PATH": str(jupyter),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
        "JUPYTER_DATA_DIR": str(tmp_path / "data"),
        "JUPYTER_PLATFORM_DIRS": "1",
        "IPYTHONDIR": str(tmp_path / "ipython"),
    }
    for k, v in dirs.items():
        monkeypatch.setenv(k, v)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(src) if kind == "markdown" else nbformat.v4.new_code_cell(src) for kind, src in cells]
    client = LiveClient(nb, lambda data: watch(client, data), timeout=240, kernel_name="authd-test",
                        allow_errors=True, resources={"metadata": {"path": str(tmp_path)}})
    with client.setup_kernel(env=harness.python_env(world, **dirs, **env)):
        for i, cell in enumerate(nb.cells):
            before_cell(i)
            client.execute_cell(cell, i)
    return nb


def errors_in(nb: Any) -> List[Any]:
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error" or o.get("name") == "stderr"]


def test_notebook(world: harness.World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chromium: None) -> None:
    api = harness.ProtectedAPI(world)
    try:
        approver = Approver(world)

        def before_cell(i: int) -> None:
            if i == STALE_BEFORE:
                # authd refreshes: the API now takes only the new token,
                # and the kernel still holds the old one.
                world.authc("token", "--force-refresh")

        nb = run_notebook(world, tmp_path, monkeypatch, CELLS, lambda c, data: approver.on_display(data), before_cell,
                          PROTECTED_API=api.url)
        if approver.thread is not None:
            approver.thread.join(60)
        assert approver.error is None, approver.error

        saved = tmp_path / "executed.ipynb"
        nbformat.write(nb, str(saved))
        if os.environ.get("AUTHD_NOTEBOOK_OUT"):
            shutil.copyfile(saved, os.environ["AUTHD_NOTEBOOK_OUT"])
        assert not errors_in(nb), errors_in(nb)

        # The login panel: live while the cell ran, with the code, a QR
        # code, and who logged in at the end.
        assert approver.code, "the panel never showed a device code"
        assert "waiting" in approver.states and approver.states[-1] == "done", approver.states
        (panel,) = [o for o in outputs(nb, 1) if o.output_type == "display_data"]
        page, text = panel.data["text/html"], panel.data["text/plain"]
        assert 'class="authd-user-code"' in page and html.escape(approver.code) in page and "<svg" in page
        assert 'data-state="done"' in page and "Logged in as alice@example.com" in page
        assert f"enter the code {approver.code}" in text

        # The API answered, the second time after one refresh and retry.
        assert stdout_of(nb, 2) == "200 hello\n"
        assert stdout_of(nb, 3) == "200 hello after [401]\n"
        assert [s for p, _, s, h in api.seen] == [200, 401, 200]
        assert all(h.get("X-Notebook") == "demo" for _, _, _, h in api.seen)
        (shown,) = [o for o in outputs(nb, 4) if o.output_type == "execute_result"]
        assert shown.data["text/plain"].startswith("Token(profile='work'")
        (claims,) = [o for o in outputs(nb, 5) if o.output_type == "execute_result"]
        assert "display only" in claims.data["text/html"]

        # Nothing in the saved notebook that could renew or prove the
        # session: no refresh token, ID token or secret, by value or by
        # name; and, though a notebook may show one, no access token.
        raw = saved.read_text()
        issued = world.issued()
        assert issued["refresh_tokens"] and issued["id_tokens"]
        for secret in world.secrets() + issued["access_tokens"]:
            assert secret not in raw
        for name in ("refresh_token", "id_token", "client_secret"):
            assert name not in raw
    finally:
        api.close()


def test_interrupted_login(world: harness.World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Interrupting the kernel while the panel waits for approval ends the
    login at once: the panel says so, and the kernel runs the next cell.
    A login that fails shows why."""
    interrupted: List[float] = []

    def watch(client: LiveClient, data: Dict[str, Any]) -> None:
        if not interrupted and 'class="authd-user-code"' in data.get("text/html", ""):
            interrupted.append(time.monotonic())
            asyncio.ensure_future(client.km.interrupt_kernel())

    cells = [
        ("code", "import authd\nauthd.login(device=True)"),
        ("code", "print('still here')"),
        ("code", "try:\n    authd.login('nope')\nexcept authd.ProfileNotFound as e:\n    print(type(e).__name__, e.exit_code, e.reason)"),
    ]
    nb = run_notebook(world, tmp_path, monkeypatch, cells, watch)
    ended = time.monotonic()
    assert interrupted, "the panel never showed a device code"
    (error,) = [o for o in outputs(nb, 0) if o.output_type == "error"]
    assert error.ename == "KeyboardInterrupt"
    (panel,) = [o for o in outputs(nb, 0) if o.output_type == "display_data"]
    assert 'data-state="failed"' in panel.data["text/html"] and "Login failed: the login was cancelled" in panel.data["text/html"]
    assert stdout_of(nb, 1) == "still here\n"
    assert ended - interrupted[0] < 30  # the login waits up to 80s: it did not
    # A login that fails says why, in the panel and in its exception.
    assert stdout_of(nb, 2) == "ProfileNotFound 6 PROFILE_NOT_FOUND\n"
    (panel,) = [o for o in outputs(nb, 2) if o.output_type == "display_data"]
    assert 'Login failed: profile not found: no profile "nope"' in html.unescape(panel.data["text/html"])
    assert json.loads(world.authc("status", "--json").stdout)["profiles"][0]["state"] != "logged_in"
