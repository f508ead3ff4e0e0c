"""Redaction that holds: known values in every printed form, secret shapes, parsed results, diffs, remote URLs.

The property tests draw secrets with quotes, backslashes, control characters, non-ASCII and emoji, print them the
ways programs do (``json.dumps`` either way, nested, ``repr``, percent-encoding, inside URLs) and check that no
form of the secret survives redaction of the raw text, redaction of the parsed data, or the diff scan.
"""

from __future__ import annotations

import ast
import base64
import json
import string
import subprocess
import sys
import tempfile
import threading
from collections import OrderedDict, namedtuple
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PurePosixPath
from urllib.parse import quote, quote_plus

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from coordinator.agents.base import AgentOutcome, AgentResult
from coordinator.agents.process import run_process
from coordinator.cli.app import cli
from coordinator.diff_scan import DiffFinding, describe_findings, scan_diff
from coordinator.gitcmd import run_git
from coordinator.models import AttemptResult, Denial, TaskStatus
from coordinator.redaction import (
    REDACTED,
    Redactor,
    Secret,
    credentials_in,
    redact,
    redact_deep,
    secret_values,
    secrets_from_env,
)
from coordinator.store.remote import Remote

# -- what secrets look like, and how programs print them ------------------------------------------------------

_SECRET_CHARS = st.one_of(
    st.sampled_from(string.ascii_letters + string.digits),
    st.sampled_from("\"'\\/ %+@:"),
    st.characters(min_codepoint=0, max_codepoint=0x1F),
    st.characters(min_codepoint=0x7F, max_codepoint=0x9F),
    st.characters(min_codepoint=0xA0, max_codepoint=0xFFFF, exclude_categories=("Cs",)),
    st.sampled_from("😀🔑🦀\U0001d518"),
)
SECRETS = st.text(alphabet=_SECRET_CHARS, min_size=8, max_size=40).filter(lambda s: s not in REDACTED)
AROUND = st.text(alphabet=_SECRET_CHARS, max_size=12)


def printed_forms(secret: str) -> set[str]:
    """The spellings of ``secret`` that must never survive: raw, JSON-escaped (both ways, nested), repr, quoted."""
    forms = {secret, quote(secret, safe=""), quote_plus(secret), repr(secret)[1:-1]}
    for ascii_only in (True, False):
        once = json.dumps(secret, ensure_ascii=ascii_only)
        forms.add(once[1:-1])
        forms.add(json.dumps(once, ensure_ascii=ascii_only)[1:-1])
    return forms


def assert_no_form(secret: str, text: str) -> None:
    leaked = [form for form in printed_forms(secret) if form in text]
    assert not leaked, f"{leaked!r} survived in {text!r}"


# -- property tests -------------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(secret=SECRETS, before=AROUND, after=AROUND, ascii_only=st.booleans())
def test_a_known_value_is_hidden_in_every_printed_form(secret: str, before: str, after: str, ascii_only: bool) -> None:
    redactor = Redactor.from_env({"ANTHROPIC_API_KEY": secret})
    document = {"before": before, "key": secret, "list": [after, f"{before}{secret}{after}"]}
    texts = [
        f"{before}{secret}{after}",
        json.dumps(document, ensure_ascii=ascii_only),
        json.dumps({"type": "user", "content": json.dumps(document, ensure_ascii=ascii_only)}),
        json.dumps([json.dumps([json.dumps(secret)], ensure_ascii=False)]),
        repr(document),
        f"{before}{quote(secret, safe='')} {quote_plus(secret)} {quote(secret).lower()}{after}",
    ]
    for text in texts:
        assert_no_form(secret, redactor.redact(text))


