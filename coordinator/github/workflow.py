"""The GitHub Actions workflow that ``coordinator init --github`` writes into a repository.

The text is rendered for one coordinator version: the workflow installs exactly that release, so the code that
reads the issue events is the code that wrote the workflow. This repository keeps the render for the current
version in ``.github/workflows/coordinator.yml`` (a test checks they are the same, and CI lints that file with
zizmor and actionlint), so every change to the template below is reviewed and linted as the file users get.

Rules the template keeps (see the README's GitHub set-up): event text reaches scripts only as the event file
Actions writes, never through ``${{ }}`` inside ``run:``; actions pinned by commit SHA; no permission for the
workflow as a whole, each job asks for what it needs; tokens go to coordinator in environment variables.
"""

from __future__ import annotations

import os
import re
import tempfile
from enum import Enum
from pathlib import Path

from coordinator.errors import ConfigError, UsageError
from coordinator.gitcmd import git_out
from coordinator.ids import DEFAULT_STATE_BRANCH

#: The PyPI distribution (``coordinator`` is an unrelated package there); the import package and the command
#: stay ``coordinator``.
DISTRIBUTION = "coordinator-queue"
#: Where the workflow lives in a repository.
WORKFLOW_PATH = Path(".github") / "workflows" / "coordinator.yml"
#: The repository variable that replaces what the workflow installs (e.g. a git URL).
PIP_SPEC_VARIABLE = "COORDINATOR_PIP_SPEC"
#: The repository variable that turns the self-hosted runner job on.
SELF_HOSTED_VARIABLE = "COORDINATOR_SELF_HOSTED"

# A version as setuptools writes it (PEP 440 public and local parts); anything else could break the YAML.
_VERSION = re.compile(r"[0-9][0-9A-Za-z.+!-]{0,63}")
# The branch goes into the workflow unquoted: letters, digits and . _ / - only (no $, {, quotes, spaces).
_WORKFLOW_BRANCH = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,199}")

