"""The login panel of Jupyter: what ``authc login --json`` says, drawn as
HTML (and as text for frontends without it), redrawn at each event.

Every value in an event is the daemon's or the provider's text: it is
escaped, links are made of http(s) URLs only, and the text version has its
control characters written as escapes, as authc does on a terminal.
"""

from __future__ import annotations

import html
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional
from urllib.parse import urlsplit

from . import _qr
from ._token import parse_time

# maxText caps one value of an event: a provider's long error text is
# noise, not a message.
_MAX_TEXT = 1000


def _text(v: Any) -> Optional[str]:
    return v if isinstance(v, str) and v else None


def printable(s: str) -> str:
    """s with the characters a terminal acts on written as escapes, and
    capped."""
    out = []
    for ch in s[:_MAX_TEXT]:
        o = ord(ch)
        if o < 0x20 or o == 0x7F or 0x80 <= o <= 0x9F:
            out.append(f"\\x{o:02x}")
        elif 0x202A <= o <= 0x202E or 0x2066 <= o <= 0x2069:
            out.append(f"\\u{o:04x}")
        else:
            out.append(ch)
    if len(s) > _MAX_TEXT:
        out.append(f"... ({len(s) - _MAX_TEXT} more characters)")
    return "".join(out)


def _esc(s: str) -> str:
    return html.escape(printable(s), quote=True)


def _link(url: str, label: str, cls: str) -> str:
    """An HTML link to url, or the label and URL as text when url is not
    http(s) (a javascript: URL from a provider is not a link to click)."""
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        scheme = ""
    if scheme not in ("http", "https"):
        return f"{_esc(label)} (<code>{_esc(url)}</code>)"
    return f'<a class="{cls}" href="{html.escape(url, quote=True)}" target="_blank" rel="noopener noreferrer">{_esc(label)}</a>'


def _clock(t: Optional[datetime]) -> str:
    return t.astimezone(timezone.utc).strftime("%H:%M:%S UTC") if t else ""


