"""The tracking comment: one per task, found again by its hidden marker, always rendered whole from the task as
the state branch holds it (so a late retry of an edit never shows an older state), and the pull request's body.
Pure: no I/O."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime

from coordinator.core.deliveries import needs_person
from coordinator.core.spend import BUDGET_WAIT
from coordinator.github.plan_tracking import plan_headline, plan_lines, report_lines
from coordinator.github.sanitize import clip, quoted, sanitize
from coordinator.models import Attempt, AttemptOutcome, GitHubConfig, GitHubLink, Task, TaskStatus

#: GitHub refuses comment bodies over 65,536 characters; stay well below.
MAX_COMMENT_CHARS = 60_000
_SUMMARY_CHARS = 4_000
_ASKED_CHARS = 1_000
_REASON_CHARS = 300
_MARKER = "<!-- coordinator:task={} -->"
_HEADLINE = {
    TaskStatus.QUEUED: "⏳ **Queued**: waiting for a runner",
    TaskStatus.BLOCKED: "⏳ **Waiting** for the tasks it depends on",
    TaskStatus.RUNNING: "⚙️ **Running**",
    TaskStatus.NEEDS_INPUT: "❓ **Waiting for an answer**",
    TaskStatus.SUCCEEDED: "✅ **Succeeded**",
    TaskStatus.FAILED: "❌ **Failed**",
    TaskStatus.CANCELLED: "🚫 **Cancelled**",
}


def marker(task_id: str) -> str:
    """The hidden line that identifies the tracking comment of ``task_id``."""
    return _MARKER.format(task_id)


def is_tracking_comment(body: str, task_id: str) -> bool:
    """Whether a comment's body is the tracking comment of ``task_id`` (it starts with the marker)."""
    return body.lstrip().startswith(marker(task_id))


def repository_url(link: GitHubLink) -> str:
    """The repository's web address, from the issue's (GitHub Enterprise too)."""
    head, sep, _ = link.url.rpartition("/issues/")
    return head if sep else f"https://github.com/{link.repository}"


def pushed_branch(task: Task, config: GitHubConfig) -> str:
    """The branch a task's work is pushed to: ``<branch_prefix><task id>``; a follow-up's is the branch of the
    task it follows up (the one its pull request merges)."""
    return config.branch_prefix + (task.follow_up.of if task.follow_up is not None else task.id)


def render(task: Task, config: GitHubConfig, follow_ups: Sequence[Task] = (), children: Sequence[Task] = ()) -> str:
    """The tracking comment's whole text for the issue's ``task`` as it is now, with a section for each of its
    ``follow_ups`` (whichever of them is delivered, the comment shows them all) and, for a plan, its proposal,
    its subtasks (``children``) or its final report."""
    link = task.github
    assert link is not None
    lines = [marker(task.id), f"{plan_headline(task, children) or _headline(task)}", ""]
    for asked in (f for f in task.feedback if f.kind == "retry" and f.round == task.round):
        text = clip(inert(sanitize(asked.text).strip()), _ASKED_CHARS)
        lines += [f"**{_one_line(asked.author)} asked for this round:**", "", quoted(text), ""]
    lines += _question(task, link)
    lines += plan_lines(task, children)
    round_attempts = [a for a in task.attempts if a.round == task.round]
    if task.status in (TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELLED):
        lines += _final(task, link, config, round_attempts)
    if round_attempts:
        table = _attempt_table(task, round_attempts)
        lines += ["<details><summary>Attempts</summary>", "", *table, "", "</details>", ""]
    for follow_up in follow_ups:
        lines += follow_up_section(follow_up, config)
    lines.append(
        f"<sub>Task `{task.id}` · triggered by {link.trigger.actor} ({link.trigger.event}) · coordinator updates "
        "this comment as the task moves on</sub>"
    )
    return clip("\n".join(lines), MAX_COMMENT_CHARS)


