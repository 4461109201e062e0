"""Logging in and out through authc: in a terminal as authc shows it, in
Jupyter as a live panel fed by ``authc login --json``."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from collections import deque
from typing import Any, Callable, Deque, Dict, List, Optional, Tuple

from . import _authc
from ._panel import LoginPanel
from ._token import cache

# How long an authc that the user interrupted (Ctrl-C reaches it too, in a
# terminal and from Jupyter) gets to end by itself, and then after
# SIGINT, before it is killed.
_CANCEL_GRACE = 1.0
_KILL_AFTER = 3.0


def login(profile: Optional[str] = None, *, device: Optional[bool] = None, force: bool = False) -> None:
    """Logs in to a profile (the default profile when None) in the user's
    own browser, and returns once the login is done.

    In a terminal it shows what ``authc login`` shows. In Jupyter it shows
    a panel with the link to open, or with the device flow the code and a
    QR code, and a status line that ends with who logged in, or the error.

    device=True asks for the device flow (a code to enter on any device:
    what a remote kernel, such as one on JupyterHub, needs); device=False
    keeps the browser flow and shows its URL instead of opening a browser
    (the browser must then reach the kernel's machine, the URL's port
    forwarded); None leaves it to the profile and authc: the device flow
    where no browser can be opened. force=True logs in again when logged
    in already.

    Raises LoginFailed, ProviderUnavailable, ... (all authd.Error) with
    authc's message, and KeyboardInterrupt after an interrupt, which
    cancels the login.
    """
    if profile is not None and not isinstance(profile, str):
        raise TypeError(f"profile must be a string, not {type(profile).__name__}")
    args = ["login", "--json"]
    if profile:
        args.append("--profile=" + profile)
    if device is True:
        args.append("--device")
    elif device is False:
        args.append("--no-browser")
    if force:
        args.append("--force")
    shell = notebook_shell()
    try:
        if shell is not None:
            _login_in_notebook(args, profile)
        else:
            _login_in_terminal(args)
    finally:
        cache.clear()


def logout(profile: Optional[str] = None) -> None:
    """Logs out of a profile (the default profile when None): authd
    forgets its tokens, and so does this process. Prints what ``authc
    logout`` prints."""
    if profile is not None and not isinstance(profile, str):
        raise TypeError(f"profile must be a string, not {type(profile).__name__}")
    args = ["logout"] + (["--profile=" + profile] if profile else [])
    try:
        out = _authc.run(args)
    finally:
        cache.clear()
    if out.stderr:
        # In Jupyter stderr is drawn as a warning: a logout is none.
        stream = sys.stdout if notebook_shell() is not None else sys.stderr
        stream.write(out.stderr)
        stream.flush()


def notebook_shell() -> Any:
    """Returns the IPython shell of a Jupyter kernel, or None elsewhere
    (plain Python, a terminal IPython)."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return None
    try:
        shell = ipython.get_ipython()
    except Exception:  # an IPython that cannot say is no notebook
        return None
    if shell is None or getattr(shell, "kernel", None) is None:
        return None
    return shell


def _login_in_terminal(args: List[str]) -> None:
    """Runs authc login with the terminal's stderr, where it talks to the
    user (a QR code included), and reads its result from --json."""
    try:
        fd: Optional[int] = sys.stderr.fileno()
        sys.stderr.flush()
    except (AttributeError, OSError, ValueError):
        fd = None  # a stderr of Python's own (captured): copy authc's there
    last: Dict[str, Any] = {}

    def on_event(ev: Dict[str, Any]) -> None:
        if ev.get("event") in ("done", "error"):
            last.clear()
            last.update(ev)

    rc, stderr = _run_login(args, on_event, stderr_fd=fd, echo=None if fd is not None else sys.stderr)
    if rc != 0:
        raise _authc.failure(rc, stderr, last.get("message"), last.get("reason"))


def _login_in_notebook(args: List[str], profile: Optional[str]) -> None:
    from IPython.display import display  # the shell is there: so is IPython

    panel = LoginPanel(profile)
    handle = display(panel, display_id=True)

    def show() -> None:
        if handle is not None:
            handle.update(panel)

    def on_event(ev: Dict[str, Any]) -> None:
        panel.event(ev)
        show()

    try:
        rc, stderr = _run_login(args, on_event, stderr_fd=None, echo=None)
    except KeyboardInterrupt:
        panel.fail("the login was cancelled")
        show()
        raise
    except BaseException as e:
        panel.fail(str(e))
        show()
        raise
    if rc != 0:
        err = _authc.failure(rc, stderr, panel.error_message, panel.error_reason)
        panel.fail(err.message)
        show()
        raise err
    panel.finish()
    show()


def _run_login(
    args: List[str],
    on_event: Callable[[Dict[str, Any]], None],
    stderr_fd: Optional[int],
    echo: Any,
) -> Tuple[int, str]:
    """Runs authc with args, calling on_event with each JSON line it
    prints. stderr goes to stderr_fd, or else is kept (and copied to echo
    as it comes). Returns authc's exit status and the stderr kept."""
    argv = _authc.command(args)
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr_fd if stderr_fd is not None else subprocess.PIPE,
            encoding="utf-8",
            errors="replace",
        )
    except OSError as e:
        raise _authc.AuthcNotFound(f"cannot run authc at {argv[0]}: {e.strerror or e}; {_authc.INSTALL_ADVICE}") from None
    kept: Deque[str] = deque(maxlen=200)
    reader = None
    if proc.stderr is not None:
        reader = threading.Thread(target=_keep_lines, args=(proc.stderr, kept, echo), daemon=True)
        reader.start()
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            if isinstance(ev, dict):
                on_event(ev)
        rc = proc.wait()
    except BaseException:
        _stop(proc)
        raise
    finally:
        if reader is not None:
            reader.join(timeout=_KILL_AFTER)
    return rc, "".join(kept)


def _keep_lines(stream: Any, kept: Deque[str], echo: Any) -> None:
    for line in stream:
        kept.append(line)
        if echo is not None:
            echo.write(line)
            echo.flush()


def _stop(proc: subprocess.Popen) -> None:
    """Ends an authc login that Python gave up on: Ctrl-C (which authc may
    have had already), then a kill."""
    try:
        proc.wait(timeout=_CANCEL_GRACE)
        return
    except subprocess.TimeoutExpired:
        pass
    try:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=_KILL_AFTER)
        return
    except (subprocess.TimeoutExpired, ValueError, OSError):  # ValueError: Windows has no SIGINT to send
        pass
    try:
        proc.kill()
    except OSError:
        return
    proc.wait()
