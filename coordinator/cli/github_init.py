"""``coordinator init --github``: the state branch in the repository itself, and the workflow that feeds it.

Nothing is written when something is wrong: the repository and the workflow file are checked before the state
branch is created, and the workflow is written only once the state branch exists.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import click

from coordinator import __version__
from coordinator.cli.app import Settings
from coordinator.errors import ConfigError, UsageError
from coordinator.github.settings import GitHubSettings, github_repository

#: Where users read what the workflow does and how to set GitHub up (README section).
README_SECTION = "the 'Set up on GitHub' section of coordinator's README"


def init_github(settings: Settings, repo_arg: Path | None, *, force: bool) -> None:
    """Create the state branch (on the repository's origin unless a remote was given) and write the workflow."""
    from coordinator.github.workflow import (
        DISTRIBUTION,
        PIP_SPEC_VARIABLE,
        WORKFLOW_PATH,
        WorkflowStatus,
        find_repository,
        refusal_message,
        render_workflow,
        workflow_status,
        write_workflow,
    )

    repo = find_repository(repo_arg if repo_arg is not None else Path.cwd())
    try:
        text = render_workflow(__version__, branch=settings.branch)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    status = workflow_status(repo, text)
    if status is WorkflowStatus.DIFFERENT and not force:
        raise UsageError(refusal_message(repo / WORKFLOW_PATH))
    state_settings, why = _state_remote(settings, repo)
    found = github_repository(state_settings.remote or "")
    github = _github_settings(found)  # before anything is written: a malformed GITHUB_API_URL stops it all
    _create_state_branch(state_settings, why)
    if settings.remote:
        click.echo(
            "note: the workflow keeps its state branch in the GitHub repository it runs in; runners and "
            "'coordinator' commands must use that repository as their remote too"
        )
    path = write_workflow(repo, overwrite=force, branch=settings.branch)
    shown = path.relative_to(repo).as_posix()
    if status is WorkflowStatus.SAME:
        click.echo(f"{shown} is up to date (installs {DISTRIBUTION}=={__version__})")
    else:
        verb = "replaced" if status is WorkflowStatus.DIFFERENT else "wrote"
        click.echo(f"{verb} {shown} (installs {DISTRIBUTION}=={__version__} from PyPI)")
    labelled = _make_labels(state_settings, github)
    slug = found or labelled or "OWNER/REPO"
    _next_steps(
        repo,
        shown,
        slug=slug,
        pip_variable=PIP_SPEC_VARIABLE,
        changed=status is not WorkflowStatus.SAME,
        labels=labelled is not None,
    )


def _state_remote(settings: Settings, repo: Path) -> tuple[Settings, str]:
    """The settings whose remote holds the state branch, and why that remote: --remote, else origin."""
    from coordinator.gitcmd import git_out

    if settings.remote:
        return settings, "--remote or COORDINATOR_REMOTE"
    origin = git_out(["remote", "get-url", "origin"], cwd=repo)
    if not origin:
        raise ConfigError(
            f"{repo} has no 'origin' remote to hold the state branch: add your GitHub repository "
            f"(git -C {repo} remote add origin URL), or pass --remote URL"
        )
    # The origin of a clone may be a path relative to the clone itself.
    return replace(settings, remote=origin, cwd=repo), f"the origin of {repo}"


def _create_state_branch(settings: Settings, why: str) -> None:
    store = settings.open_store()
    try:
        created = store.init()
        state = store.read(fresh=False)
    finally:
        store.close()
    if created:
        click.echo(
            f"created state branch '{store.branch}' on {store.remote} ({why}; schema v{state.meta.schema_version})"
        )
    else:
        click.echo(f"state branch '{store.branch}' on {store.remote} exists already ({why})")


def _github_settings(slug: str | None) -> GitHubSettings | None:
    """The GitHub settings of the environment when a token is set (the repository: the state remote's, else
    ``GITHUB_REPOSITORY``); None without a token. A malformed value is a :class:`ConfigError`."""
    from coordinator.github.settings import TOKEN_VARIABLES, GitHubSettings

    if not any(os.environ.get(name, "").strip() for name in TOKEN_VARIABLES):
        return None  # no token: the next steps say how to make the trigger label by hand
    return GitHubSettings.from_env(repository=slug)


def _make_labels(settings: Settings, github: GitHubSettings | None) -> str | None:
    """Make coordinator's labels on the repository when a GitHub token is set, and keep the ids of those it sets
    on the state branch, so that even the first task changes a label and the comment in one request. The
    repository's name when done; None when not."""
    from coordinator.core.transitions.github import keep_label_ids
    from coordinator.github.api import GitHubError
    from coordinator.github.rest import RestGitHub
    from coordinator.github.status_labels import make_labels

    if github is None:
        return None
    if github.repository is None:
        click.echo("note: labels not made: set GITHUB_REPOSITORY=OWNER/REPO to have 'init --github' make them")
        return None
    store = settings.open_store()
    try:
        config = store.read().github
        with RestGitHub(github) as api:
            ids, made = make_labels(api, github.repository, config)
        repository = github.repository
        store.update(lambda state, now: keep_label_ids(state, repository=repository, ids=ids, now=now))
    except GitHubError as exc:
        click.echo(
            f"warning: could not make the labels on {github.repository} ({exc}); the first task makes the "
            f"status labels, and 'gh label create {config.trigger_label} --repo {github.repository}' the trigger label"
        )
        return None
    finally:
        store.close()
    shown = ", ".join(made) if made else "none (all there already)"
    click.echo(f"labels on {github.repository}: made {shown}")
    return github.repository


def _next_steps(repo: Path, shown: str, *, slug: str, pip_variable: str, changed: bool, labels: bool) -> None:
    git = f"git -C {_quoted(str(repo))}"
    steps = []
    if changed:
        steps.append(
            f"commit and push the workflow: {git} add {shown} && {git} commit -m 'Add the coordinator workflow' "
            f"&& {git} push"
        )
    if not labels:
        steps.append(
            f"create the label that hands an issue to the agent: gh label create claude --repo {slug} (or set "
            "COORDINATOR_GITHUB_TOKEN and run 'coordinator init --github' again: it makes all of coordinator's labels)"
        )
    steps += [
        "the workflow runs with the job's own GITHUB_TOKEN: no secret to add. A runner outside Actions needs a "
        f"fine-grained token for {slug} (Contents, Issues, Pull requests: read and write), given as "
        f"COORDINATOR_REMOTE=https://x-access-token:TOKEN@github.com/{slug}.git",
        f"optional repository variables: {pip_variable} (install coordinator from elsewhere, e.g. a git URL), "
        "COORDINATOR_SELF_HOSTED=true (run tasks on self-hosted Actions runners labelled 'coordinator')",
    ]
    click.echo("next:")
    for number, step in enumerate(steps, start=1):
        click.echo(f"  {number}. {step}")
    click.echo(f"  more: {README_SECTION}")


def _quoted(text: str) -> str:
    return text if not any(c in text for c in " '\"$\\") else '"' + text.replace('"', '\\"') + '"'
