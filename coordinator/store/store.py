"""The state store: read the state branch, apply a pure transition, commit, push with compare-and-swap.

The branch moves only by fast-forward pushes (never forced): when another writer pushed first, git rejects
ours, and we fetch, re-apply the transition to the newer state and try again after a short jittered backoff.
A writer that made the last push tries its next commit on top of it without fetching first (one push per
claim when uncontended); a no-op or a refusal computed from a state that was not freshly fetched is always
re-checked on a fresh one, so "nothing to claim" is never the answer of a stale cache.
"""

from __future__ import annotations

import hashlib
import os
import random
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType

from coordinator.core.dashboard import STATUS_PATH, dashboard
from coordinator.core.dashboard_markdown import status_markdown
from coordinator.core.run_reports import with_run_reports
from coordinator.core.spend import with_spend
from coordinator.core.state import State
from coordinator.core.transitions import Change, Transition
from coordinator.errors import (
    ContentionError,
    CoordinatorError,
    RemoteError,
    SchemaTooNew,
    StateBranchMissing,
    init_command,
)
from coordinator.gitcmd import GitIdentity, last_lines, run_git
from coordinator.ids import DEFAULT_STATE_BRANCH
from coordinator.models import SCHEMA_VERSION, BranchConfig, Meta, StateModel, Task
from coordinator.store.archive import ArchiveReader
from coordinator.store.layout import CONFIG, META, README_FILE, branch_readme, collection, path_of
from coordinator.store.leasewatch import LeaseWatch
from coordinator.store.objects import ObjectCache
from coordinator.store.remote import Remote
from coordinator.store.snapshot import NoMarker, Snapshot
from coordinator.text import terminal_safe
from coordinator.timeutil import utcnow

#: A commit dated more than this ahead of this machine's clock is reported as clock skew.
SKEW_NOTICE_SECONDS = 120.0
DEFAULT_AUTHOR = str(GitIdentity())

#: Every way git says "another push landed first": all mean re-read and retry.
RACE_SPELLINGS = (
    "fetch first",
    "non-fast-forward",
    "stale info",
    "failed to update ref",
    "cannot lock ref",
    "incorrect old value",
    "failed to lock",
    "already exists",
)


class NotAStateBranch(CoordinatorError):
    """The branch exists but is not a state branch (no ``meta.json`` at its root): coordinator never writes to
    it, and does not show it as an empty queue."""

    def __init__(self, remote: str, branch: str) -> None:
        super().__init__(
            f"branch '{branch}' on {remote} is not a state branch (it has no meta.json at its root), so coordinator "
            f"will not touch it: pick the state branch with --branch (default {DEFAULT_STATE_BRANCH}) or create a "
            f"new one with '{init_command(remote, 'NEW')}'"
        )
        self.remote = remote
        self.branch = branch


class _RefVanished(RemoteError):
    """The private ref a fetch wrote was gone when read back."""


#: Each writer fetches into its own ref here (named by its start time), so writers sharing a cache never
#: fight over one ref; a writer that died without closing leaves its ref behind until the next one cleans up.
_PRIVATE_REFS = "refs/coordinator/w"
_STALE_REF_SECONDS = 86400


def _ref_started_at(ref: str) -> float:
    """The start time written in a private ref's name (``…/<epoch>-<pid>-<random>``); infinity if none."""
    stamp = ref.rsplit("/", 1)[-1].split("-", 1)[0]
    return float(stamp) if stamp.isdigit() else float("inf")


def default_cache_dir() -> Path:
    """Where local object caches live: ``COORDINATOR_CACHE_DIR`` or the platform's user cache folder."""
    configured = os.environ.get("COORDINATOR_CACHE_DIR")
    if configured:
        return Path(configured)
    import platformdirs

    return Path(platformdirs.user_cache_dir("coordinator", appauthor=False))


@dataclass(frozen=True)
class FileChange:
    """Who changed a file of the branch last, when (their clock) and with what message (the audit log line)."""

    commit: str
    author: str
    at: str
    message: str


