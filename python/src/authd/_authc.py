"""Running authc, authd's command-line client: where it is, and what its
exit codes and error lines mean."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from typing import List, Optional, Sequence

from ._errors import AuthcNotFound, Error, error_for

# AUTHC_ENV names the authc binary to run instead of the one on PATH.
AUTHC_ENV = "AUTHD_AUTHC"

INSTALL_ADVICE = (
    "install authd's client authc (go install authd.dev/authd/cmd/authc@latest, "
    "or from a checkout: go build -o ~/.local/bin/ ./cmd/authc) and put it on PATH, "
    "or set AUTHD_AUTHC to its path"
)

# authc bounds each of its own waits (30s by default for a call); this
# bounds an authc that is stuck past them.
CALL_TIMEOUT = 75.0


def find() -> str:
    """Returns the path of authc: $AUTHD_AUTHC, else authc on PATH."""
    path = os.environ.get(AUTHC_ENV)
    if path:
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
        raise AuthcNotFound(f"{AUTHC_ENV} names {path!r}, which is not an executable file; {INSTALL_ADVICE}")
    found = shutil.which("authc")
    if found is None:
        raise AuthcNotFound(f"authd's client authc is not on PATH; {INSTALL_ADVICE}")
    return found


def command(args: Sequence[str]) -> List[str]:
    """Returns the argv that runs authc with args."""
    return [find(), *args]


def run(args: Sequence[str], *, input: Optional[str] = None, timeout: float = CALL_TIMEOUT) -> subprocess.CompletedProcess:
    """Runs authc with args and returns what it printed, or raises the
    exception of its exit code with its message."""
    argv = command(args)
    try:
        proc = subprocess.run(
            argv,
            input=input,
            stdin=subprocess.DEVNULL if input is None else None,
            capture_output=True,
            encoding="utf-8",
            errors="replace",
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        raise Error(f"authc {args[0]} did not finish within {timeout:.0f}s") from None
    except OSError as e:
        raise AuthcNotFound(f"cannot run authc at {argv[0]}: {e.strerror or e}; {INSTALL_ADVICE}") from None
    if proc.returncode != 0:
        raise failure(proc.returncode, proc.stderr)
    return proc


def exit_code(returncode: int) -> int:
    """Returns authc's exit code as a shell reports it: 128 plus the signal
    for a process a signal ended (subprocess reports it negative)."""
    return 128 - returncode if returncode < 0 else returncode


def failure(returncode: int, stderr: str, message: Optional[str] = None, reason: Optional[str] = None) -> Error:
    """Returns the exception of a failed authc."""
    code = exit_code(returncode)
    if not message:
        message = error_line(stderr)
    if not message:
        if returncode < 0:
            try:
                name = signal.Signals(-returncode).name
            except ValueError:
                name = f"signal {-returncode}"
            message = f"authc was ended by {name}"
        else:
            message = f"authc exited with code {code}"
    return error_for(code, message, reason)


def error_line(stderr: str) -> str:
    """Returns authc's error message from its stderr: the last line that
    starts with "authc: ", without it, and the indented lines that go on
    with it (an invalid config file's problems, one a line)."""
    lines = stderr.splitlines()
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].startswith("authc: "):
            msg = [lines[i][len("authc: "):]]
            for more in lines[i + 1:]:
                if not more.startswith("  "):
                    break
                msg.append(more)
            return "\n".join(msg)
    return ""
