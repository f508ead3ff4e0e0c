"""Adding a trailer (``Co-authored-by: …``) to every commit of an attempt that lacks it, before the branch is
published: the commits are recreated with ``git commit-tree`` (same trees, authors and dates; the runner as
committer), so it works whatever the agent did (several commits, merges) and no hook or editor ever runs."""

from __future__ import annotations

from coordinator.runner.gitrepo import RepoGit

_FIELDS = "%an%x00%ae%x00%ad%x00%T%x00%B"


def add_trailer(git: RepoGit, *, branch: str, since: str, trailer: str) -> str:
    """Give every commit in ``since..branch`` the ``trailer`` line; returns the branch's new tip (the same tip
    when every commit had it)."""
    tip = git.out(["rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"])
    listing = git.out(["rev-list", "--reverse", "--topo-order", "--parents", f"{since}..{tip}"])
    rewritten: dict[str, str] = {}
    for line in listing.splitlines():
        commit, *parents = line.split()
        fields = git.run(
            ["show", "-s", "--date=raw", f"--format={_FIELDS}", commit], what=f"cannot read commit {commit}"
        ).stdout
        name, email, date, tree, message = fields.split("\x00", 4)
        new_parents = [rewritten.get(p, p) for p in parents]
        if _has(message, trailer) and new_parents == parents:
            continue
        if not _has(message, trailer):
            message = git.run(
                ["interpret-trailers", "--trailer", trailer], input_text=message, what="git interpret-trailers failed"
            ).stdout
        author = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email, "GIT_AUTHOR_DATE": date}
        args = ["commit-tree", tree, *(x for p in new_parents for x in ("-p", p)), "-F", "-"]
        made = git.with_env(author).run(args, input_text=message, what=f"cannot rewrite commit {commit}").stdout
        rewritten[commit] = made.strip()
    new_tip = rewritten.get(tip, tip)
    if new_tip != tip:
        git.run(["update-ref", f"refs/heads/{branch}", new_tip, tip], what=f"cannot move {branch}")
    return new_tip


def _has(message: str, trailer: str) -> bool:
    return any(line.strip().lower() == trailer.strip().lower() for line in message.splitlines())


def co_author_trailer(login: str, user_id: int | None) -> str:
    """``Co-authored-by:`` for a GitHub user, with the no-reply address GitHub credits to their account."""
    email = f"{user_id}+{login}@users.noreply.github.com" if user_id else f"{login}@users.noreply.github.com"
    return f"Co-authored-by: {login} <{email}>"
