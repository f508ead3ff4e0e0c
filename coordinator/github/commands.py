"""Slash commands in issue comments (pure): ``/retry [feedback]``, ``/cancel``, ``/escalate [mode]``,
``/priority LEVEL``, and for plans ``/plan``, ``/approve``, ``/replan [feedback]``. A command is the first line
of a comment that starts with ``/``; the rest of the comment is the feedback of a ``/retry`` (or ``/replan``). A
slash word that looks meant for coordinator but is not a command we know (a typo, ``/help``, bad arguments) is
``Unknown``: it gets one short help reply. A first line that is nothing but an unknown slash word
(``/frobnicate``) is ``Unknown`` too, but not ``addressed``: it is answered only on an issue coordinator works on
(other bots' commands, like ``/lgtm``, are not ours to answer elsewhere). Anything else is not ours: a slash
inside a sentence, a path (``/usr/bin``), quoted or indented (code) text."""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import get_close_matches

from coordinator.models import Priority

COMMANDS = ("retry", "cancel", "escalate", "priority", "plan", "approve", "replan")
#: Words that address coordinator without being a command: they get the help reply.
_ADDRESSED = ("help", "coordinator", "claude")
HELP = (
    "Commands (in a comment of their own, by someone with write access): `/retry [what to do differently]`, "
    "`/cancel`, `/escalate [mode]`, `/priority critical|high|medium|low`; for a plan `/plan` (split the issue into "
    "subtasks), `/approve` (run the proposed subtasks), `/replan [what to change]`. A plain comment while the task "
    "waits or runs goes into its next attempt; when the agent asked a question, it is the answer."
)
#: A slash word alone on its line: ``/frobnicate`` (not ``/usr/bin``, not ``/tmp is full``).
_LONE_WORD = re.compile(r"/[A-Za-z][A-Za-z0-9_-]*")
#: Markdown shows a line indented this far (or by a tab) as code: nobody gives a command that way.
_CODE_INDENT = ("    ", "\t")


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
    #: Our own word or a misspelling of one (answered on any issue); else a lone unknown slash word (answered only
    #: on an issue coordinator has a task for).
    addressed: bool = True


def read_command(body: str, *, modes: tuple[str, ...]) -> Command | Unknown | None:
    """The command in a comment's ``body`` (None: the comment is not a command for coordinator)."""
    lines = body.replace("\r\n", "\n").strip("\n").split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    if not lines or lines[0].startswith(_CODE_INDENT):
        return None
    first = lines[0].strip()
    if not first.startswith("/") or len(first) < 2 or not first[1].isalpha():
        return None
    word, _, rest = first[1:].replace("\t", " ").partition(" ")
    word, rest = word.lower(), rest.strip()
    text = "\n".join([rest, *lines[1:]]).strip()
    if word in COMMANDS:
        return _known(word, rest, text, modes)
    if word in _ADDRESSED or get_close_matches(word, COMMANDS, n=1, cutoff=0.75):
        return Unknown(word, f"'/{word}' is not a command")
    if _LONE_WORD.fullmatch(first):
        return Unknown(word, f"'/{word}' is not a command", addressed=False)
    return None


def _known(word: str, rest: str, text: str, modes: tuple[str, ...]) -> Command | Unknown:
    """The command ``word`` with what follows it on its line (``rest``) and after it (``text``)."""
    if word in ("retry", "cancel", "plan", "approve", "replan"):
        return Command(word, text=text)
    if word == "escalate":
        mode = rest.split(maxsplit=1)[0] if rest else None
        if mode is not None and mode not in modes:
            return Unknown(word, f"there is no mode '{mode}' (modes: {', '.join(modes)})")
        return Command("escalate", argument=mode)
    level = rest.split(maxsplit=1)[0].lower() if rest else ""
    if level not in Priority._value2member_map_:
        return Unknown(word, f"'/priority' takes one of {', '.join(p.value for p in Priority)}")
    return Command("priority", argument=level)