@settings(max_examples=300, deadline=None)
@given(secret=SECRETS, before=AROUND, after=AROUND, levels=st.lists(st.booleans(), min_size=3, max_size=3))
def test_redacted_json_still_parses_at_every_level(secret: str, before: str, after: str, levels: list[bool]) -> None:
    # The agent's raw output is redacted before it is parsed: a cut inside an escape ("\u00|e9", half of "\\")
    # would lose the whole result. JSON inside a JSON string inside a JSON string is what stream-json logs hold.
    redactor = Redactor.from_env({"ANTHROPIC_API_KEY": secret})
    inner = {"a": before, "k": secret, "m": before + secret + after, "n": [after, after + secret]}
    middle = {"content": json.dumps(inner, ensure_ascii=levels[0]), "b": before}
    outer = json.dumps([json.dumps(middle, ensure_ascii=levels[1]), secret], ensure_ascii=levels[2])
    redacted = redactor.redact(outer)
    assert_no_form(secret, redacted)
    parsed = json.loads(json.loads(json.loads(redacted)[0])["content"])
    assert parsed["a"] == before or REDACTED in parsed["a"]
    assert ast.literal_eval(redactor.redact(repr(inner))).keys() == inner.keys()


@settings(max_examples=200, deadline=None)
@given(secret=SECRETS, before=AROUND, ascii_only=st.booleans())
def test_a_known_value_is_hidden_after_parsing(secret: str, before: str, ascii_only: bool) -> None:
    redactor = Redactor.from_env({"MY_SERVICE_TOKEN": secret})
    result = {"summary": before + secret, "errors": [secret, {"detail": f"x{secret}"}], secret: before, "turns": 3}
    parsed = json.loads(json.dumps(result, ensure_ascii=ascii_only))
    cleaned = redactor.redact_deep(parsed)
    assert type(cleaned) is dict and cleaned["turns"] == 3
    for dumped in (json.dumps(cleaned), json.dumps(cleaned, ensure_ascii=False), repr(cleaned)):
        assert_no_form(secret, dumped)
    # What would be committed to the state branch: the attempt result, extra fields included.
    attempt = redactor.redact_deep(AttemptResult.model_validate(parsed))
    assert_no_form(secret, attempt.to_json().decode("utf-8"))


@settings(max_examples=200, deadline=None)
@given(secret=SECRETS, ascii_only=st.booleans())
def test_a_password_inside_a_url_variable_is_hidden_alone_too(secret: str, ascii_only: bool) -> None:
    assume(len(secret.strip()) >= 8)
    database_url = f"postgres://app:{quote(secret, safe='')}@db.internal:5432/app"
    redactor = Redactor.from_env({"DATABASE_URL": database_url, "PATH": "/usr/bin"})
    assert [s.source for s in redactor.secrets] == ["the password in DATABASE_URL"]
    for text in (
        f"FATAL: password authentication failed: {secret}",
        json.dumps({"url": database_url, "password": secret}, ensure_ascii=ascii_only),
    ):
        assert_no_form(secret, redactor.redact(text))


@settings(max_examples=200, deadline=None)
@given(secret=SECRETS, scheme=st.sampled_from(["https", "http", "ssh", "postgres", "redis", "git+ssh"]))
def test_url_user_info_is_hidden_without_knowing_the_value(secret: str, scheme: str) -> None:
    url = f"{scheme}://deploy:{quote(secret, safe='')}@example.com:2222/o/r.git"
    message = f"fatal: unable to access '{url}': connection refused"
    assert Redactor().redact(message) == (
        f"fatal: unable to access '{scheme}://{REDACTED}@example.com:2222/o/r.git': connection refused"
    )
    assert Redactor().redact(json.dumps({"remote": url})) == json.dumps({"remote": f"{scheme}://{REDACTED}@"
                                                                           "example.com:2222/o/r.git"})  # fmt: skip


