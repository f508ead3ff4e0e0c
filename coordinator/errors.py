"""Every error the library raises on purpose. They carry data; the CLI turns them into messages and exit codes.

The message of each exception is written for a person: what was wrong and the next command to run.
"""

from __future__ import annotations


class CoordinatorError(Exception):
    """Base of all expected errors (never shown with a traceback)."""

    exit_code = 1


class UsageError(CoordinatorError):
    """The user asked for something malformed (bad id, bad date, unknown mode...)."""

    exit_code = 2


class ConfigError(CoordinatorError):
    """Configuration is missing or invalid (remote not given, bad config file...)."""

    exit_code = 2


class TaskNotFound(CoordinatorError):
    """No task with this id on the state branch."""

    def __init__(self, task_id: str) -> None:
        super().__init__(f"no task '{task_id}' on the state branch: run 'coordinator list' to see the task ids")
        self.task_id = task_id


class InvalidTransition(CoordinatorError):
    """The requested change does not apply to the task in its current state."""

    def __init__(self, task_id: str, reason: str) -> None:
        super().__init__(f"task '{task_id}': {reason}")
        self.task_id = task_id
        self.reason = reason


class NotLeaseHolder(InvalidTransition):
    """A runner reported on a task it does not hold the lease of."""


class CorruptFile(CoordinatorError):
    """A file on the state branch cannot be parsed or validated."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class StateBranchMissing(CoordinatorError):
    """The remote has no state branch yet."""

    def __init__(self, remote: str, branch: str, *, credentials: bool = False) -> None:
        hint = f"run '{init_command(remote, branch, credentials)}'" + (_SAME_REMOTE if credentials else "")
        super().__init__(f"no state branch '{branch}' on {remote}: {hint}")
        self.remote = remote
        self.branch = branch


#: Said after an init command for a remote whose URL is shown without its token.
_SAME_REMOTE = " with the same --remote or COORDINATOR_REMOTE as now (its token is not shown here)"


def init_command(remote: str, branch: str, credentials: bool = False) -> str:
    """The command line that creates the state branch (global options go before the command). The URL of a remote
    with ``credentials`` is shown without them and could not authenticate: the command then leaves it out."""
    from coordinator.ids import DEFAULT_STATE_BRANCH

    branch_arg = f" --branch {branch}" if branch != DEFAULT_STATE_BRANCH else ""
    if credentials:
        return f"coordinator{branch_arg} init"
    remote_arg = remote if not any(c in remote for c in " '\"") else '"' + remote.replace('"', '\\"') + '"'
    return f"coordinator --remote {remote_arg}{branch_arg} init"


class SchemaTooNew(CoordinatorError):
    """The state branch was written by a newer, incompatible version."""

    def __init__(self, found: int, supported: int) -> None:
        super().__init__(
            f"the state branch uses schema version {found}, this coordinator supports up to {supported}: "
            "upgrade with 'pipx upgrade coordinator-queue' (or 'pip install -U coordinator-queue')"
        )
        self.found = found
        self.supported = supported


class RemoteError(CoordinatorError):
    """Talking to the git remote failed for a reason other than losing a race (auth, network, hooks)."""


class ContentionError(CoordinatorError):
    """Too many writers won the race in a row; the update was not applied."""


class WorktreeError(CoordinatorError):
    """A git worktree operation failed; the message says what, git's last words, and what to do."""

    def __init__(self, what: str, *, stderr: str = "", hint: str = "") -> None:
        self.what = what
        self.stderr_tail = " / ".join(line.strip() for line in stderr.strip().splitlines()[-3:] if line.strip())
        self.hint = hint
        parts = [what]
        if self.stderr_tail:
            parts.append(f"git said: {self.stderr_tail}")
        if hint:
            parts.append(f"what to do: {hint}")
        super().__init__("; ".join(parts))


class SecretsInChanges(WorktreeError):
    """The agent's changes hold a secret: nothing of the attempt stays on the branch."""

    def __init__(self, findings: list[str]) -> None:
        shown = "; ".join(findings[:5]) + (f" and {len(findings) - 5} more" if len(findings) > 5 else "")
        super().__init__(f"the agent's changes hold secrets ({shown})")
        self.findings = findings
