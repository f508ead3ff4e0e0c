"""Start-up time of ``coordinator --version`` against a bare ``python3 -c pass``.

Run ``python benchmarks/startup.py [--runs 20]``. Each command is started ``--runs`` times (after two untimed
warm-up runs), round-robin so that drift in machine load hits every command alike; the report shows medians and
the ratio to the matching bare interpreter start. Target: ratio <= 3x. Always exits 0.

Pairs measured (each against the interpreter the command really runs on):
- ``coordinator --version`` as found on PATH        vs ``python3 -c pass`` as found on PATH
- the console script next to ``sys.executable``     vs ``sys.executable -c pass``
- ``sys.executable -m coordinator --version``        vs ``sys.executable -c pass``
PATH entries may be wrappers (pyenv shims, for instance), which is why the first pair compares like with like.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

TARGET = 3.0
WARMUP = 2


def run_once(argv: Sequence[str]) -> float:
    """Seconds one run of ``argv`` takes, start to exit."""
    began = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - began


def check_output(argv: Sequence[str]) -> str:
    """What ``argv`` prints (first line), to show the command really answered."""
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    text = (proc.stdout or proc.stderr).strip().splitlines()
    return (text[0] if text else "") + ("" if proc.returncode == 0 else f" (exit {proc.returncode})")


def main(argv: Sequence[str] | None = None) -> int:
    """Time every command and print medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="timed runs per command (default 20)")
    args = parser.parse_args(argv)

    python = sys.executable
    commands: dict[str, list[str]] = {}
    pairs: list[tuple[str, str]] = []
    on_path, python3 = shutil.which("coordinator"), shutil.which("python3")
    if on_path and python3:
        commands["coordinator --version (PATH)"] = [on_path, "--version"]
        commands["python3 -c pass (PATH)"] = [python3, "-c", "pass"]
        pairs.append(("coordinator --version (PATH)", "python3 -c pass (PATH)"))
    commands["sys.executable -c pass"] = [python, "-c", "pass"]
    script = Path(python).with_name("coordinator")
    if script.exists() and str(script) != on_path:
        commands["console script beside sys.executable"] = [str(script), "--version"]
        pairs.append(("console script beside sys.executable", "sys.executable -c pass"))
    commands["sys.executable -m coordinator --version"] = [python, "-m", "coordinator", "--version"]
    pairs.append(("sys.executable -m coordinator --version", "sys.executable -c pass"))

    print(f"startup benchmark: {args.runs} timed runs per command (median), Python {sys.version.split()[0]}")
    for label, command in commands.items():
        print(f"  {label:<42} {' '.join(command)}")
        if "--version" in command:
            print(f"  {'':<42} -> {check_output(command)}")

    for _ in range(WARMUP):  # fill the OS file cache (and .pyc files) before timing
        for command in commands.values():
            run_once(command)
    times: dict[str, list[float]] = {label: [] for label in commands}
    for _ in range(args.runs):
        for label, command in commands.items():
            times[label].append(run_once(command))

    print()
    medians = {label: statistics.median(values) for label, values in times.items()}
    for label, values in times.items():
        print(f"  {label:<42} median {medians[label] * 1000:6.1f} ms   (min {min(values) * 1000:6.1f} ms)")
    print()
    for measured, baseline in pairs:
        ratio = medians[measured] / medians[baseline]
        verdict = "PASS" if ratio <= TARGET else "MISS"
        print(f"  {measured} / {baseline}: {ratio:.2f}x   target <= {TARGET:.0f}x: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
