"""The panel's QR codes are the codes authc draws (rsc.io/qr), module for
module, at every version and both levels."""

from __future__ import annotations

import subprocess
from typing import Dict, List

import pytest

from authd import _qr


def reference(bins: Dict[str, str], text: str, level: str, mask: int) -> List[str]:
    out = subprocess.run([bins["pyharness"], "qr", "-level", level, "-mask", str(mask), text], capture_output=True, text=True, check=True)
    return out.stdout.split()


def rows(m: _qr.Matrix) -> List[str]:
    return ["".join("1" if dark else "0" for dark in row) for row in m]


def longest(version: int, level: str) -> int:
    """The longest text in bytes that version holds at level."""
    grid = _qr._Grid(version)
    data = grid.codewords() - _qr._ECC_PER_BLOCK[level][version] * _qr._BLOCKS[level][version]
    return (8 * data - 4 - (8 if version < 10 else 16)) // 8


@pytest.mark.parametrize("level", ["L", "M"])
def test_every_version_matches_rsc_qr(bins: Dict[str, str], level: str) -> None:
    url = "https://login.example.com/device?user_code=WDJB-MJHT&x="
    for version in range(1, 41):
        n = longest(version, level)
        text = (url * (n // len(url) + 1))[:n]
        masks = range(8) if version <= 2 else [version % 8]
        for mask in masks:
            got = rows(_qr.encode(text, level, mask))
            assert len(got) == 4 * version + 17, (version, mask)
            assert got == reference(bins, text, level, mask), f"version {version}, level {level}, mask {mask}"


def test_utf8_and_default_mask(bins: Dict[str, str]) -> None:
    text = "https://idp.example/gerät?code=ÄÖÜ-1234"
    best = _qr.encode(text)
    mask = next(m for m in range(8) if rows(_qr.encode(text, "L", m)) == rows(best))
    assert rows(best) == reference(bins, text, "L", mask)
    assert best != _qr.encode(text, "L", (mask + 1) % 8)


def test_svg() -> None:
    svg = _qr.svg(_qr.encode("http://x"), label="QR")
    assert svg.startswith("<svg") and 'viewBox="0 0 29 29"' in svg and 'aria-label="QR"' in svg
    with pytest.raises(ValueError):
        _qr.encode("x" * 3000)
