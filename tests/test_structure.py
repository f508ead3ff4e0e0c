"""The shape of the code base, checked: module and function sizes, one way to build a runner, adapters in their
place. These rules are what keeps the next features (GitHub, operations, locks) easy to add."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "coordinator"
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60


def _sources(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py"))


def test_no_module_over_500_lines_and_no_function_over_60() -> None:
    too_long = []
    for path in _sources("coordinator"):
        text = path.read_text(encoding="utf-8")
        if len(text.splitlines()) > MAX_MODULE_LINES:
            too_long.append(f"{path.relative_to(ROOT)}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}(): {length} lines")
    assert not too_long, "split these:\n" + "\n".join(too_long)


def _constructions(pattern: str) -> list[str]:
    found = []
    for path in _sources("coordinator", "tests", "benchmarks"):
        if path.name == "test_structure.py":
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if re.search(pattern, line) and not line.lstrip().startswith(("#", "class ", '"', "'")):
                found.append(f"{path.relative_to(ROOT)}:{number}")
    return found


def test_runners_are_built_in_one_place() -> None:
    # Tests, the demo, the CLI and the benchmarks all go through runner/build.py, so whatever they vary is a
    # config key a user can set too.
    assert _constructions(r"\bRunnerDaemon\(") == ["coordinator/runner/build.py:" + _line_of("RunnerDaemon(")]
    worktree_managers = [c for c in _constructions(r"\bWorktreeManager\(") if not c.startswith("tests/test_worktree")]
    assert [c.split(":")[0] for c in worktree_managers] == ["coordinator/runner/build.py"]


def _line_of(text: str) -> str:
    lines = (PACKAGE / "runner" / "build.py").read_text(encoding="utf-8").splitlines()
    return str(next(i for i, line in enumerate(lines, start=1) if text in line and "import" not in line))


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_click_only_in_the_cli_and_the_core_imports_no_adapter() -> None:
    for path in _sources("coordinator"):
        relative = path.relative_to(PACKAGE).as_posix()
        imports = _imports(path)
        if not relative.startswith("cli/"):
            assert "click" not in imports, f"{relative} imports click"
        if relative.startswith("core/"):
            adapters = {
                m for m in imports if m.startswith(("coordinator.store", "coordinator.runner", "coordinator.agents"))
            }
            assert not adapters, f"the pure core module {relative} imports adapters: {adapters}"
            assert not imports & {"subprocess", "git", "github", "threading"}, f"{relative} does I/O"


def test_git_runs_through_one_runner() -> None:
    # One environment policy for every git process (no inherited GIT_DIR, no prompts, English messages).
    offenders = [
        f"{path.relative_to(ROOT)}"
        for path in _sources("coordinator")
        if path.name != "gitcmd.py" and re.search(r"""\[\s*["']git["']""", path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