def _git_repo(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    _git(path, "init", "--quiet")
    return path


def _git(repo: Path, *args: str) -> str:
    result = run_git(["-c", "user.name=t", "-c", "user.email=t@example.invalid", *args], cwd=repo)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _staged_diff(repo: Path) -> str:
    # What the runner does before committing the agent's work: stage everything, scan what would be committed.
    _git(repo, "add", "-A")
    out = subprocess.run(
        ["git", "diff", "--cached", "--text", "--no-color", "--no-ext-diff"], cwd=repo, capture_output=True, check=True
    )
    return out.stdout.decode("utf-8", "surrogateescape")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(secret=SECRETS, ascii_only=st.booleans())
def test_the_diff_scan_finds_every_file_holding_a_secret_and_names_only_the_file(secret: str, ascii_only: bool) -> None:
    redactor = Redactor.from_env({"ANTHROPIC_API_KEY": secret})
    files = {
        "dump.txt": f"first line\nANTHROPIC_API_KEY={secret}\n",
        "env.json": json.dumps({"ANTHROPIC_API_KEY": secret}, ensure_ascii=ascii_only, indent=1) + "\n",
        "nested.json": json.dumps({"log": json.dumps({"key": secret})}) + "\n",
        "quoted.txt": f"url=https://example.com/?k={quote(secret, safe='')}\n",
        "clean.txt": "nothing to see\n",
    }
    with tempfile.TemporaryDirectory() as folder:
        repo = _git_repo(Path(folder) / "repo")
        for name, text in files.items():
            (repo / name).write_bytes(text.encode("utf-8"))
        findings = scan_diff(_staged_diff(repo), redactor)
    ours = [f for f in findings if f.kind == "the value of ANTHROPIC_API_KEY"]
    assert {f.path for f in ours} == {"dump.txt", "env.json", "nested.json", "quoted.txt"}
    assert DiffFinding("dump.txt", 2, "the value of ANTHROPIC_API_KEY") in ours
    for finding in findings:
        assert_no_form(secret, f"{finding.path} {finding.kind} {finding.describe()}")
    assert_no_form(secret, describe_findings(findings))


# -- shapes ---------------------------------------------------------------------------------------------------

GITHUB_TOKEN = "ghp_" + "Zx8yW7vU6tS5rQ4pO3nM2lK1jI0hG9fE8dC7"[:36]
BASIC = base64.b64encode(b"alice:s3cret-pass").decode()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://alice:s3cret@github.com/o/r.git", f"https://{REDACTED}@github.com/o/r.git"),
        ("ssh://alice:s3cret@host:22/r.git", f"ssh://{REDACTED}@host:22/r.git"),
        ("redis://:s3cret@cache:6379/0", f"redis://{REDACTED}@cache:6379/0"),
        ("postgres://u:p%40ss@db/app", f"postgres://{REDACTED}@db/app"),
        (f"https://{GITHUB_TOKEN}@github.com/o/r", f"https://{REDACTED}@github.com/o/r"),
        ('{"url": "https:\\/\\/u:pw@h\\/r"}', f'{{"url": "https:\\/\\/{REDACTED}@h\\/r"}}'),
        (f"Authorization: Basic {BASIC}", f"Authorization: Basic {REDACTED}"),
        (f"proxy-authorization: basic {BASIC}", f"proxy-authorization: basic {REDACTED}"),
        (f'{{"Authorization": "token {GITHUB_TOKEN}"}}', f'{{"Authorization": "token {REDACTED}"}}'),
        ("Authorization: Bearer abc.def-123", f"Authorization: Bearer {REDACTED}"),
        (f"sent Basic {BASIC} to the proxy", f"sent Basic {REDACTED} to the proxy"),
        ("curl -H 'x-api-key: sk-live-12345678'", f"curl -H 'x-api-key: {REDACTED}'"),
        ("export ANTHROPIC_API_KEY=abc123def456", f"export ANTHROPIC_API_KEY={REDACTED}"),
        ('{"db_password": "Hunter2Hunter2"}', f'{{"db_password": "{REDACTED}"}}'),
        ("password: Hunter2Hunter2", f"password: {REDACTED}"),
        ("?access_token=abcd1234efgh&page=2", f"?access_token={REDACTED}&page=2"),
        ("key sk-ant-api03-abcdefghijkl.", f"key {REDACTED}."),
        (json.dumps(f"line\n{GITHUB_TOKEN}\té{GITHUB_TOKEN}"), json.dumps(f"line\n{REDACTED}\té{REDACTED}")),
        (json.dumps("\nAuthorization: Basic " + BASIC), json.dumps(f"\nAuthorization: Basic {REDACTED}")),
        (f"token {GITHUB_TOKEN} and github_pat_11ABCDEFG0123456789_abcdef", f"token {REDACTED} and {REDACTED}"),
        ("AKIAIOSFODNN7EXAMPLE", REDACTED),
        ("xoxb-1234567890-abcdefghij", REDACTED),
        ("glpat-abcdefghij0123456789", REDACTED),
        ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJlLXZhbHVl", REDACTED),
        ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk=\n-----END OPENSSH PRIVATE KEY-----\n", f"{REDACTED}\n"),
    ],
)
def test_secret_shapes_are_hidden_and_their_context_kept(text: str, expected: str) -> None:
    assert redact(text) == expected
    assert redact(expected) == expected  # redacting twice changes nothing


