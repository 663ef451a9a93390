"""How long the command line takes to start, and how soon a cold long verb shows what it is doing.

    python experiments/bench_startup.py [--repeat 5]

Each command runs in a pseudo-terminal, as a user types it (progress bars show only on a terminal). Goals (issue #30):
``zc-discover --help`` and ``zc-discover benchmarks`` under 1 s; a cold long verb prints its first line within 2 s.
Writes docs/tables/startup.md.
"""
from __future__ import annotations

import argparse
import fcntl
import os
import pty
import select
import shutil
import struct
import sys
import tempfile
import termios
import time
from pathlib import Path

from report import write_table

EXE = str(Path(sys.executable).with_name("zc-discover"))


def run_in_terminal(argv: list[str], env: dict[str, str], until: bytes | None = None,
                    limit: float = 900.0) -> tuple[float, float | None, bytes]:
    """(seconds to exit, seconds to the first byte of output, output) of ``argv`` in a pseudo-terminal; with
    ``until``, stops the command once that text has appeared (its seconds are then the time to it)."""
    start = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:   # a terminal of 120 x 40 (a new pseudo-terminal has 0 columns, where tqdm draws nothing)
        fcntl.ioctl(sys.stdout.fileno(), termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        os.execve(argv[0], argv, env)
    first, out = None, b""
    try:
        while time.perf_counter() - start < limit:
            ready, _, _ = select.select([fd], [], [], 0.05)
            if not ready:
                if os.waitpid(pid, os.WNOHANG) != (0, 0):
                    break
                continue
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            first = first if first is not None else time.perf_counter() - start
            out += chunk
            if until is not None and until in out:
                os.kill(pid, 9)
                break
    finally:
        elapsed = time.perf_counter() - start
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
        os.close(fd)
    return elapsed, first, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5, help="runs of each quick command (the best is reported)")
    args = parser.parse_args()
    env = dict(os.environ)
    rows = ["| command | seconds (best of %d) | goal |" % args.repeat, "|---|---|---|"]
    for words, goal in ((["--help"], "< 1 s"), (["--version"], ""), (["benchmarks"], "< 1 s"), ([], "")):
        best = min(run_in_terminal([EXE, *words], env)[0] for _ in range(args.repeat))
        typed = " ".join(["zc-discover", *words])
        rows.append(f"| `{typed}`{'' if words else ' (no verb: its usage)'} | {best:.2f} | {goal} |")
        print(rows[-1], flush=True)
    with tempfile.TemporaryDirectory() as scratch:
        cold = {**env, "ZC_DISCOVER_CACHE": str(Path(scratch) / "cache")}
        # a cold long verb: the first line, then the first progress bar (then it is stopped)
        _, first, _ = run_in_terminal([EXE, "score", "lts-gpt2-wt103", "--proxy", "params"], cold, until=b"%|")
        bar, _, _ = run_in_terminal([EXE, "score", "lts-gpt2-wt103", "--proxy", "params"],
                                    {**cold, "ZC_DISCOVER_CACHE": str(Path(scratch) / "cache2")}, until=b"%|")
        shutil.rmtree(scratch, ignore_errors=True)
    rows.append(f"| `zc-discover score lts-gpt2-wt103 --proxy params`, cold: first line | "
                f"{first if first is not None else float('nan'):.2f} | < 2 s |")
    rows.append(f"| the same: first progress bar (what, how many, time left) | {bar:.2f} | |")
    print("\n".join(rows[-2:]))
    write_table("startup", "\n".join(rows), "experiments/bench_startup.py",
                "Each command in a pseudo-terminal, as typed; the cold verb from an empty feature cache, stopped at its "
                "first progress bar.")


if __name__ == "__main__":
    main()
