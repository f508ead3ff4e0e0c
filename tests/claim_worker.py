"""A claiming process for the concurrency tests: claims until nothing is left, one id per line to OUT.

usage: python -m tests.claim_worker REMOTE CACHE_DIR RUNNER OUT START_FILE
"""

from __future__ import annotations

import random
import sys
import time
from datetime import timedelta
from pathlib import Path

from coordinator.core import transitions as T
from coordinator.store.remote import Remote
from coordinator.store.store import StateStore


def main() -> None:
    remote, cache, runner, out, start = sys.argv[1:6]
    deadline = time.monotonic() + 30
    while not Path(start).exists() and time.monotonic() < deadline:  # start together: maximum contention
        time.sleep(0.005)
    with StateStore(Remote.parse(remote), cache_dir=Path(cache)) as store, open(out, "w") as sink:
        while True:
            change = store.update(
                lambda s, now: T.claim(s, runner=runner, capabilities=(), lease_ttl=timedelta(hours=1), now=now)
            )
            if change.task is None:
                break
            sink.write(change.task.id + "\n")
            sink.flush()
            # A runner works on what it claimed before claiming again; a writer in a tight loop that always
            # pushes on top of its own last commit would otherwise win every race (see docs on fairness).
            time.sleep(random.uniform(0.005, 0.03))
        sink.write(f"# rejections={store.stats['rejections']}\n")


if __name__ == "__main__":
    main()
