"""QR codes (ISO/IEC 18004) of the device flow's URL, for the login panel:
byte mode only, at the smallest version that holds the text, with the
mask of least penalty. authc draws the same code on a terminal.
"""

from __future__ import annotations

from typing import List, Optional, Sequence

Matrix = List[List[bool]]

# Error correction codewords per block, and the number of blocks, of
# versions 1 to 40 (index 0 unused), per level.
_ECC_PER_BLOCK = {
    "L": (0, 7, 10, 15, 20, 26, 18, 20, 24, 30, 18, 20, 24, 26, 30, 22, 24, 28, 30, 28, 28,
          28, 28, 30, 30, 26, 28, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30),
    "M": (0, 10, 16, 26, 18, 24, 16, 18, 22, 22, 26, 30, 22, 22, 24, 24, 28, 28, 26, 26, 26,
          26, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28),
}
_BLOCKS = {
    "L": (0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 4, 4, 4, 4, 4, 6, 6, 6, 6, 7, 8,
          8, 9, 9, 10, 12, 12, 12, 13, 14, 15, 16, 17, 18, 19, 19, 20, 21, 22, 24, 25),
    "M": (0, 1, 1, 1, 2, 2, 4, 4, 4, 5, 5, 5, 8, 9, 9, 10, 10, 11, 13, 14, 16,
          17, 17, 18, 20, 21, 23, 25, 26, 28, 29, 31, 33, 35, 37, 38, 40, 43, 45, 47, 49),
}
# The two bits of each level in the format information.
_LEVEL_BITS = {"L": 0b01, "M": 0b00}

