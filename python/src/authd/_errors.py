"""The exceptions of authd: one for each of authc's exit codes."""

from __future__ import annotations

from typing import Dict, Optional, Type

__all__ = [
    "Error",
    "UsageError",
    "LoginRequired",
    "DaemonNotRunning",
    "ProviderUnavailable",
    "ProfileNotFound",
    "LoginFailed",
    "KeyringLocked",
    "PermissionDenied",
    "TokenLifetimeTooShort",
    "Interrupted",
    "AuthcNotFound",
]


class Error(Exception):
    """An error of authd, as authc reported it.

    ``message`` is authc's own line (what it prints after ``authc:``),
    ``exit_code`` authc's exit code (None when authc did not run), and
    ``reason`` the reason authd gave, such as ``"LOGIN_FAILED"``, when
    authc told it (``authc login --json`` does).
    """

    exit_code: Optional[int] = None

    def __init__(self, message: str, *, exit_code: Optional[int] = None, reason: Optional[str] = None) -> None:
        super().__init__(message)
        self.message = message
        if exit_code is not None:
            self.exit_code = exit_code
        self.reason = reason

    def __str__(self) -> str:
        return self.message


class UsageError(Error):
    """authc refused its command line (exit code 2)."""

    exit_code = 2


class LoginRequired(Error):
    """Nobody is logged in to the profile, or the provider ended the session
    (exit code 3): log in with :func:`authd.login` or ``authc login``."""

    exit_code = 3

    def __str__(self) -> str:
        return self.message + " (in Python: authd.login())"


class DaemonNotRunning(Error):
    """authd is not running, or did not answer at all (exit code 4)."""

    exit_code = 4


class ProviderUnavailable(Error):
    """The identity provider is unreachable or failing, or authd did not
    finish the call in time while waiting on it (exit code 5)."""

    exit_code = 5


class ProfileNotFound(Error):
    """No profile of that name, or the config file is invalid (exit code 6)."""

    exit_code = 6


class LoginFailed(Error):
    """The login failed, was cancelled or denied at the provider, or did not
    finish in time (exit code 7)."""

    exit_code = 7


class KeyringLocked(Error):
    """The keyring authd keeps the session in is locked or unavailable
    (exit code 8)."""

    exit_code = 8


class PermissionDenied(Error):
    """The socket or the daemon belongs to another user, or the socket's
    directory cannot be entered (exit code 9)."""

    exit_code = 9


class TokenLifetimeTooShort(Error):
    """The provider's tokens live shorter than the ``min_valid`` asked for
    (exit code 10)."""

    exit_code = 10


class Interrupted(Error):
    """authc was interrupted by a signal (exit codes 130 and 143)."""

    exit_code = 130


class AuthcNotFound(Error):
    """The authc command is not installed where authd looks for it."""


# The exceptions by authc's exit code; every other code is Error.
_BY_EXIT_CODE: Dict[int, Type[Error]] = {
    cls.exit_code: cls  # type: ignore[misc]
    for cls in (
        UsageError,
        LoginRequired,
        DaemonNotRunning,
        ProviderUnavailable,
        ProfileNotFound,
        LoginFailed,
        KeyringLocked,
        PermissionDenied,
        TokenLifetimeTooShort,
        Interrupted,
    )
}
_BY_EXIT_CODE[143] = Interrupted


def error_for(exit_code: int, message: str, reason: Optional[str] = None) -> Error:
    """Returns the exception for an exit code of authc."""
    cls = _BY_EXIT_CODE.get(exit_code, Error)
    return cls(message, exit_code=exit_code, reason=reason)