@pytest.mark.parametrize(
    "text",
    [
        "task-implement-the-feature and risk-assessment-of-the-whole-thing",
        "ssh://git@github.com/o/r.git and git@github.com:o/r.git and https://bob@example.com/r",
        "https://github.com/o/r/pull/12?tab=files#diff",
        "Basic usage: see the Basic configuration section",
        "password: required",
        'token=${GITHUB_TOKEN} password="$DB_PASSWORD" api_key=<your-key> secret=[REDACTED]',
        '{"input_tokens": 1234567890, "max_tokens": 4096, "cache_read_input_tokens": 12345678}',
        "Bearer tokens are checked",
        "C:\\Users\\alice\\project and /usr/local/bin/python3",
    ],
)
def test_ordinary_text_is_kept(text: str) -> None:
    assert redact(text) == text


def test_short_values_and_ordinary_variables_are_not_secrets() -> None:
    env = {"ANTHROPIC_API_KEY": "test", "GH_TOKEN": "1", "PATH": "/usr/bin:/bin", "HOME": "/home/alice-long-name"}
    assert secret_values(env) == []
    assert Redactor.from_env(env).redact("test 1 /usr/bin /home/alice-long-name") == (
        "test 1 /usr/bin /home/alice-long-name"
    )


def test_secret_values_come_from_names_patterns_extra_values_and_urls() -> None:
    env = {
        "ANTHROPIC_API_KEY": "key-value-111",
        "MY_DSN": "dsn-value-2222",
        "ACME_CONN": "conn-value-33333",
        "SERVICE_USER_PASSWORD": "pw-value-444444",
        "HTTPS_PROXY": "http://bob:pr%40xy-pass@proxy:3128",
        "GIT_URL": f"https://{GITHUB_TOKEN}@github.com/o/r.git",
        "EDITOR": "vim-is-not-a-secret",
    }
    redactor = Redactor.from_env(env, names=["my_dsn"], patterns=["*_conn"], extra_values=["given-value-5"])
    assert {s.value: s.source for s in redactor.secrets} == {
        "key-value-111": "the value of ANTHROPIC_API_KEY",
        "dsn-value-2222": "the value of MY_DSN",
        "conn-value-33333": "the value of ACME_CONN",
        "pw-value-444444": "the value of SERVICE_USER_PASSWORD",
        "pr@xy-pass": "the password in HTTPS_PROXY",
        GITHUB_TOKEN: "the token in GIT_URL",
        "given-value-5": "a secret value",
    }
    assert list(redactor.values) == sorted(redactor.values, key=len, reverse=True)
    assert "vim-is-not-a-secret" not in redactor.values
    assert credentials_in("a=postgres://u:p%2Fw@h/db b=ssh://git@h/r") == [("password", "p/w")]
    assert [s.value for s in secrets_from_env({"DATABASE_URL": "postgres://u:pw@h/db"})] == []  # too short alone
    assert "pr@xy-pass" in secret_values(env)