_MASKS = (
    lambda r, c: (r + c) % 2 == 0,
    lambda r, c: r % 2 == 0,
    lambda r, c: c % 3 == 0,
    lambda r, c: (r + c) % 3 == 0,
    lambda r, c: (r // 2 + c // 3) % 2 == 0,
    lambda r, c: (r * c) % 2 + (r * c) % 3 == 0,
    lambda r, c: ((r * c) % 2 + (r * c) % 3) % 2 == 0,
    lambda r, c: ((r + c) % 2 + (r * c) % 3) % 2 == 0,
)


def encode(text: str, level: str = "L", mask: Optional[int] = None) -> Matrix:
    """Returns the QR code of text (UTF-8, byte mode) as rows of modules,
    True for dark, without the quiet zone. mask forces a mask pattern
    (0 to 7); by default the one of least penalty is used."""
    if level not in _ECC_PER_BLOCK:
        raise ValueError(f"unsupported error correction level {level!r}")
    if mask is not None and not 0 <= mask <= 7:
        raise ValueError("mask must be 0 to 7")
    data = text.encode("utf-8")
    for version in range(1, 41):
        grid = _Grid(version)
        capacity = grid.codewords() - _ECC_PER_BLOCK[level][version] * _BLOCKS[level][version]
        count_bits = 8 if version < 10 else 16
        if 4 + count_bits + 8 * len(data) <= 8 * capacity:
            break
    else:
        raise ValueError("text too long for a QR code")

    bits: List[int] = []

    def put(value: int, n: int) -> None:
        bits.extend((value >> i) & 1 for i in range(n - 1, -1, -1))

    put(0b0100, 4)  # byte mode
    put(len(data), count_bits)
    for b in data:
        put(b, 8)
    put(0, min(4, 8 * capacity - len(bits)))  # terminator
    put(0, -len(bits) % 8)
    codewords = [int("".join(map(str, bits[i:i + 8])), 2) for i in range(0, len(bits), 8)]
    pad = (0xEC, 0x11)
    while len(codewords) < capacity:
        codewords.append(pad[(len(codewords) - len(bits) // 8) % 2])

    grid.place(_interleave(codewords, version, level))
    if mask is None:
        mask = min(range(8), key=lambda m: _penalty(grid.masked(m, level)))
    return grid.masked(mask, level)


def _interleave(data: Sequence[int], version: int, level: str) -> List[int]:
    """Splits data into blocks, adds each block's error correction, and
    interleaves them as the symbol holds them."""
    nblocks = _BLOCKS[level][version]
    ecc_len = _ECC_PER_BLOCK[level][version]
    total = len(data) + nblocks * ecc_len
    short = nblocks - total % nblocks  # blocks with one data codeword less
    short_len = total // nblocks - ecc_len
    blocks, eccs = [], []
    start = 0
    gen = _generator(ecc_len)
    for i in range(nblocks):
        n = short_len + (0 if i < short else 1)
        block = list(data[start:start + n])
        start += n
        blocks.append(block)
        eccs.append(_remainder(block, gen))
    out = []
    for i in range(short_len + 1):
        out.extend(b[i] for b in blocks if i < len(b))
    for i in range(ecc_len):
        out.extend(e[i] for e in eccs)
    return out


# GF(256) with the polynomial x^8 + x^4 + x^3 + x^2 + 1.
_EXP = [0] * 512
_LOG = [0] * 256
_x = 1
for _i in range(255):
    _EXP[_i] = _x
    _LOG[_x] = _i
    _x <<= 1
    if _x & 0x100:
        _x ^= 0x11D
for _i in range(255, 512):
    _EXP[_i] = _EXP[_i - 255]


def _mul(a: int, b: int) -> int:
    if a == 0 or b == 0:
        return 0
    return _EXP[_LOG[a] + _LOG[b]]


def _generator(degree: int) -> List[int]:
    """The Reed-Solomon generator polynomial of degree, highest term first
    (its leading 1 left out)."""
    poly = [1]
    for i in range(degree):
        # poly * (x - a^i); subtraction is addition in GF(2^8)
        nxt = poly + [0]
        for j in range(len(poly)):
            nxt[j + 1] ^= _mul(poly[j], _EXP[i])
        poly = nxt
    return poly[1:]


def _remainder(data: Sequence[int], gen: Sequence[int]) -> List[int]:
    rem = [0] * len(gen)
    for b in data:
        factor = b ^ rem[0]
        rem = rem[1:] + [0]
        for j, g in enumerate(gen):
            rem[j] ^= _mul(g, factor)
    return rem


def _bch(value: int, generator: int, bits: int) -> int:
    """value followed by its BCH check bits under generator."""
    rem = value << bits
    glen = generator.bit_length()
    while rem.bit_length() >= glen:
        rem ^= generator << (rem.bit_length() - glen)
    return (value << bits) | rem


class _Grid:
    """A symbol of one version: its function patterns, reserved areas and
    data modules."""

    def __init__(self, version: int) -> None:
        self.version = version
        self.size = n = 4 * version + 17
        self.dark = [[False] * n for _ in range(n)]
        self.fixed = [[False] * n for _ in range(n)]
        for r, c in ((0, 0), (0, n - 7), (n - 7, 0)):
            self._finder(r, c)
        for i in range(8, n - 8):
            self._set(6, i, i % 2 == 0)
            self._set(i, 6, i % 2 == 0)
        centers = self._alignment_centers()
        last = len(centers) - 1
        for a, r in enumerate(centers):
            for b, c in enumerate(centers):
                if (a, b) in ((0, 0), (0, last), (last, 0)):
                    continue  # under a finder pattern
                for dr in range(-2, 3):
                    for dc in range(-2, 3):
                        self._set(r + dr, c + dc, max(abs(dr), abs(dc)) != 1)
        # Format information (written with the mask), and the dark module.
        for i in range(9):
            self.fixed[8][i] = self.fixed[i][8] = True
        for i in range(8):
            self.fixed[8][n - 1 - i] = self.fixed[n - 1 - i][8] = True
        self._set(n - 8, 8, True)
        if version >= 7:
            info = _bch(version, 0x1F25, 12)
            for i in range(18):
                bit = bool((info >> i) & 1)
                self._set(i // 3, n - 11 + i % 3, bit)
                self._set(n - 11 + i % 3, i // 3, bit)

    def _set(self, r: int, c: int, dark: bool) -> None:
        self.dark[r][c] = dark
        self.fixed[r][c] = True

    def _finder(self, top: int, left: int) -> None:
        n = self.size
        for dr in range(-1, 8):
            for dc in range(-1, 8):
                r, c = top + dr, left + dc
                if not (0 <= r < n and 0 <= c < n):
                    continue
                ring = max(abs(dr - 3), abs(dc - 3))
                self._set(r, c, ring != 2 and ring != 4)

    def _alignment_centers(self) -> List[int]:
        v = self.version
        if v == 1:
            return []
        count = v // 7 + 2
        last = self.size - 7
        step = 26 if v == 32 else (v * 4 + count * 2 + 1) // (count * 2 - 2) * 2
        return [6] + [last - step * i for i in range(count - 2, -1, -1)]

    def codewords(self) -> int:
        """How many whole codewords the data modules hold."""
        return sum(row.count(False) for row in self.fixed) // 8

    def place(self, codewords: Sequence[int]) -> None:
        """Writes the codewords into the data modules, two columns at a
        time from the right, upwards and downwards in turn; the remainder
        bits stay light."""
        bits = [(b >> i) & 1 for b in codewords for i in range(7, -1, -1)]
        n = self.size
        k = 0
        upward = True
        col = n - 1
        while col > 0:
            if col == 6:  # the vertical timing pattern
                col -= 1
            rows = range(n - 1, -1, -1) if upward else range(n)
            for r in rows:
                for c in (col, col - 1):
                    if not self.fixed[r][c]:
                        self.dark[r][c] = k < len(bits) and bits[k] == 1
                        k += 1
            upward = not upward
            col -= 2

    def masked(self, mask: int, level: str) -> Matrix:
        """Returns the symbol with mask applied and its format information."""
        n = self.size
        fn = _MASKS[mask]
        m = [[self.dark[r][c] ^ (not self.fixed[r][c] and fn(r, c)) for c in range(n)] for r in range(n)]
        fmt = _bch((_LEVEL_BITS[level] << 3) | mask, 0x537, 10) ^ 0x5412
        for i in range(15):
            bit = bool((fmt >> i) & 1)
            # Around the top-left finder...
            if i < 6:
                m[i][8] = bit
            elif i < 8:
                m[i + 1][8] = bit
            elif i == 8:
                m[8][7] = bit
            else:
                m[8][14 - i] = bit
            # ...and split between the other two.
            if i < 8:
                m[8][n - 1 - i] = bit
            else:
                m[n - 15 + i][8] = bit
        return m


def _penalty(m: Matrix) -> int:
    """The mask penalty of ISO/IEC 18004 7.8.3: runs, blocks, finder-like
    patterns and the balance of dark and light."""
    n = len(m)
    score = 0
    lines = m + [list(col) for col in zip(*m)]
    finder = ([True, False, True, True, True, False, True, False, False, False, False],
              [False, False, False, False, True, False, True, True, True, False, True])
    for line in lines:
        run = 1
        for i in range(1, n + 1):
            if i < n and line[i] == line[i - 1]:
                run += 1
                continue
            if run >= 5:
                score += run - 2
            run = 1
        for i in range(n - 10):
            window = line[i:i + 11]
            if window == finder[0] or window == finder[1]:
                score += 40
    for r in range(n - 1):
        for c in range(n - 1):
            if m[r][c] == m[r][c + 1] == m[r + 1][c] == m[r + 1][c + 1]:
                score += 3
    dark = sum(row.count(True) for row in m)
    score += 10 * (abs(dark * 20 - n * n * 10) // (n * n))
    return score


def svg(matrix: Matrix, *, module: int = 4, quiet: int = 4, label: str = "QR code") -> str:
    """Returns the code as an SVG element: dark modules on white, with a
    quiet zone, module pixels a side."""
    size = len(matrix) + 2 * quiet
    parts = []
    for r, row in enumerate(matrix):
        c = 0
        while c < len(row):
            if not row[c]:
                c += 1
                continue
            start = c
            while c < len(row) and row[c]:
                c += 1
            parts.append(f"M{start + quiet} {r + quiet}h{c - start}v1h-{c - start}z")
    px = size * module
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{px}" height="{px}" viewBox="0 0 {size} {size}" '
        f'shape-rendering="crispEdges" role="img" aria-label="{label}">'
        f'<rect width="{size}" height="{size}" fill="#fff"/><path fill="#000" d="{"".join(parts)}"/></svg>'
    )