def follow_up_section(task: Task, config: GitHubConfig) -> list[str]:
    """A follow-up's section of the issue's tracking comment: what asked for it, where it is, what it did."""
    follow_up, link = task.follow_up, task.github
    assert follow_up is not None and link is not None
    asked = "requested changes" if follow_up.state == "changes_requested" else "asked"
    where = f"[a review]({follow_up.url})" if follow_up.kind == "review" else f"[a comment]({follow_up.url})"
    if not follow_up.url:
        where = f"a {follow_up.kind}"
    lines = [f"### Follow-up {follow_up.number}: {_one_line(follow_up.author)} {asked} in {where}", ""]
    lines += [_headline(task), ""]
    lines += _question(task, link)
    attempts = [a for a in task.attempts if a.round == task.round]
    if task.is_terminal:
        last = next((a for a in reversed(attempts) if a.summary), None)
        if last is not None and last.summary:
            lines += [quoted(clip(inert(sanitize(last.summary).strip()), _SUMMARY_CHARS // 2)), ""]
        rows = _figures(attempts)
        if link.pushed:
            branch = pushed_branch(task, config)
            rows.append(("Pushed", f"`{link.pushed[:12]}` to [`{branch}`]({repository_url(link)}/tree/{branch})"))
        if rows:
            lines += ["| | |", "|---|---|", *(f"| {name} | {value} |" for name, value in rows), ""]
    threads = len({note.in_reply_to or note.id for note in follow_up.notes})
    replies = f" · {threads} review thread(s), each answered there when it ends" if threads else ""
    lines += [f"<sub>Task `{task.id}`{replies}</sub>", ""]
    return lines


def reply_marker(task_id: str) -> str:
    """The hidden line that identifies a follow-up's reply in a review thread (looked for before replying)."""
    return f"<!-- coordinator:reply={task_id} -->"


def thread_reply(task: Task, config: GitHubConfig) -> str:
    """What a follow-up that ended says in each review thread it addressed."""
    follow_up, link = task.follow_up, task.github
    assert follow_up is not None and link is not None
    anchor = f"#issuecomment-{link.comment_id}" if link.comment_id else ""
    where = f"the [tracking comment]({link.url}{anchor})" if link.url else "the issue's tracking comment"
    if task.status == TaskStatus.SUCCEEDED and link.pushed:
        head = f"✅ Follow-up `{task.id}` pushed `{link.pushed[:12]}` to `{pushed_branch(task, config)}` for this."
    elif task.status == TaskStatus.SUCCEEDED:
        head = f"✅ Follow-up `{task.id}` finished without changing any file."
    elif task.status == TaskStatus.CANCELLED:
        head = f"🚫 Follow-up `{task.id}` was cancelled."
    else:
        why = f": {_one_line(task.status_reason)}" if task.status_reason else ""
        head = f"❌ Follow-up `{task.id}` did not manage this{why}."
    lines = [reply_marker(task.id), head, ""]
    last = next((a for a in reversed(task.attempts) if a.round == task.round and a.summary), None)
    if last is not None and last.summary:
        lines += [quoted(clip(inert(sanitize(last.summary).strip()), _ASKED_CHARS)), ""]
    lines.append(f"<sub>Details in {where}.</sub>")
    return "\n".join(lines)


def _headline(task: Task) -> str:
    head = _HEADLINE[task.status]
    last = next((a for a in reversed(task.attempts) if a.round == task.round), None)
    if task.status == TaskStatus.RUNNING and last is not None:
        since = _time(last.started_at)
        which = f"attempt {_ordinal(task, last)} of {task.max_attempts}"
        then = f"; the next attempt will use mode {_code(task.next_mode)}" if task.next_mode else ""
        return f"{head} on {_code(last.runner)} in mode {_code(last.mode)} ({which}){since}{then}"
    answered_by = task.question.answered_by if task.question is not None else None
    if task.status == TaskStatus.QUEUED and answered_by and last and last.outcome == AttemptOutcome.NEEDS_INPUT:
        where = f"resuming its session on {_code(task.resume.runner)}" if task.resume else "starting afresh"
        return f"🔁 **Answered** by {_one_line(answered_by)}: {where}; waiting for a runner"
    if task.status == TaskStatus.QUEUED and last is not None and last.outcome != AttemptOutcome.RUNNING:
        what = f"Attempt {_ordinal(task, last)} {_outcome(last)}" if last.counted else "Handed back"
        then = f"escalating to mode `{task.mode}`" if task.mode != last.mode else f"trying again in mode `{task.mode}`"
        return f"🔁 **{what}**{_reason(last)}: {then}; waiting for a runner"
    if task.status == TaskStatus.QUEUED:
        waits = task.status_reason is not None and task.status_reason.startswith(BUDGET_WAIT)
        why = f"; {_one_line(task.status_reason or '')}" if task.status_reason and (task.round or waits) else ""
        return f"{head} (mode `{task.mode}`, priority {task.priority.value}){why}"
    if task.status in (TaskStatus.FAILED, TaskStatus.CANCELLED) and task.status_reason:
        return f"{head}: {_one_line(task.status_reason)}"
    return head


def _question(task: Task, link: GitHubLink) -> list[str]:
    """The agent's question of this round: asked (with a mention of who triggered the task), or answered."""
    question = task.question
    if question is None or question.round != task.round:
        return []
    text = quoted(clip(inert(sanitize(question.text).strip()), _ASKED_CHARS))
    if task.status == TaskStatus.NEEDS_INPUT:
        ask = (
            f"@{_one_line(link.trigger.actor)}, please answer in a comment on this issue: a reply by someone with "
            "write access resumes the task."
        )
        return ["**The agent asks** (its words, quoted):", "", text, "", ask, ""]
    if question.answered_by:
        return [f"**The agent asked** (answered by {_one_line(question.answered_by)}):", "", text, ""]
    return []


def _person_call(task: Task, link: GitHubLink, config: GitHubConfig) -> list[str]:
    """A task that failed for good calls the maintainers (or, when none are configured, who triggered it)."""
    why = needs_person(task)
    if why is None or task.follow_up is not None:
        return []
    people = config.maintainers or [link.trigger.actor]
    called = " ".join(f"@{_one_line(name)}" for name in people)
    return [f"🙋 **This needs a person** ({called}): {_one_line(why)}. `/retry` with a hint starts it again.", ""]


def _ordinal(task: Task, attempt: Attempt) -> int:
    """Which of its round's ``task.max_attempts`` attempts ``attempt`` is (attempt numbers run on across rounds
    and count attempts handed back, which use none of the budget)."""
    return sum(1 for a in task.attempts if a.round == attempt.round and a.counted and a.number <= attempt.number)


def _final(task: Task, link: GitHubLink, config: GitHubConfig, attempts: list[Attempt]) -> list[str]:
    lines = _person_call(task, link, config)
    last = next((a for a in reversed(attempts) if a.summary), None)
    if last is not None and last.summary:
        summary = clip(inert(sanitize(last.summary).strip()), _SUMMARY_CHARS)
        lines += ["**Summary** (the agent's words, quoted)", "", quoted(summary), ""]
    rows = _figures(attempts)
    if link.pull_url:
        rows.append(("Pull request", f"#{link.pull_number} {link.pull_url}"))
    if not link.pushed and link.last_error and link.last_error.startswith("push: not pushed"):
        why = " ".join(sanitize(link.last_error.removeprefix("push: ")).split()).replace("|", "\\|")
        rows.append(("Branch", clip(why, 1_000)))
    if link.pushed:
        branch = pushed_branch(task, config)
        url = f"{repository_url(link)}/tree/{branch}"
        rows.append(("Branch", f"[`{branch}`]({url}) at `{link.pushed[:12]}`"))
        if link.pr_policy == "link" and task.status == TaskStatus.SUCCEEDED:
            rows.append(("Open a pull request", f"{repository_url(link)}/compare/{branch}?expand=1"))
    logs = [a for a in attempts if a.log]
    if logs:
        rows.append(("Log", "; ".join(f"{_code(a.log or '')} on {_code(a.runner)}" for a in logs[-2:])))
    if rows:
        lines += ["| | |", "|---|---|", *(f"| {name} | {value} |" for name, value in rows), ""]
    return lines


def _figures(attempts: list[Attempt]) -> list[tuple[str, str]]:
    """Outcome, models, cost, tokens, turns and duration over the round's attempts."""
    if not attempts:
        return []
    models = list(dict.fromkeys(a.model for a in attempts if a.model))
    cost = sum(a.cost_usd or 0.0 for a in attempts)
    turns = sum(a.turns or 0 for a in attempts)
    seconds = sum(a.duration_seconds or 0.0 for a in attempts)
    counted = [a.tokens for a in attempts if a.tokens]
    tokens_in = sum(t.input + t.cache_read + t.cache_creation for t in counted)
    tokens_out = sum(t.output for t in counted)
    last = attempts[-1]
    rows = [("Outcome", f"{_outcome(last)} after {len(attempts)} attempt(s)")]
    if models:
        rows.append(("Model" + ("s" if len(models) > 1 else ""), ", ".join(_code(m) for m in models)))
    rows += [
        ("Cost", f"${cost:.4f}"),
        ("Tokens", f"{tokens_in:,} in, {tokens_out:,} out"),
        ("Turns", str(turns)),
        ("Duration", _duration(seconds)),
    ]
    return rows


def _attempt_table(task: Task, attempts: Iterable[Attempt]) -> list[str]:
    rows = ["| # | Mode | Model | Runner | Outcome | Duration | Cost |", "|---|---|---|---|---|---|---|"]
    for a in attempts:
        cost = f"${a.cost_usd:.4f}" if a.cost_usd is not None else ""
        duration = _duration(a.duration_seconds) if a.duration_seconds is not None else ""
        outcome = _outcome(a) + _reason(a) + _continued(a)
        number = str(_ordinal(task, a)) if a.counted else "-"  # handed back: not one of the budget
        model = _code(a.model) if a.model else ""
        rows.append(f"| {number} | {_code(a.mode)} | {model} | {_code(a.runner)} | {outcome} | {duration} | {cost} |")
    return rows


def _outcome(attempt: Attempt) -> str:
    detail = attempt.outcome_detail
    named = attempt.outcome.value.replace("_", " ")
    return f"{named} ({_one_line(detail.replace('_', ' '))})" if detail and detail != attempt.outcome.value else named


def _continued(attempt: Attempt) -> str:
    """Whether an attempt continued an earlier attempt's Claude session or had to start fresh."""
    if attempt.resumed_session:
        return " (resumed the earlier session)"
    if attempt.fresh_because:
        return f" (started fresh: {_one_line(attempt.fresh_because)})"
    return ""


def _reason(attempt: Attempt) -> str:
    why = attempt.error or attempt.reason
    return f": {_one_line(why)}" if why and attempt.outcome != AttemptOutcome.SUCCEEDED else ""


def _code(text: str) -> str:
    """A value reported by a runner or agent (model, runner, log path) as inline code in one table cell."""
    return "`" + _one_line(text).replace("`", "'") + "`"


def _one_line(text: str) -> str:
    flat = " ".join(sanitize(text).split()).replace("|", "\\|")
    return flat if len(flat) <= _REASON_CHARS else flat[: _REASON_CHARS - 1] + "…"


def _time(when: datetime | None) -> str:
    return f" since {when:%Y-%m-%d %H:%M} UTC" if when is not None else ""


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


_MENTION = re.compile(r"(?<![\w`@/])@(?=[A-Za-z0-9][A-Za-z0-9-]*)")
_CLOSING = re.compile(r"\b(close[sd]?|fix(?:e[sd])?|resolve[sd]?)(?=:?\s+[\w.-]*(?:/[\w.-]+)?#\d)", re.IGNORECASE)
_FENCED = re.compile(r"(```.*?(?:```|\Z))", re.DOTALL)
_INVISIBLE = "&#8203;"  # a zero-width space as GitHub's Markdown writes it: shown as nothing, breaks the pattern


def inert(text: str) -> str:
    """The agent's words made unable to act on GitHub: ``@name`` notifies nobody and ``Fixes #12`` closes
    nothing (only coordinator's own ``Closes #N`` does); both still read the same."""
    parts = _FENCED.split(text)  # code blocks show entities literally, and GitHub acts on nothing inside them
    for i in range(0, len(parts), 2):
        parts[i] = _CLOSING.sub(lambda m: m.group(1) + _INVISIBLE, _MENTION.sub("@" + _INVISIBLE, parts[i]))
    return "".join(parts)


def pull_body(task: Task, config: GitHubConfig) -> str:
    """The pull request's body: closes the issue, and says what the agent reported."""
    link = task.github
    assert link is not None
    last = next((a for a in reversed(task.attempts) if a.round == task.round and a.summary), None)
    summary = clip(inert(sanitize(last.summary or "").strip()), _SUMMARY_CHARS) if last is not None else ""
    lines = [f"Closes #{link.issue}", ""]
    if summary:
        lines += [summary, ""]
    if task.plan is not None and task.plan.report is not None:
        lines += report_lines(task.plan.report)
    lines.append(
        f"<sub>Made by coordinator for task `{task.id}`, triggered by {link.trigger.actor}; the agent's work is on "
        f"`{pushed_branch(task, config)}`. Review it like any contribution.</sub>"
    )
    return "\n".join(lines)


def untrusted_reply(login: str, permission: str, label: str) -> str:
    """The one reply to someone without write access who applied the trigger label."""
    return (
        f"<!-- coordinator:untrusted -->\nThanks, {login}. Only people with write access to this repository can "
        f"start coordinator on an issue (your access: {permission}), so nothing will run. Someone with write access "
        f"can add the `{label}` label to start it."
    )