class StateStore:
    """One writer's view of a state branch; thread-safe (operations are serialised)."""

    def __init__(
        self,
        remote: Remote,
        branch: str = DEFAULT_STATE_BRANCH,
        *,
        cache_dir: Path | None = None,
        clock: Callable[[], datetime] = utcnow,
        author: str = DEFAULT_AUTHOR,
        max_wait_seconds: float = 120.0,
        rng: random.Random | None = None,
    ) -> None:
        self.remote = remote
        self.branch = branch
        self._clock = clock
        self._author = author
        self._max_wait = max_wait_seconds
        self._rng = rng or random.Random()
        key = hashlib.sha256(remote.url.encode()).hexdigest()[:16]
        remotes = (cache_dir or default_cache_dir()) / "remotes"
        self._objects = ObjectCache(remotes / f"{key}.git")
        #: How this machine judges leases (by what it saw, not by another machine's clock).
        self.leases = LeaseWatch(remotes / f"{key}.leases.json", clock)
        #: Commits seen dated in the future (a writer's clock is ahead, or ours behind): (author, seconds ahead).
        self.skew: dict[str, float] = {}
        self._snapshot = Snapshot(self._objects)
        self._archive = ArchiveReader(self._objects, self._snapshot.entry)
        self._tip: str | None = None
        self._ref = f"{_PRIVATE_REFS}/{int(time.time())}-{os.getpid()}-{secrets.token_hex(4)}"
        self._drop_stale_refs()
        self._lock = threading.RLock()
        self.stats = {"fetches": 0, "pushes": 0, "rejections": 0}

    # --- lifecycle ---

    def _drop_stale_refs(self) -> None:
        """Delete private refs of writers that died without closing (killed, crashed) a day or more ago."""
        listed = run_git(["for-each-ref", "--format=%(refname)", _PRIVATE_REFS], cwd=self._objects.path)
        cutoff = time.time() - _STALE_REF_SECONDS
        stale = [ref for ref in listed.stdout.split() if _ref_started_at(ref) < cutoff]
        if stale:
            commands = "".join(f"delete {ref}\n" for ref in stale).encode()
            run_git(["update-ref", "--stdin"], cwd=self._objects.path, input_data=commands)

    def close(self) -> None:
        """Drop this writer's private ref and stop git helper processes."""
        run_git(["update-ref", "-d", self._ref], cwd=self._objects.path)
        self._objects.close()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def tip(self) -> str | None:
        """The commit this store last read or wrote."""
        return self._tip

    # --- remote I/O ---

    def _git(self, args: list[str]) -> tuple[int, str, str]:
        result = run_git(args, cwd=self._objects.path, env=self.remote.git_env())
        return result.returncode, result.stdout, self.remote.redact(result.stderr)

    def _remote_failure(self, action: str, stderr: str) -> RemoteError:
        # The remote's own words ("remote: …") are the server's to choose: shown escaped, on one line.
        return RemoteError(
            f"cannot {action} {self.remote.url}: {terminal_safe(last_lines(stderr))}. "
            "Check --remote (or COORDINATOR_REMOTE) and your access to it"
        )

    def remote_tip(self) -> str | None:
        """The branch tip on the remote right now (one cheap round trip), None when there is no branch."""
        rc, out, err = self._git(["ls-remote", "--heads", self.remote.url, f"refs/heads/{self.branch}"])
        if rc != 0:
            raise self._remote_failure("list the branches of", err)
        for line in out.splitlines():
            sha, _, ref = line.partition("\t")
            if ref.strip() == f"refs/heads/{self.branch}":
                return sha.strip()
        return None

    def poll(self) -> bool:
        """Cheaply check whether the branch moved (``git ls-remote``); fetch only when it did.

        Returns True when the tip changed. Afterwards the cached state is known to be current, so an idle
        runner costs one round trip per poll and no fetch.
        """
        # The round trip runs outside the lock: a slot thread recording a result must not wait for it.
        tip = self.remote_tip()
        if tip is None:
            raise StateBranchMissing(str(self.remote), self.branch, credentials=bool(self.remote.secrets))
        with self._lock:
            # A tip fetched but never read (it was not a state branch) is read again, to say so again.
            if tip == self._tip and tip == self._snapshot.commit:
                return False
            self._advance(self.fetch())
            return True

    def fetch(self) -> str | None:
        """Fetch the state branch (objects only where they changed); returns its tip, None when missing."""
        with self._lock:
            try:
                return self._fetch_once()
            except _RefVanished:
                # Another writer's clean-up took our ref for a dead one's (we ran for over a day): fetch again.
                return self._fetch_once()

    def _fetch_once(self) -> str | None:
        with self._lock:
            self.stats["fetches"] += 1
            rc, _, err = self._git(
                [
                    "fetch",
                    "--quiet",
                    "--no-tags",
                    "--no-write-fetch-head",
                    self.remote.url,
                    f"+refs/heads/{self.branch}:{self._ref}",
                ]
            )
            if rc != 0:
                if "couldn't find remote ref" in err or "could not find remote ref" in err:
                    self._tip = None
                    return None
                raise self._remote_failure("fetch from", err)
            tip = self._objects.resolve(self._ref)
            if tip is None:
                raise _RefVanished(f"fetched {self.branch} but cannot read it in {self._objects.path}")
            self._tip = tip
            return tip

    def _push(self, commit: str) -> bool:
        """Push ``commit`` as the new branch tip; False when another writer won the race."""
        self.stats["pushes"] += 1
        rc, out, err = self._git(
            ["push", "--porcelain", "--no-verify", self.remote.url, f"{commit}:refs/heads/{self.branch}"]
        )
        if rc == 0:
            return True
        text = self.remote.redact(out) + "\n" + err
        rejected = [line for line in text.splitlines() if line.startswith("!") or "rejected" in line]
        if any(spelling in text for spelling in RACE_SPELLINGS) and (rejected or "lock" in text):
            self.stats["rejections"] += 1
            return False
        raise self._remote_failure("push to", text)

    # --- reading ---

    @property
    def state(self) -> State:
        """The state at the last commit this store read or wrote (no I/O)."""
        return self._snapshot.state

    def read(self, *, fresh: bool = True) -> State:
        """The state at the remote's tip (``fresh``) or at the last commit this store saw."""
        with self._lock:
            if fresh or self._tip is None:
                self.fetch()
            if self._tip is None:
                raise StateBranchMissing(str(self.remote), self.branch, credentials=bool(self.remote.secrets))
            return self._advance(self._tip)

    def _advance(self, commit: str | None) -> State:
        """The state at ``commit``, read incrementally; refuses a commit that is not on a state branch. Leases are
        observed (see :class:`LeaseWatch`), and a commit dated in the future is noted in :attr:`skew`."""
        moved = commit != self._snapshot.commit
        try:
            state = self._snapshot.advance(commit)
        except NoMarker:
            raise NotAStateBranch(str(self.remote), self.branch) from None
        if moved:
            self.leases.observe(state)
            if commit is not None:
                self._check_skew(commit)
        return state

    def _check_skew(self, commit: str) -> None:
        """A commit can't be written after it is read: one dated ahead of this machine's clock means a writer's
        clock runs fast (or this one's slow). Leases do not depend on it, but people should know."""
        try:
            _, data = self._objects.read(commit)
        except (ValueError, OSError):
            return
        for line in data.split(b"\n\n", 1)[0].split(b"\n"):
            if line.startswith(b"committer "):
                name, _, rest = line[len(b"committer ") :].rpartition(b">")
                stamp = rest.split()
                if stamp and stamp[0].isdigit():
                    ahead = int(stamp[0]) - self._clock().timestamp()
                    who = name.split(b"<")[0].strip().decode("utf-8", "replace")
                    if ahead > SKEW_NOTICE_SECONDS:
                        self.skew[who] = ahead
                    else:
                        self.skew.pop(who, None)

    def history(self, *, since: datetime | None = None, limit: int | None = None) -> list[FileChange]:
        """The branch's commits as this store last read it, newest first (``since``: not older; ``limit``: at
        most that many): who wrote each, when (their clock) and its whole audit message."""
        with self._lock:
            if self._tip is None:
                return []
            args = ["log", "--format=%H%x1f%an%x1f%aI%x1f%B%x1e", self._tip]
            if since is not None:
                args.insert(1, f"--since={since.isoformat()}")
            if limit is not None:
                args.insert(1, f"--max-count={limit}")
            done = run_git(args, cwd=self._objects.path)
        if not done.ok:
            raise RemoteError(f"cannot read the history of {self.branch}: {done.stderr.strip()[-300:]}")
        found = []
        for record in done.stdout.split("\x1e"):
            fields = record.strip("\n").split("\x1f")
            if len(fields) == 4:
                found.append(FileChange(commit=fields[0], author=fields[1], at=fields[2], message=fields[3].strip()))
        return found

    def archived_task(self, task_id: str) -> Task | None:
        """The task ``task_id`` from the archive, as of the last commit read (None when it is not archived)."""
        with self._lock:
            return self._archive.task(self.state, task_id)

    def all_tasks(self) -> Iterator[Task]:
        """Every task ever submitted and still on the branch, as of the last commit read: the live ones, then the
        archived ones (read from their packs; for metrics and logs, not for every poll)."""
        with self._lock:
            state = self.state
            found = [*state.tasks.values(), *self._archive.tasks(state)]
        yield from found

    def last_change(self, path: str) -> FileChange | None:
        """The latest commit (of those this store has read) that changed ``path`` on the branch, or None."""
        with self._lock:
            if self._tip is None:
                return None
            done = run_git(
                ["log", "-1", "--format=%H%x1f%an%x1f%aI%x1f%s", self._tip, "--", path], cwd=self._objects.path
            )
        fields = done.stdout.strip().split("\x1f")
        if not done.ok or len(fields) != 4:
            return None
        return FileChange(commit=fields[0], author=fields[1], at=fields[2], message=fields[3])

    def expired(self, task: Task, now: datetime) -> bool:
        """Whether ``task``'s lease is expired, as this machine judges it (pass to claim/requeue transitions)."""
        return self.leases.expired(task, now)

    # --- writing ---

    def _commit(self, change: Change, now: datetime, parent: str | None) -> str:
        records: list[StateModel] = [*change.tasks, *change.runners, *change.records]
        records += [m for m in (change.meta, change.config) if m is not None]
        models = {path_of(record): record for record in records}
        deletes = [collection(directory).path(key) for directory, key in change.deletes]
        if parent is None:
            self._snapshot.advance(None)
        files = {path: m.to_json() for path, m in models.items()}
        files.update(change.files)
        files[STATUS_PATH] = self._status(change, now)
        tree, blob_ids = self._snapshot.tree_with(files, deletes)
        for path, model in models.items():
            self._snapshot.remember(blob_ids[path], model)
        return self._objects.write_commit(
            tree=tree,
            parents=[parent] if parent else [],
            message=change.message,
            author=self._author,
            timestamp=int(now.timestamp()),
        )

    def _status(self, change: Change, now: datetime) -> bytes:
        """STATUS.md as it will be after ``change``: folded into the change's own commit, never one of its own."""
        deleted = [key for directory, key in change.deletes if directory == "tasks"]
        board = dashboard(
            self.state, now, tasks=change.tasks, runners=change.runners, deleted=deleted, records=change.records
        )
        return status_markdown(board, self.branch).encode()

    def _backoff(self, attempt: int) -> None:
        # A short full jitter spreads the losers out. It stays small on purpose: a long backoff would only
        # hand the branch to the writer that just won (it pushes again without fetching) and starve the rest.
        time.sleep(self._rng.uniform(0, 0.005 * min(attempt, 4)))

    def update(self, transition: Transition, *, assume_fresh: bool = False) -> Change:
        """Apply ``transition`` to the newest state and commit its change atomically; returns the change.

        ``assume_fresh`` says the caller just confirmed the cached tip is current (``poll``), so a no-op need
        not be re-checked on a new fetch.

        Raises what the transition raises (judged on a freshly fetched state), ``StateBranchMissing``,
        ``SchemaTooNew``, ``RemoteError``, or ``ContentionError`` when the race was lost for too long.
        """
        with self._lock:
            deadline = time.monotonic() + self._max_wait
            fresh = assume_fresh and self._tip is not None
            if self._tip is None:
                self.fetch()
                fresh = True
            attempt = 0
            while True:
                if self._tip is None:
                    raise StateBranchMissing(str(self.remote), self.branch, credentials=bool(self.remote.secrets))
                state = self._advance(self._tip)
                if state.meta.schema_version > SCHEMA_VERSION:
                    raise SchemaTooNew(state.meta.schema_version, SCHEMA_VERSION)
                now = self._clock()
                try:
                    # Whoever built the change, the day's spend record goes into the same commit as the costs, and
                    # the reports of the runs whose phases it changes are marked pending in it too.
                    change = with_run_reports(state, with_spend(state, transition(state, now), now))
                except CoordinatorError:
                    if fresh:
                        raise
                    self.fetch()
                    fresh = True
                    continue
                if change.empty:
                    if fresh:
                        return change
                    self.fetch()
                    fresh = True
                    continue
                commit = self._commit(change, now, self._tip)
                if self._push(commit):
                    self._tip = commit
                    self._advance(commit)
                    return change
                attempt += 1
                if time.monotonic() > deadline:
                    raise ContentionError(
                        f"gave up after {attempt} lost races in {self._max_wait:.0f} s: too many writers on "
                        f"{self.branch}; try again, or lower the number of runners polling it"
                    )
                self._backoff(attempt)
                self.fetch()
                fresh = True

    def init(self) -> bool:
        """Create the state branch (orphan: README, meta, config) unless it exists; True when created.

        Raises ``NotAStateBranch`` when the branch exists without being one (a code branch): init never writes
        onto it.
        """
        with self._lock:
            tip = self.fetch()
            if tip is not None:
                self._advance(tip)
                return False
            now = self._clock()
            files = {
                README_FILE: branch_readme(self.branch).encode(),
                META.path: Meta(created_at=now).to_json(),
                CONFIG.path: BranchConfig().to_json(),
            }
            self._snapshot.advance(None)
            tree, _ = self._snapshot.tree_with(files)
            commit = self._objects.write_commit(
                tree=tree,
                parents=[],
                message="init state branch",
                author=self._author,
                timestamp=int(now.timestamp()),
            )
            if self._push(commit):
                self._tip = commit
                return True
            self._advance(self.fetch())  # someone else created it at the same moment: fine, if it is one
            return False