_NEAR_MISSES = r"""
from coordinator.redaction import Redactor
cases = [("\\" * 30 + "x", "\\" * 400 + "y"), ('\\"' * 15 + "ab", '\\\\\\"' * 200 + "y"), ("%" * 20 + "x", "%25" * 300)]
for secret, text in cases:
    assert Redactor([secret]).redact(text) == text
# Keywords and anchors repeated in one long run: each occurrence must not rescan the run (quadratic time).
redactor = Redactor(["abcd1234efgh"])
for text in ("://a" * 100_000, "authorization:" * 50_000, "token=" * 100_000, "abcd1234" * 100_000):
    redactor.redact(text)
print("done")
"""


def test_a_near_miss_or_a_repetitive_log_does_not_hang_the_runner() -> None:
    # One pattern alternative per spelling of each character would backtrack exponentially on a long run of
    # backslashes that almost holds a secret: an agent could stall its runner with one line of output.
    argv = [sys.executable, "-c", _NEAR_MISSES]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert done.stdout.strip() == "done", done.stderr


def test_a_redactor_never_shows_its_values() -> None:
    redactor = Redactor([Secret("hidden-value-123", "the value of X"), "another-hidden-1"])
    assert "hidden" not in repr(redactor) and "hidden" not in repr(redactor.secrets)
    assert repr(redactor) == "Redactor(2 secret values)"


# -- parsed results -------------------------------------------------------------------------------------------

SECRET = 'va"l\\ue-é-0123'


@dataclass(frozen=True)
class _Wrapper:
    result: AgentResult
    notes: dict[str, list[str]]
    computed: str = field(init=False, default="")


def test_redact_deep_copies_dataclasses_models_and_containers() -> None:
    result = AgentResult(
        outcome=AgentOutcome.SUCCEEDED,
        duration_seconds=1.5,
        summary=f"printed {SECRET}",
        denials=(Denial(tool="Bash", target=f"echo {SECRET}"), Denial(tool="Write")),
    )
    original = _Wrapper(result, {"k": ["plain", SECRET]})
    object.__setattr__(original, "computed", SECRET)
    cleaned = redact_deep(original, [SECRET])
    assert type(cleaned) is _Wrapper and type(cleaned.result) is AgentResult
    assert cleaned.result.summary == f"printed {REDACTED}"
    assert cleaned.result.denials == (Denial(tool="Bash", target=f"echo {REDACTED}"), Denial(tool="Write"))
    assert cleaned.result.outcome is AgentOutcome.SUCCEEDED and cleaned.result.duration_seconds == 1.5
    assert cleaned.notes == {"k": ["plain", REDACTED]} and cleaned.computed == REDACTED
    assert original.result.summary == f"printed {SECRET}"  # the original is untouched


def test_redact_deep_reaches_pydantic_extra_fields_and_their_names() -> None:
    attempt = AttemptResult.model_validate(
        {"summary": "ok", "error": SECRET, "tokens": {"input": 3}, "custom": [SECRET], SECRET: "by name"}
    )
    cleaned = redact_deep(attempt, [SECRET])
    assert type(cleaned) is AttemptResult
    assert cleaned.error == REDACTED and cleaned.summary == "ok" and cleaned.tokens == attempt.tokens
    assert cleaned.model_extra == {"custom": [REDACTED], REDACTED: "by name"}
    assert SECRET not in cleaned.to_json().decode() and json.dumps(SECRET)[1:-1] not in cleaned.to_json().decode()


