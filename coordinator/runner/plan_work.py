"""The runner's part in a plan's life, around an attempt of a plan or of one of its children:

- the planning attempt's branch goes to the repository as the plan's branch (``coordinator/<plan>``);
- a child starts from the plan's branch as the repository has it, wherever it runs; a subtask's branch goes to
  the repository when it succeeds, so any runner can integrate it;
- a verify child merges the subtasks' branches into the plan's branch (in the plan's order), pushes the result,
  and runs the verify command there (an agent runs the project's tests when there is none); a merge conflict
  stops it and says which subtask;
- a fix child starts from the plan's branch (with the conflicting merge in progress when it resolves one), and
  its work goes to the plan's branch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from coordinator.agents.base import AgentOutcome, AgentRequest, AgentResult
from coordinator.agents.containment import Containment
from coordinator.core.state import State
from coordinator.errors import WorktreeError
from coordinator.ids import task_branch
from coordinator.models import Task, TaskStatus, Verification
from coordinator.redaction import Redactor
from coordinator.runner.plan_branches import PlanBranches
from coordinator.runner.slot import Slot
from coordinator.runner.verify_run import run_verify
from coordinator.runner.worktree import Worktree, WorktreeManager
from coordinator.store.store import StateStore

_AGENT_VERDICT = "agent's verdict: "


def in_plan(task: Task) -> bool:
    """Whether ``task`` is a plan or one of its children (its branches go through the repository)."""
    return task.kind == "plan" or task.parent is not None


class PlanWork:
    """Moves the branches of plans for one runner's attempts."""

    def __init__(
        self,
        branches: PlanBranches,
        worktrees: WorktreeManager,
        *,
        state: Callable[[], State],
        containment: Containment | None = None,
        redactor: Redactor | None = None,
        echo: Callable[[str], None] = print,
    ) -> None:
        self.branches, self.worktrees, self._state = branches, worktrees, state
        self.containment, self.redactor, self.echo = containment, redactor, echo

    def subtask_capabilities(self) -> list[str]:
        """What the repository lets a planning attempt make its subtasks require."""
        return list(self._state().config.plans.subtask_capabilities)

    def base(self, task: Task) -> str | None:
        """The commit a child starts from: its plan's branch as the repository has it (None for anything else)."""
        if task.parent is None:
            return None
        branch = task_branch(task.parent)
        tip = self.branches.fetch(branch)
        if tip is None:
            raise WorktreeError(
                f"the branch of plan {task.parent} ({branch}) is not in the repository",
                hint=f"retry the plan's planning attempt: coordinator retry {task.parent}",
            )
        return tip

    def before_agent(self, slot: Slot, worktree: Worktree, request: AgentRequest) -> AgentResult | None:
        """What must happen in the worktree before the agent runs; a result when the attempt ends here (a
        verify child with a command, or a merge that conflicts)."""
        task = slot.task
        if task.kind == "fix" and task.merge is not None:
            self._merge(worktree, task.merge, leave_conflicts=True)
            return None
        if task.kind == "task":
            return self._take_dependencies(slot, worktree)
        if task.kind != "verify":
            return None
        plan = self._plan(task)
        merged: list[str] = []
        for sub in self._subtasks(plan):
            new, conflict = self._merge(worktree, sub.id, leave_conflicts=False, seen=slot.tips)
            if conflict is not None:
                head = self._push_plan(worktree, plan.id)
                slot.verification = Verification(
                    passed=False, conflict=sub.id, merged=merged, head=head, output=conflict
                )
                slot.for_good = f"merging {sub.id} into the plan's branch conflicts: {conflict}"
                return AgentResult(AgentOutcome.EXECUTION_ERROR, 0.0, error=slot.for_good)
            if new:
                merged.append(sub.id)
        head = self._push_plan(worktree, plan.id)
        command = plan.plan.verify_command if plan.plan is not None else None
        if command is None:
            slot.verification = Verification(passed=True, merged=merged, head=head)  # judged after the agent
            return None
        result, found = run_verify(
            command,
            request,
            slot.stop,
            head=head,
            merged=merged,
            containment=self.containment,
            redactor=self.redactor,
        )
        slot.verification = found
        if found is not None and not found.passed:
            slot.for_good = result.error
        return result

    def _take_dependencies(self, slot: Slot, worktree: Worktree) -> AgentResult | None:
        """A subtask starts with the work of the subtasks it depends on (merged into its branch, in order)."""
        for dependency in slot.task.depends_on:
            _, conflict = self._merge(worktree, dependency, leave_conflicts=False)
            if conflict is not None:
                slot.for_good = f"the branches of its dependencies conflict ({dependency}: {conflict}); merge them"
                return AgentResult(AgentOutcome.EXECUTION_ERROR, 0.0, error=slot.for_good)
        return None

    def judge(self, slot: Slot, result: AgentResult) -> AgentResult:
        """An agent's verify: succeeded → green; its own ``FAILED:`` verdict → red (with what it said)."""
        found = slot.verification
        if slot.task.kind != "verify" or found is None or found.command is not None or found.conflict is not None:
            return result
        if result.outcome == AgentOutcome.SUCCEEDED:
            slot.verification = found.model_copy(update={"output": result.summary[-4000:]})
        elif result.outcome == AgentOutcome.EXECUTION_ERROR and (result.error or "").startswith(_AGENT_VERDICT):
            said = (result.error or "").removeprefix(_AGENT_VERDICT)
            slot.verification = found.model_copy(update={"passed": False, "output": f"{said}\n\n{result.summary}"})
            slot.for_good = f"verification failed: {said}"
            return replace(result, error=slot.for_good)
        else:
            slot.verification = None  # it did not get to a verdict: a failure like any other
        return result

    def after_success(self, slot: Slot, worktree: Worktree, commit: str | None) -> None:
        """Where a successful attempt's work goes in the repository; raises ``WorktreeError`` when it cannot."""
        task = slot.task
        head = commit or worktree.start_commit
        if task.kind == "plan":  # the plan's branch: what its subtasks start from
            branch = task_branch(task.id)
            self.branches.push(head, branch, replacing=self._replaceable(branch, head))
        elif task.kind == "task" and commit is not None:
            branch = task_branch(task.id)
            self.branches.push(commit, branch, replacing=self._replaceable(branch, commit))
        elif task.kind == "fix" and commit is not None and task.parent is not None:
            self.branches.push(commit, task_branch(task.parent))
        elif task.kind == "verify":
            self._drop_merged(slot, worktree)

    def _drop_merged(self, slot: Slot, worktree: Worktree) -> None:
        """Green: the plan's branch holds its subtasks' branches now, which leave the repository (best effort:
        a branch left behind costs nothing but clutter)."""
        found = slot.verification
        if found is None or not found.passed or found.head is None:
            return
        try:
            git = self.worktrees.git_in(worktree)
            merged = {
                branch: tip
                for branch, tip in slot.tips.items()  # fetched for the merges: what the repository had then
                if git.run(["merge-base", "--is-ancestor", tip, found.head], check=False).ok
            }
            self.branches.delete(merged)
        except WorktreeError as exc:
            self.echo(f"warning: the merged branches of plan {slot.task.parent} stay in the repository: {exc}")

    def _replaceable(self, branch: str, commit: str) -> str | None:
        """The repository's tip of ``branch`` when it is not ``commit`` (redone work replaces it), else None."""
        tip = self.branches.fetch(branch)
        return tip if tip is not None and tip != commit else None

    def _plan(self, task: Task) -> Task:
        plan = self._state().tasks.get(task.parent or "")
        if plan is None:
            raise WorktreeError(f"plan {task.parent} of {task.id} is not on the state branch")
        return plan

    def _subtasks(self, plan: Task) -> list[Task]:
        """The plan's subtasks that succeeded, in the plan's order (dependencies come first)."""
        tasks = self._state().tasks
        found = [tasks.get(c) for c in plan.depends_on]
        return [t for t in found if t is not None and t.kind == "task" and t.status == TaskStatus.SUCCEEDED]

    def _merge(
        self, worktree: Worktree, subtask: str, *, leave_conflicts: bool, seen: dict[str, str] | None = None
    ) -> tuple[bool, str | None]:
        """Merge ``subtask``'s branch (from the repository) into the worktree's: (whether it brought anything
        new, the conflicting files or None). A conflicting merge is undone unless ``leave_conflicts``. ``seen``
        gets the branch's commit as fetched."""
        branch = task_branch(subtask)
        tip = self.branches.fetch(branch)
        if tip is not None and seen is not None:
            seen[branch] = tip
        git = self.worktrees.git_in(worktree)
        if tip is None or git.run(["merge-base", "--is-ancestor", tip, "HEAD"], check=False).ok:
            return False, None
        message = f"Merge {subtask} into the plan's branch"
        args = [*self.worktrees.author.config_args(), "-c", "commit.gpgsign=false", "merge", "--no-ff"]
        args += ["--no-commit"] if leave_conflicts else ["--no-edit", "-m", message]
        done = git.run([*args, tip], check=False)
        if done.ok:
            return True, None
        files = git.out(["diff", "--name-only", "--diff-filter=U"]).split()
        if not files:
            raise WorktreeError(f"could not merge {subtask} in {worktree.path}", stderr=done.stderr)
        if not leave_conflicts:
            git.run(["merge", "--abort"], check=False)
        return True, ", ".join(files)

    def _push_plan(self, worktree: Worktree, plan_id: str) -> str:
        """Push the worktree's HEAD (the plan's branch plus what was merged) as the plan's branch."""
        head = self.worktrees.git_in(worktree).out(["rev-parse", "HEAD"])
        self.branches.push(head, task_branch(plan_id))
        return head


def plan_work_for(
    store: StateStore,
    worktrees: WorktreeManager,
    containment: Containment | None,
    redactor: Redactor,
    echo: Callable[[str], None],
) -> PlanWork:
    """The plan side of a runner that works for ``store`` in ``worktrees``."""
    branches = PlanBranches(user_clone=worktrees.repo, work_clone=worktrees.clone.path, remote=store.remote)
    return PlanWork(
        branches, worktrees, state=lambda: store.state, containment=containment, redactor=redactor, echo=echo
    )
