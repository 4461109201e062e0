"""authd.login() and logout() in a terminal, against the real daemon and
a real browser; authc login --json as the daemon streams it; and the
Jupyter panel's drawing of hostile events."""

from __future__ import annotations

import json
import re
import sys

import pytest

import authd
import harness
from authd import _panel
from conftest import use

# What authc login --device prints on stderr (cmd/authc/login.go).
DEVICE_LINE = r"To log in, visit (\S+) and enter the code (\S+)\n"
# The test provider's user, as authd names the account.
ACCOUNT = "alice@example.com"


def test_login_json_events_from_the_daemon(world: harness.World, chromium: None) -> None:
    login = harness.Running([world.bins["authc"], "login", "--device", "--json"], world.env)
    uri, code = login.wait_stderr(DEVICE_LINE).groups()
    world.drive_device(uri, code)
    rc, out, err = login.wait()
    assert rc == 0, err
    events = [json.loads(l) for l in out.splitlines()]
    assert [e["event"] for e in events] == ["device_code", "done"], events
    dc, done = events
    assert dc["verification_uri"] == uri and dc["user_code"] == code
    assert dc["verification_uri_complete"].startswith(uri) and code in dc["verification_uri_complete"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", dc["expires_at"])
    assert done["account"] == ACCOUNT and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", done["expiry"])
    # Logged in already: says so, and starts nothing.
    again = world.authc("login", "--device", "--json")
    assert [json.loads(l) for l in again.stdout.splitlines()] == [{"event": "done", "account": ACCOUNT, "already_logged_in": True, "expiry": done["expiry"]}]


def test_terminal_login_shows_what_authc_shows(world: harness.World, chromium: None) -> None:
    """In a terminal (here a pipe) the user reads authc's own lines, and
    the program gets its token afterwards."""
    script = "import authd; authd.login(device=True); print('token', len(authd.token().access_token) > 0)"
    login = harness.Running([sys.executable, "-c", script], harness.python_env(world))
    uri, code = login.wait_stderr(DEVICE_LINE).groups()
    world.drive_device(uri, code)
    rc, out, err = login.wait()
    assert rc == 0, err
    assert out == "token True\n"  # no JSON: the events are the package's to read
    lines = err.splitlines()
    assert lines[0] == f"To log in, visit {uri} and enter the code {code}"
    assert lines[1].startswith("or open ") and code in lines[1]
    assert lines[2].startswith("The code expires in ") and lines[2].endswith("Waiting for approval... (Ctrl-C stops waiting)")
    assert re.fullmatch(r"Logged in as alice@example\.com \(the token expires in (5m|4m\d+s)\)\.", lines[3]), lines
    assert len(lines) == 4, err


def test_denied_login_raises_login_failed(world: harness.World, chromium: None) -> None:
    script = (
        "import authd\n"
        "try:\n"
        "    authd.login(device=True)\n"
        "except authd.LoginFailed as e:\n"
        "    print(type(e).__name__, e.exit_code, e.reason, e.message, sep='|')\n"
    )
    login = harness.Running([sys.executable, "-c", script], harness.python_env(world))
    complete = login.wait_stderr(r"(?m)^or open (\S+)\n").group(1)
    world.drive_device(complete, action="device-deny")
    rc, out, err = login.wait()
    assert rc == 0, err
    name, code, reason, message = out.strip().split("|")
    assert (name, code, reason) == ("LoginFailed", "7", "LOGIN_FAILED")
    assert "denied" in message.lower()
    assert "authc: " + message in err  # authc's own line, as it printed it


def test_logout_forgets_the_cache(logged_in: harness.World, monkeypatch: pytest.MonkeyPatch) -> None:
    use(monkeypatch, logged_in)
    authd.token()
    authd.logout("work")
    with pytest.raises(authd.LoginRequired):
        authd.token()


def test_notebook_or_terminal(world: harness.World) -> None:
    """The panel is for a Jupyter kernel's shell only: not for plain
    Python, nor for IPython in a terminal."""
    code = (
        "import IPython\n"
        "from authd._login import notebook_shell\n"
        "assert notebook_shell() is None\n"
        "from IPython.terminal.interactiveshell import TerminalInteractiveShell\n"
        "shell = TerminalInteractiveShell.instance()\n"
        "assert IPython.get_ipython() is shell and notebook_shell() is None\n"
        "shell.kernel = object()  # what ipykernel's shell has\n"
        "assert notebook_shell() is shell\n"
    )
    r = harness.run_python(code, harness.python_env(world, IPYTHONDIR=str(world.dir / "ipython")))
    assert r.returncode == 0, r.stderr


HOSTILE = "<script>alert(1)</script>\x1b]0;pwned\x07\u202e"


def test_panel_draws_hostile_text_inert() -> None:
    p = _panel.LoginPanel("work<b>")
    p.event({"event": "waiting", "started_by": HOSTILE})
    p.event({"event": "open_url", "url": "javascript:alert(1)", "redirect_uri": "http://127.0.0.1:4242/callback", "opened": False})
    p.event({
        "event": "device_code",
        "verification_uri": "http://127.0.0.1:1/device?x=\"><script>",
        "user_code": "AB<CD>",
        "verification_uri_complete": "http://127.0.0.1:1/device?user_code=ABCD",
        "expires_at": "2030-01-01T12:00:00Z",
    })
    p.fail(HOSTILE)
    html = p.html()
    assert "<script>" not in html and "\x1b" not in html and "\u202e" not in html
    assert 'href="javascript:' not in html and "javascript:alert(1)" in html  # shown, not a link
    assert "AB&lt;CD&gt;" in html and 'href="http://127.0.0.1:1/device?x=&quot;&gt;&lt;script&gt;"' in html
    assert "<svg" in html and "ssh -L 4242:127.0.0.1:4242" in html and "12:00:00 UTC" in html
    assert "work&lt;b&gt;" in html
    text = p.text()
    assert "\x1b" not in text and "\\x1b]0;pwned\\x07\\u202e" in text
    assert "To log in, visit http://127.0.0.1:1/device?x=\"><script> and enter the code AB<CD>" in text


def test_panel_states() -> None:
    p = _panel.LoginPanel(None)
    assert p.status() == "Starting the login..."
    p.event({"event": "device_code", "verification_uri": "https://idp/device", "user_code": "WDJB-MJHT"})
    assert p.status().startswith("Waiting for approval")
    assert "or open" not in p.html()  # no complete URI: no such link, the QR code of the bare one
    p.event({"event": "done", "account": "alice", "expiry": "2030-01-01T12:05:00Z"})
    assert p.status() == "Logged in as alice (the token expires at 12:05:00 UTC)."
    assert 'data-state="done"' in p.html()
    q = _panel.LoginPanel(None)
    q.event({"event": "done", "account": "alice", "already_logged_in": True})
    assert q.status() == "Already logged in as alice; authd.login(force=True) logs in again."
    bundle = q._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html"}