def test_redact_deep_keeps_types_and_leaves_other_values_alone() -> None:
    pair = namedtuple("pair", "left right")  # a plain named tuple is the case to cover
    value = OrderedDict(
        status=TaskStatus.RUNNING,
        pair=pair(SECRET, 2),
        tags=frozenset({SECRET, "x"}),
        path=PurePosixPath(f"/logs/{SECRET}.txt"),
        raw=SECRET.encode(),
        number=1.5,
        nothing=None,
    )
    cleaned = redact_deep(value, [SECRET])
    assert type(cleaned) is OrderedDict and list(cleaned) == list(value)
    assert cleaned["status"] is TaskStatus.RUNNING
    assert cleaned["pair"] == pair(REDACTED, 2) and type(cleaned["pair"]) is pair
    assert cleaned["tags"] == frozenset({REDACTED, "x"})
    assert cleaned["path"] == PurePosixPath(f"/logs/{REDACTED}.txt")
    assert cleaned["raw"] == REDACTED.encode()
    assert cleaned["number"] == 1.5 and cleaned["nothing"] is None
    untouched = {"a": ["b"]}
    copied = redact_deep(untouched)
    assert copied == untouched and copied is not untouched


# -- the agent's process: raw output and log ------------------------------------------------------------------

_DUMP_ENV = """
import json, os
env = {k: v for k, v in os.environ.items() if k in ("ANTHROPIC_API_KEY", "DATABASE_URL")}
print(json.dumps(env))                                   # ensure_ascii: quotes, backslashes and é escaped
print(json.dumps(env, ensure_ascii=False))
print(json.dumps({"type": "user", "content": json.dumps(env)}))   # a tool result inside a stream-json event
print("password alone:", os.environ["DATABASE_URL"].split(":")[2].split("@")[0])
"""


def test_an_env_dump_through_json_never_reaches_the_log_or_the_output(tmp_path: Path) -> None:
    key = 'sk-ant-"quoted\\back-é-0123456789'
    env = {"ANTHROPIC_API_KEY": key, "DATABASE_URL": "postgres://app:Db-Pa55word-42@db/app"}
    log = tmp_path / "agent.log"
    result = run_process([sys.executable, "-c", _DUMP_ENV], cwd=tmp_path, log_path=log, env=env, timeout_seconds=60)
    assert result.rc == 0, result.stderr
    for text in (result.stdout, log.read_text(encoding="utf-8")):
        assert_no_form(key, text)
        assert_no_form("Db-Pa55word-42", text)
        assert "password alone: [REDACTED]" in text
    # Redacting the raw output keeps its JSON valid, so parsing it afterwards still works.
    first = json.loads(result.stdout.splitlines()[0])
    assert first == {"ANTHROPIC_API_KEY": REDACTED, "DATABASE_URL": f"postgres://{REDACTED}@db/app"}


# -- the diff scan --------------------------------------------------------------------------------------------


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = _git_repo(tmp_path / "work")
    (path / "README.md").write_text(f"placeholder: {GITHUB_TOKEN}\nold secret: key-value-111\nhello\n")
    _git(path, "add", "-A")
    _git(path, "commit", "--quiet", "-m", "start")
    return path


def test_only_added_lines_count(repo: Path) -> None:
    redactor = Redactor.from_env({"ANTHROPIC_API_KEY": "key-value-111"})
    (repo / "README.md").write_text(f"placeholder: {GITHUB_TOKEN}\nhello, world\n")  # one removed, one changed
    assert scan_diff(_staged_diff(repo), redactor) == []
    (repo / "README.md").write_text(f"placeholder: {GITHUB_TOKEN}\nhello, world\n+++ key-value-111\n")
    assert scan_diff(_staged_diff(repo), redactor) == [DiffFinding("README.md", 3, "the value of ANTHROPIC_API_KEY")]


def test_an_env_dump_written_by_the_agent_stops_the_commit(repo: Path) -> None:
    env = {"ANTHROPIC_API_KEY": "sk-ant-api03-" + "Qw3rTy7uIo9pAs1dFg5hJk" * 3, "HOME": "/home/ci"}
    (repo / "debug").mkdir()
    (repo / "debug" / "env dump.json").write_text(json.dumps(env, indent=2))
    findings = scan_diff(_staged_diff(repo), Redactor.from_env(env))
    assert findings == [
        DiffFinding("debug/env dump.json", 2, "an Anthropic API key"),
        DiffFinding("debug/env dump.json", 2, "the value of ANTHROPIC_API_KEY"),
    ]
    reason = describe_findings(findings)
    assert reason.startswith("the changes hold secrets: debug/env dump.json line 2 holds an Anthropic API key;")
    assert env["ANTHROPIC_API_KEY"] not in reason


