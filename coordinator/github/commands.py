"""Slash commands in issue comments (pure): ``/retry [feedback]``, ``/cancel``, ``/escalate [mode]``,
``/priority LEVEL``. A command is the first line of a comment that starts with ``/``; the rest of the comment is
the feedback of a ``/retry``. A slash word that looks meant for coordinator but is not a command we know (a
typo, ``/help``, bad arguments) is ``Unknown``: it gets one short help reply. Any other slash word is not ours."""

from __future__ import annotations

from dataclasses import dataclass
from difflib import get_close_matches

from coordinator.models import Priority

COMMANDS = ("retry", "cancel", "escalate", "priority")
#: Words that address coordinator without being a command: they get the help reply.
_ADDRESSED = ("help", "coordinator", "claude")
HELP = (
    "Commands (in a comment of their own, by someone with write access): `/retry [what to do differently]`, "
    "`/cancel`, `/escalate [mode]`, `/priority critical|high|medium|low`. A plain comment while the task waits or "
    "runs goes into its next attempt."
)


@dataclass(frozen=True)
class Command:
    """A command we know: ``name`` with its ``argument`` (the mode, the priority) and ``text`` (feedback)."""

    name: str
    argument: str | None = None
    text: str = ""


@dataclass(frozen=True)
class Unknown:
    """A slash word meant for us that is not a command we can carry out; ``why`` is said in the help reply."""

    word: str
    why: str


def read_command(body: str, *, modes: tuple[str, ...]) -> Command | Unknown | None:
    """The command in a comment's ``body`` (None: the comment is not a command for coordinator)."""
    lines = body.replace("\r\n", "\n").strip().split("\n")
    first = lines[0].strip() if lines else ""
    if not first.startswith("/") or len(first) < 2 or not first[1].isalpha():
        return None
    word, _, rest = first[1:].partition(" ")
    word, rest = word.lower(), rest.strip()
    text = "\n".join([rest, *lines[1:]]).strip()
    if word == "retry":
        return Command("retry", text=text)
    if word == "cancel":
        return Command("cancel", text=text)
    if word == "escalate":
        mode = rest.split()[0] if rest else None
        if mode is not None and mode not in modes:
            return Unknown(word, f"there is no mode '{mode}' (modes: {', '.join(modes)})")
        return Command("escalate", argument=mode)
    if word == "priority":
        level = rest.split()[0].lower() if rest else ""
        if level not in Priority._value2member_map_:
            return Unknown(word, f"'/priority' takes one of {', '.join(p.value for p in Priority)}")
        return Command("priority", argument=level)
    if word in _ADDRESSED or get_close_matches(word, COMMANDS, n=1, cutoff=0.75):
        return Unknown(word, f"'/{word}' is not a command")
    return None