class LoginPanel:
    """The state of one login, as the events of ``authc login --json``
    tell it; shown with IPython's display, which calls
    ``_repr_mimebundle_``."""

    def __init__(self, profile: Optional[str]) -> None:
        self.profile = profile
        self.state = "starting"  # starting, waiting, done, failed
        self.started_by: Optional[str] = None
        self.url: Optional[str] = None
        self.opened = False
        self.redirect_uri: Optional[str] = None
        self.device: Optional[Dict[str, Any]] = None
        self.account: Optional[str] = None
        self.expiry: Optional[datetime] = None
        self.already = False
        self.error_message: Optional[str] = None
        self.error_reason: Optional[str] = None
        self._qr: Optional[str] = None

    def event(self, ev: Dict[str, Any]) -> None:
        """Takes one event of authc login --json."""
        kind = ev.get("event")
        if kind == "waiting":
            self.started_by = _text(ev.get("started_by")) or "another client"
            self.state = "waiting"
        elif kind == "open_url" and _text(ev.get("url")):
            self.url = ev["url"]
            self.opened = ev.get("opened") is True
            self.redirect_uri = _text(ev.get("redirect_uri"))
            self.state = "waiting"
        elif kind == "device_code" and _text(ev.get("user_code")) and _text(ev.get("verification_uri")):
            self.device = {
                "verification_uri": ev["verification_uri"],
                "user_code": ev["user_code"],
                "verification_uri_complete": _text(ev.get("verification_uri_complete")),
                "expires_at": parse_time(ev.get("expires_at")),
            }
            target = self.device["verification_uri_complete"] or self.device["verification_uri"]
            try:
                self._qr = _qr.svg(_qr.encode(target), label="QR code of the device login link")
            except ValueError:
                self._qr = None
            self.state = "waiting"
        elif kind == "done":
            self.account = _text(ev.get("account"))
            self.expiry = parse_time(ev.get("expiry"))
            self.already = ev.get("already_logged_in") is True
            self.state = "done"
        elif kind == "error":
            self.error_message = _text(ev.get("message"))
            self.error_reason = _text(ev.get("reason"))

    def finish(self) -> None:
        self.state = "done"

    def fail(self, message: str) -> None:
        self.state = "failed"
        self.error_message = message

    def status(self) -> str:
        """The status line, as text."""
        if self.state == "done":
            who = f" as {self.account}" if self.account else ""
            if self.already:
                return f"Already logged in{who}; authd.login(force=True) logs in again."
            until = f" (the token expires at {_clock(self.expiry)})" if self.expiry else ""
            return f"Logged in{who}{until}."
        if self.state == "failed":
            return f"Login failed: {self.error_message or 'authc did not say why'}"
        if self.device:
            return "Waiting for approval... (interrupt the kernel to stop waiting)"
        if self.url:
            return "Waiting for the browser... (interrupt the kernel to stop waiting)"
        if self.started_by:
            return "Waiting for the login in progress... (interrupt the kernel to stop waiting)"
        return "Starting the login..."

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Dict[str, str]:
        return {"text/plain": self.text(), "text/html": self.html()}

    def text(self) -> str:
        lines = ["authd login" + (f" (profile {printable(self.profile)})" if self.profile else "")]
        if self.started_by:
            lines.append(f"A login is already in progress (started by {printable(self.started_by)}); waiting for it.")
        if self.url:
            if self.opened:
                lines.append("Opened a browser to log in. If it did not open, visit:")
            else:
                lines.append("Open this URL in a browser to log in:")
            lines.append("    " + printable(self.url))
        if self.device:
            d = self.device
            lines.append(f"To log in, visit {printable(d['verification_uri'])} and enter the code {printable(d['user_code'])}")
            if d["verification_uri_complete"]:
                lines.append(f"or open {printable(d['verification_uri_complete'])}")
            if d["expires_at"]:
                lines.append(f"The code expires at {_clock(d['expires_at'])}.")
        lines.append(printable(self.status()))
        return "\n".join(lines)

    def html(self) -> str:
        parts: List[str] = []
        title = "authd login" + (f" &middot; profile <b>{_esc(self.profile)}</b>" if self.profile else "")
        parts.append(f'<div style="font-weight:600;margin-bottom:.4em">{title}</div>')
        if self.started_by:
            parts.append(f"<div>A login is already in progress (started by {_esc(self.started_by)}); waiting for it.</div>")
        if self.url:
            link = _link(self.url, "login page", "authd-login-url")
            if self.opened:
                parts.append(f"<div>A browser was opened to log in. If it did not open, open the {link}.</div>")
            else:
                parts.append(f"<div>Open the {link} to log in.</div>")
                if self.redirect_uri and urlsplit(self.redirect_uri).hostname in ("127.0.0.1", "localhost", "::1"):
                    port = urlsplit(self.redirect_uri).port
                    forward = f" (<code>ssh -L {port}:127.0.0.1:{port} HOST</code>)" if port else ""
                    parts.append(
                        '<div style="font-size:.9em;opacity:.8">The browser returns to '
                        f"<code>{_esc(self.redirect_uri)}</code> on the machine this kernel runs on. "
                        f"From another machine, forward that port first{forward}, "
                        "or log in with <code>authd.login(device=True)</code>.</div>"
                    )
        if self.device:
            d = self.device
            text = [
                f"<div>To log in, visit {_link(d['verification_uri'], d['verification_uri'], 'authd-verification-uri')} "
                "and enter the code</div>",
                '<div style="margin:.3em 0"><code class="authd-user-code" style="font-size:1.5em;'
                f'letter-spacing:.08em;padding:.1em .3em">{_esc(d["user_code"])}</code></div>',
            ]
            if d["verification_uri_complete"]:
                text.append(
                    f"<div>or open {_link(d['verification_uri_complete'], 'this link', 'authd-verification-uri-complete')}"
                    " (the code is in it)" + (", or scan the QR code" if self._qr else "") + ".</div>"
                )
            if d["expires_at"]:
                text.append(f'<div style="font-size:.9em;opacity:.8">The code expires at {_clock(d["expires_at"])}.</div>')
            qr = f'<div style="flex:none">{self._qr}</div>' if self._qr else ""
            parts.append(f'<div style="display:flex;gap:1em;align-items:center">{qr}<div>{"".join(text)}</div></div>')
        color = {"done": "#1a7f37", "failed": "#cf222e"}.get(self.state, "inherit")
        parts.append(
            f'<div class="authd-status" style="margin-top:.5em;color:{color};font-weight:600">{_esc(self.status())}</div>'
        )
        return (
            f'<div class="authd-login" data-state="{self.state}" style="font-family:sans-serif;'
            'border:1px solid #8888;border-radius:6px;padding:.6em .9em;max-width:46em">' + "".join(parts) + "</div>"
        )