def test_a_file_named_after_a_secret_is_found_and_its_name_hidden(repo: Path) -> None:
    redactor = Redactor.from_env({"GH_TOKEN": GITHUB_TOKEN})
    (repo / f"{GITHUB_TOKEN}-é.txt").write_text("harmless\n")
    findings = scan_diff(_staged_diff(repo), redactor)
    assert {f.path for f in findings} == {f"{REDACTED}-é.txt"}
    assert DiffFinding(f"{REDACTED}-é.txt", 0, "the value of GH_TOKEN") in findings
    assert "the name holds" in describe_findings(findings)


def test_placeholders_and_shapes_that_are_not_certain_do_not_stop_a_commit(repo: Path) -> None:
    (repo / "docs.md").write_text(
        "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx AKIAIOSFODNN7EXAMPLE sk-ant-api03-...\n"
        "postgres://postgres:postgres@localhost:5432/db  Authorization: Bearer your-token-here\n"
        "-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----\n"
    )
    assert scan_diff(_staged_diff(repo), Redactor()) == []
    (repo / "leak.txt").write_text(f"{GITHUB_TOKEN}\nAKIAZ3MHQ7WRTNL5KXPV\n")
    assert scan_diff(_staged_diff(repo), Redactor()) == [
        DiffFinding("leak.txt", 1, "a GitHub token"),
        DiffFinding("leak.txt", 2, "an AWS access key id"),
    ]