_TEMPLATE = """\
# coordinator: issues labelled for the agent become tasks on the state branch of this repository.
#
# Written by `coordinator init --github` (coordinator @VERSION@). After upgrading coordinator, run
# `coordinator init --github --force` to rewrite it for the new version. The GitHub set-up section of
# coordinator's README explains each part: the token, the variables, and the self-hosted job's security.
name: coordinator

on:
  issues:
    types: [opened, labeled, unlabeled, edited, closed, reopened]
  # zizmor warns that issue_comment runs are often fooled by pull request code: no job here checks out or runs
  # pull request code, and the comment's text stays in the event file.
  issue_comment:  # zizmor: ignore[dangerous-triggers]
    types: [created]
  # Reviews of the pull requests coordinator opened become follow-up tasks (others are ignored). Review comments
  # come with their review: pull_request_review_comment is not needed.
  pull_request_review:
    types: [submitted]
  workflow_dispatch:
  # Recurring tasks (`coordinator schedule add`): the tick job enqueues the ones that are due. Runners tick every
  # minute while they poll; this timer covers the hours when none runs (GitHub may start it some minutes late).
  # With the self-hosted job turned on, it also runs the queue on this timer.
  schedule:
    - cron: "*/15 * * * *"

# Nothing for the workflow as a whole: each job asks for what it needs.
permissions: {}

defaults:
  run:
    shell: bash  # also on Windows and macOS self-hosted runners (Git Bash on Windows)

env:
  COORDINATOR_BRANCH: @BRANCH@
  # What pip installs: this exact release from PyPI, unless the repository variable @PIP_VAR@ names
  # something else, e.g. git+https://github.com/OWNER/coordinator@v@VERSION@
  COORDINATOR_PIP_SPEC: ${{ vars.@PIP_VAR@ || '@DIST@==@VERSION@' }}

jobs:
  ingest:
    name: ingest the event
    if: github.event_name != 'schedule'
    runs-on: ubuntu-latest
    timeout-minutes: 10
    # One ingest at a time per issue; different issues may write the state branch together (compare-and-swap).
    # GitHub keeps one pending run per group and drops an older pending one, so ingest reads the issue as it is
    # now rather than trusting the event alone.
    concurrency:
      # Per issue, or per pull request for a review (groups are per repository already).
      group: coordinator-state-issue-${{ github.event.issue.number || github.event.pull_request.number }}
      cancel-in-progress: false
    permissions:
      contents: write  # push the state branch, which lives in this repository
      issues: write  # labels and the tracking comment
      pull-requests: write  # reactions and replies on pull requests (reviews, comments mentioning @claude)
    steps:
      - uses: actions/setup-python@5fda3b95a4ea91299a34e894583c3862153e4b97  # v7.0.0
        with:
          python-version: "3.12"
      - name: install coordinator
        run: python -m pip install --disable-pip-version-check --no-input "$COORDINATOR_PIP_SPEC"
      - name: coordinator ingest
        # The event reaches coordinator as the file Actions wrote (GITHUB_EVENT_PATH), never through this script.
        # coordinator moves the token from the remote URL into an HTTP header and never prints it.
        env:
          COORDINATOR_GITHUB_TOKEN: ${{ github.token }}
        run: |
          export COORDINATOR_REMOTE="https://x-access-token:${COORDINATOR_GITHUB_TOKEN}@${GITHUB_SERVER_URL#*://}/${GITHUB_REPOSITORY}.git"
          coordinator ingest

  tick:
    name: enqueue recurring tasks
    # Its own job, not a step of ingest: it writes the state branch only, so it gets no issue or pull request
    # permission, and its runs do not queue behind ingests. Any number of ticks at once make each task once.
    if: github.event_name == 'schedule' || github.event_name == 'workflow_dispatch'
    runs-on: ubuntu-latest
    timeout-minutes: 5  # an install and one commit
    concurrency:
      group: coordinator-tick
      cancel-in-progress: false
    permissions:
      contents: write  # push the state branch, which lives in this repository
    steps:
      - uses: actions/setup-python@5fda3b95a4ea91299a34e894583c3862153e4b97  # v7.0.0
        with:
          python-version: "3.12"
      - name: install coordinator
        run: python -m pip install --disable-pip-version-check --no-input "$COORDINATOR_PIP_SPEC"
      - name: coordinator tick
        env:
          COORDINATOR_GITHUB_TOKEN: ${{ github.token }}
        run: |
          export COORDINATOR_REMOTE="https://x-access-token:${COORDINATOR_GITHUB_TOKEN}@${GITHUB_SERVER_URL#*://}/${GITHUB_REPOSITORY}.git"
          coordinator tick

  run-tasks:
    name: run queued tasks (self-hosted)
    # Off unless the repository variable @SELF_HOSTED_VAR@ is 'true'. It needs a self-hosted runner labelled
    # 'coordinator' with the claude CLI on PATH, and runs the queued tasks after each ingest (or when started by
    # hand), then exits. Read the README's security notes on self-hosted runners before turning it on.
    needs: ingest
    if: ${{ !cancelled() && vars.@SELF_HOSTED_VAR@ == 'true' && needs.ingest.result != 'failure' }}
    runs-on: [self-hosted, coordinator]
    timeout-minutes: 360
    concurrency:
      group: coordinator-runner-${{ github.repository }}
      cancel-in-progress: false
    permissions:
      contents: write  # the state branch and the task branches
      issues: write  # the tracking comment
      pull-requests: write  # the pull request of a finished task
    steps:
      - uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1  # v7.0.1
        with:
          persist-credentials: false  # agents work from this clone: keep the token out of its .git/config
          fetch-depth: 0
      - uses: actions/setup-python@5fda3b95a4ea91299a34e894583c3862153e4b97  # v7.0.0
        with:
          python-version: "3.12"
      - name: install coordinator in its own virtualenv
        run: |
          python -m venv "$RUNNER_TEMP/coordinator-venv"
          bin="$RUNNER_TEMP/coordinator-venv/bin"
          [ -d "$bin" ] || bin="$RUNNER_TEMP/coordinator-venv/Scripts"  # Windows
          "$bin/python" -m pip install --disable-pip-version-check --no-input "$COORDINATOR_PIP_SPEC"
          echo "$bin" >> "$GITHUB_PATH"
      - name: coordinator runner --once
        env:
          COORDINATOR_GITHUB_TOKEN: ${{ github.token }}
          ANTHROPIC_API_KEY: ${{ secrets.ANTHROPIC_API_KEY }}
          CLAUDE_CODE_OAUTH_TOKEN: ${{ secrets.CLAUDE_CODE_OAUTH_TOKEN }}
        run: |
          export COORDINATOR_REMOTE="https://x-access-token:${COORDINATOR_GITHUB_TOKEN}@${GITHUB_SERVER_URL#*://}/${GITHUB_REPOSITORY}.git"
          # A secret that is not set arrives empty: drop it, so claude uses the machine's own login instead.
          [ -n "$ANTHROPIC_API_KEY" ] || unset ANTHROPIC_API_KEY
          [ -n "$CLAUDE_CODE_OAUTH_TOKEN" ] || unset CLAUDE_CODE_OAUTH_TOKEN
          name="gha-$(printf '%s' "$RUNNER_NAME" | tr '[:upper:]' '[:lower:]' | tr -c 'a-z0-9-' '-' | cut -c1-60)"
          # exec: coordinator replaces this shell, so no process of this step keeps the tokens in an environment
          # that the agent (the same OS user) could read while it runs.
          exec coordinator runner --once --name "$name" --repo "$GITHUB_WORKSPACE"
"""


