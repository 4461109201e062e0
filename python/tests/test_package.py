"""The installed package: standard library only, typed, and nothing in it
that could hand out or log a refresh token or client secret."""

from __future__ import annotations

import re
from pathlib import Path

import authd
import harness

SRC = Path(authd.__file__).parent


def test_installed_not_imported_from_the_checkout() -> None:
    assert "site-packages" in str(SRC), SRC
    assert (SRC / "py.typed").is_file()


def test_standard_library_only() -> None:
    code = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "import authd\n"
        "new = {m.split('.')[0] for m in set(sys.modules) - before}\n"
        "print(sorted(m for m in new if m not in sys.stdlib_module_names and m != 'authd'))\n"
    )
    r = harness.run_python(code, {"PATH": "/usr/bin:/bin"})
    assert r.returncode == 0 and r.stdout.strip() == "[]", r.stdout + r.stderr


def test_no_secret_names_in_the_code() -> None:
    """The package has no code that reads, keeps or prints a refresh
    token, a client secret or an ID token: their names do not occur in it.
    Nor does it log anything."""
    for f in SRC.glob("*.py"):
        for n, line in enumerate(f.read_text().splitlines(), 1):
            if re.search(r"refresh_token|client_secret|id_token|--id-token", line, re.I):
                assert False, f"{f.name}:{n}: {line.strip()}"
            assert not re.search(r"\bimport logging\b|\blogging\.", line), f"{f.name}:{n}: {line.strip()}"