def test_a_diff_between_two_commits_is_scanned_too(repo: Path) -> None:
    redactor = Redactor.from_env({"MY_SECRET": "multi\nline-secret-42"})
    (repo / "a.txt").write_text("x\nmulti\nline-secret-42\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "--quiet", "-m", "agent work")
    diff = _git(repo, "diff", "--text", "--no-color", "HEAD~1..HEAD")
    assert scan_diff(diff, redactor) == [DiffFinding("a.txt", 2, "the value of MY_SECRET")]


def test_a_secret_added_then_removed_is_found_in_the_history_of_the_branch(repo: Path) -> None:
    # Before a push, the net diff BASE..TIP is not enough: every commit is pushed. git log -p shows each one.
    redactor = Redactor.from_env({"MY_SECRET": "history-secret-42"})
    base = _git(repo, "rev-parse", "HEAD").strip()
    (repo / "notes.txt").write_text("history-secret-42\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "--quiet", "-m", "+++ oops\ndiff --git a/x b/x")  # a message that reads like a diff
    (repo / "notes.txt").write_text("gone\n")
    _git(repo, "commit", "--quiet", "-am", "remove it")
    assert scan_diff(_git(repo, "diff", "--text", "--no-color", f"{base}..HEAD"), redactor) == []
    history = _git(repo, "log", "-p", "--reverse", "--text", "--no-color", "--format=", f"{base}..HEAD")
    assert scan_diff(history, redactor) == [DiffFinding("notes.txt", 1, "the value of MY_SECRET")]


def test_describe_findings_lists_five_then_counts() -> None:
    findings = [DiffFinding(f"f{i}.txt", i, "a GitHub token") for i in range(1, 8)]
    reason = describe_findings(findings)
    assert "f5.txt line 5 holds a GitHub token; and 2 more" in reason and "f6.txt" not in reason
    assert "\n" not in reason


# -- remote URLs ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "fix"),
    [
        ("ssh://alice:s3cret-pw@host:22/r.git", "ssh://alice@host:22/r.git"),
        ("git+ssh://alice:s3cret-pw@host/r.git", "git+ssh://alice@host/r.git"),
        ("git://alice:s3cret-pw@host/r.git", "git://alice@host/r.git"),
        ("alice:s3cret-pw@host:o/r.git", "alice@host:o/r.git"),
    ],
)
def test_a_password_git_cannot_use_is_refused_without_showing_it(spec: str, fix: str) -> None:
    with pytest.raises(ValueError, match="holds a password") as err:
        Remote.parse(spec)
    message = str(err.value)
    assert "s3cret-pw" not in message and REDACTED in message
    assert f"--remote {fix}" in message and "\n" not in message


def test_remote_urls_never_keep_a_password() -> None:
    assert Remote.parse("ssh://git@github.com/o/r.git").url == "ssh://git@github.com/o/r.git"
    plain_http = Remote.parse("http://bob:pa%40ss-word-1@127.0.0.1:8080/r.git")
    assert plain_http.url == "http://127.0.0.1:8080/r.git"
    assert plain_http.auth_header == "Authorization: Basic " + base64.b64encode(b"bob:pa@ss-word-1").decode()
    token_only = Remote.parse(f"https://{GITHUB_TOKEN}@[::1]:8443/o/r.git")
    assert token_only.url == "https://[::1]:8443/o/r.git"
    assert GITHUB_TOKEN not in repr(token_only)


def test_remote_redact_hides_its_credentials_in_every_form() -> None:
    remote = Remote.parse('https://x-access-token:gh-pa"ss-123@example.com/o/r.git')
    header_value = (remote.auth_header or "").split()[-1]
    text = json.dumps({"err": 'bad password gh-pa"ss-123', "header": header_value, "ps": "Basic " + header_value})
    cleaned = remote.redact(text)
    assert "gh-pa" not in cleaned and header_value not in cleaned
    assert json.loads(cleaned) == {"err": f"bad password {REDACTED}", "header": REDACTED, "ps": f"Basic {REDACTED}"}


def test_the_cli_refuses_an_ssh_password_in_one_line_without_showing_it() -> None:
    remote = "ssh://ci:hunter2-pw@git.example.com/o/r.git"
    result = CliRunner().invoke(cli, ["--remote", remote, "status"], catch_exceptions=False)
    assert result.exit_code == 2, result.output
    assert "hunter2-pw" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: the remote ssh://ci:[REDACTED]@git.example.com/o/r.git")
    assert "--remote ssh://ci@git.example.com/o/r.git" in lines[0]


class _RecordingHandler(BaseHTTPRequestHandler):
    seen: list[str | None] = []

    def do_GET(self) -> None:
        type(self).seen.append(self.headers.get("Authorization"))
        self.send_response(404)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _RecordingHandler)
    _RecordingHandler.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_git_sends_the_decoded_password_in_a_header_never_in_argv(http_server: ThreadingHTTPServer, tmp_path: Path):
    port = http_server.server_address[1]
    remote = Remote.parse(f"http://bob:p%40ss%20word-9@127.0.0.1:{port}/o/r.git")
    assert "p%40ss" not in remote.url and "word-9" not in remote.url
    result = run_git(["ls-remote", remote.url], cwd=tmp_path, env=remote.git_env(), timeout=30)
    assert result.returncode != 0  # the server has no repository
    sent = [h for h in _RecordingHandler.seen if h]
    assert sent and base64.b64decode(sent[0].split()[-1]) == b"bob:p@ss word-9"
    assert "word-9" not in remote.redact(result.stderr)


def test_a_variable_declared_not_secret_is_no_secret_by_its_name_but_a_password_in_its_url_still_is() -> None:
    env = {"DB_PASSWORD": "postgres", "DB_URL": "postgres://app:hunter2hunter2@db/app", "API_TOKEN": "tok-12345678"}
    found = {s.value: s.source for s in secrets_from_env(env, not_secret=["db_password", "db_url", "api_token"])}
    assert found == {"hunter2hunter2": "the password in DB_URL"}
    # Named as secret explicitly wins over not secret.
    assert "postgres" in {s.value for s in secrets_from_env(env, names=["DB_PASSWORD"], not_secret=["DB_PASSWORD"])}
    assert "postgres" in {s.value for s in secrets_from_env(env)}