class WorkflowStatus(Enum):
    """What a repository holds at :data:`WORKFLOW_PATH`, compared with the workflow about to be written."""

    ABSENT = "absent"
    SAME = "same"
    DIFFERENT = "different"


def render_workflow(version: str, *, branch: str = DEFAULT_STATE_BRANCH) -> str:
    """The workflow text for coordinator ``version`` and the state branch ``branch``.

    Raises ``ValueError`` for a version or branch that cannot be written into the workflow as it is.
    """
    if not _VERSION.fullmatch(version):
        raise ValueError(f"version {version!r} cannot go into the workflow: expected a release like 1.2.3")
    if not _WORKFLOW_BRANCH.fullmatch(branch) or ".." in branch or branch.endswith((".lock", "/", ".")):
        raise ValueError(
            f"the state branch {branch!r} cannot go into the workflow: use letters, digits, '.', '_', '-' and '/' "
            f"(e.g. {DEFAULT_STATE_BRANCH})"
        )
    values = {
        "@VERSION@": version,
        "@BRANCH@": branch,
        "@DIST@": DISTRIBUTION,
        "@PIP_VAR@": PIP_SPEC_VARIABLE,
        "@SELF_HOSTED_VAR@": SELF_HOSTED_VARIABLE,
    }
    text = _TEMPLATE
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    return text


def find_repository(path: Path) -> Path:
    """The top folder of the git work tree holding ``path``; a one-line error when there is none."""
    path = path.expanduser().resolve()
    if not path.is_dir():
        raise UsageError(f"--repo {path} is not a folder: pass the clone of your GitHub repository")
    bare = git_out(["rev-parse", "--is-bare-repository"], cwd=path)
    if bare is None:
        raise UsageError(
            f"{path} is not in a git repository: run this in a clone of your GitHub repository, or pass --repo PATH"
        )
    top = git_out(["rev-parse", "--show-toplevel"], cwd=path)
    if bare == "true" or not top:
        raise UsageError(
            f"{path} has no work tree to write the workflow into: pass --repo with a clone of your repository"
        )
    return Path(top).resolve()


def workflow_status(repo: Path, text: str) -> WorkflowStatus:
    """Whether ``repo`` has no workflow file yet, the same text (line endings aside), or a different one."""
    target = repo / WORKFLOW_PATH
    try:
        current = target.read_bytes()
    except FileNotFoundError:
        return WorkflowStatus.ABSENT
    except OSError as exc:
        raise ConfigError(
            f"cannot read {target}: {exc.strerror or exc}: fix or remove it, then run this again"
        ) from None
    # A Windows checkout (core.autocrlf) holds the same file with CRLF line endings.
    same = current.replace(b"\r\n", b"\n") == text.encode("utf-8")
    return WorkflowStatus.SAME if same else WorkflowStatus.DIFFERENT


def write_workflow(
    repo: Path, *, overwrite: bool, version: str | None = None, branch: str = DEFAULT_STATE_BRANCH
) -> Path:
    """Write the workflow for ``version`` (default: this coordinator's) into ``repo``; returns its path.

    An existing file with other content is replaced only with ``overwrite``, else a ``UsageError`` says how to
    replace it. The file is written whole or not at all (a temporary file renamed over it).
    """
    from coordinator import __version__

    text = render_workflow(version or __version__, branch=branch)
    target = repo / WORKFLOW_PATH
    status = workflow_status(repo, text)
    if status is WorkflowStatus.SAME:
        return target
    if status is WorkflowStatus.DIFFERENT and not overwrite:
        raise UsageError(refusal_message(target))
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _replace_atomically(target, text.encode("utf-8"))
    except OSError as exc:
        raise ConfigError(
            f"cannot write {target}: {exc.strerror or exc}: check that {target.parent} is a writable folder"
        ) from None
    return target


def refusal_message(target: Path) -> str:
    """Why an existing, changed workflow file is left alone, and how to replace it."""
    return (
        f"{target} exists and differs from the workflow this coordinator writes: run 'coordinator init --github "
        "--force' to replace it (git diff shows what changed afterwards), or move it away first"
    )


def _replace_atomically(target: Path, data: bytes) -> None:
    # mkstemp makes the file private (0600); the workflow is an ordinary file of the clone, like its neighbours.
    mode = target.stat().st_mode & 0o777 if target.exists() else 0o644
    descriptor, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
