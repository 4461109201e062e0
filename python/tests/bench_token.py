"""How long authd.token() takes: on a cached token, and on a cold call
(nothing cached: one run of `authc token --json` against the daemon), with
authc run alone for comparison. Prints a table; asserts nothing.

    python/run-tests.sh --bench
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from pathlib import Path

import authd
from authd import _token

import harness


def main() -> None:
    prebuilt = os.environ.get("AUTHD_TEST_BIN")
    with tempfile.TemporaryDirectory(prefix="authd-py-bin-") as d:
        bins = (
            {n: os.path.join(prebuilt, n) for n in ("authd", "authc", "browserdriver", "pyharness")}
            if prebuilt
            else harness.build(Path(d))
        )
        world = harness.World(bins)
        try:
            world.login()
            os.environ.update(world.vars)
            authd.token()

            n = 20000
            cached = min(timeit.repeat(authd.token, number=n, repeat=5)) / n

            def cold() -> float:
                _token.cache.clear()
                t0 = time.perf_counter()
                authd.token()
                return time.perf_counter() - t0

            colds = [cold() for _ in range(200)]
            argv = [bins["authc"], "token", "--json", "--no-login"]

            def alone() -> float:
                t0 = time.perf_counter()
                subprocess.run(argv, capture_output=True, check=True)
                return time.perf_counter() - t0

            alones = [alone() for _ in range(200)]
        finally:
            world.close()

    def row(name: str, xs: list) -> str:
        xs = sorted(xs)
        return f"{name:<34} {statistics.median(xs) * 1e3:>9.2f} {xs[int(len(xs) * 0.9)] * 1e3:>9.2f} {xs[0] * 1e3:>9.2f}"

    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    print(f"{'':<34} {'median ms':>9} {'p90 ms':>9} {'min ms':>9}")
    print(f"{'authd.token(), cached':<34} {cached * 1e3:>9.4f} {'':>9} {'':>9}   ({cached * 1e6:.1f} us, best of 5 x {n})")
    print(row("authd.token(), cold (runs authc)", colds))
    print(row("authc token --json alone", alones))


if __name__ == "__main__":
    main()
