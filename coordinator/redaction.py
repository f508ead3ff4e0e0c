"""Keeping secrets out of everything the coordinator writes: logs, results on the state branch, messages, commits.

A :class:`Redactor` knows secret *values* (those of environment variables whose names look secret —
``*_KEY``, ``*_TOKEN``, ``*PASSWORD*``, ... —, of variables the runner's configuration names, and the
passwords inside URL-valued variables such as ``DATABASE_URL`` or ``HTTPS_PROXY``) and recognises secret
*shapes* (URL user info, ``Authorization`` headers, well-known token formats). It finds each value in every
form printing gives it (raw, JSON- or Python-escaped, percent-encoded: see :mod:`coordinator.secret_patterns`),
so a secret inside ``json.dumps(...)`` is hidden as surely as a bare one.

Apply it to text (:meth:`Redactor.redact`, raw logs) *and* to parsed results (:meth:`Redactor.redact_deep`,
every string of a dataclass, pydantic model, dict, list, ...). :mod:`coordinator.diff_scan` uses the same
redactor to stop a commit whose changes hold a secret.
"""

from __future__ import annotations

import copy
import dataclasses
import fnmatch
import functools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import PurePath
from typing import Any, TypeVar, cast
from urllib.parse import unquote

from pydantic import BaseModel

from coordinator.secret_patterns import (
    MAX_PRINTED_CHAR,
    SHAPES,
    URL_USERINFO,
    fold,
    looks_like_token,
    value_anchor,
    value_pattern,
    widen_to_escapes,
)

REDACTED = "[REDACTED]"

_SECRET_NAME_PARTS = frozenset(
    {"KEY", "APIKEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "PASS", "CREDENTIAL", "CREDENTIALS", "PAT"}
)
_SECRET_FLAG = re.compile(r"^--?[\w-]*(key|token|secret|password|passwd|credential)[\w-]*$", re.IGNORECASE)
_MIN_SECRET_LENGTH = 8  # shorter values of variables ("test", "1", "true") would redact ordinary words
_MIN_GIVEN_LENGTH = 4  # a value given as secret is hidden unless so short that hiding it would garble the text

#: Variables of the runner that its agents never inherit: the state remote (its URL may carry a token) and the
#: GitHub tokens the runner itself uses. A task that needs a credential gets it explicitly, not by inheritance.
WITHHELD_FROM_AGENTS = frozenset(
    {"COORDINATOR_REMOTE", "COORDINATOR_GITHUB_TOKEN", "GITHUB_TOKEN", "GH_TOKEN", "GH_ENTERPRISE_TOKEN"}
)

T = TypeVar("T")


@dataclass(frozen=True)
class Secret:
    """A known secret value and where it came from; ``source`` is safe to show (it never holds the value)."""

    value: str = field(repr=False)
    source: str = "a secret value"


@dataclass(frozen=True)
class Hit:
    """Where a secret is in a text (``text[start:end]``) and what kind it is, e.g. "the value of GH_TOKEN"."""

    start: int
    end: int
    kind: str


def is_secret_env_name(name: str) -> bool:
    """Whether an environment variable name suggests a secret (``ANTHROPIC_API_KEY``, ``GH_TOKEN``, ...)."""
    parts = re.split(r"[^A-Za-z0-9]+", name.upper())
    return any(part in _SECRET_NAME_PARTS for part in parts)


def credentials_in(value: str) -> list[tuple[str, str]]:
    """``(what, secret)`` for each credential inside URLs in ``value``: ``("password", p)`` for ``u:p@``,
    ``("token", t)`` for a token used as the user name (``https://TOKEN@host``). Percent-encoding is undone."""
    found = []
    for match in URL_USERINFO.finditer(value):
        user, colon, password = match.group("userinfo").partition(":")
        if colon:
            found.append(("password", unquote(password)))
        elif looks_like_token(user):
            found.append(("token", unquote(user)))
    return found


def secrets_from_env(
    env: Mapping[str, str], *, names: Iterable[str] = (), patterns: Iterable[str] = (), not_secret: Iterable[str] = ()
) -> list[Secret]:
    """The secrets an environment holds, longest first.

    The values of variables whose names look secret (:func:`is_secret_env_name`), are listed in ``names`` or
    match a shell-style pattern of ``patterns`` (``"*_DSN"``; names compare without case), and every password
    or token inside a URL in any value (``DATABASE_URL=postgres://u:PASS@h``). Values shorter than 8
    characters are left out: they would hide ordinary words. Variables of ``not_secret`` are not secrets by
    their name (``DB_PASSWORD=postgres`` of a throw-away database), though a password in their URLs still is.
    """
    wanted = {name.upper() for name in names}
    plain = {name.upper() for name in not_secret} - wanted
    globs = [pattern.upper() for pattern in patterns]
    found: dict[str, str] = {}
    for name in sorted(env):
        value, upper = env[name], name.upper()
        named = upper in wanted or any(fnmatch.fnmatchcase(upper, g) for g in globs)
        if named or (is_secret_env_name(name) and upper not in plain):
            found.setdefault(value, f"the value of {name}")
        for what, secret in credentials_in(value):
            found.setdefault(secret, f"the {what} in {name}")
    return _longest_first((Secret(value, source) for value, source in found.items()), _MIN_SECRET_LENGTH)


def _longest_first(secrets: Iterable[Secret], minimum: int) -> list[Secret]:
    kept = {s.value: s for s in reversed(list(secrets)) if len(s.value) >= minimum}
    return sorted(kept.values(), key=lambda s: (-len(s.value), s.source))


def secret_values(env: Mapping[str, str]) -> list[str]:
    """The secret values in ``env`` (see :func:`secrets_from_env`), longest first."""
    return [secret.value for secret in secrets_from_env(env)]


@dataclass(frozen=True)
class _ValueRule:
    """One known value: its pattern, and a part every printed form holds verbatim (``None``: too short)."""

    kind: str
    pattern: re.Pattern[str] = field(repr=False)  # spells the value out
    anchor: str | None = field(repr=False)
    reach_before: int  # how far before the anchor a printed form can start
    reach_after: int  # and how far after its start it can end

    @classmethod
    def of(cls, secret: Secret) -> _ValueRule:
        anchor = value_anchor(secret.value)
        before = secret.value.index(anchor) if anchor else 0
        return cls(
            secret.source,
            value_pattern(secret.value),
            anchor,
            before * MAX_PRINTED_CHAR,
            (len(secret.value) - before) * MAX_PRINTED_CHAR,
        )

    def spans(self, text: str) -> set[tuple[int, int]]:
        if self.anchor is None:
            return {m.span() for m in self.pattern.finditer(text)}
        # Only around the places the anchor occurs: a big log without the value costs one substring search.
        # Overlapping windows are searched as one, so a log repeating the anchor is still read about once.
        found: set[tuple[int, int]] = set()
        window: tuple[int, int] | None = None
        position = text.find(self.anchor)
        while position != -1:
            start, end = max(0, position - self.reach_before), position + self.reach_after
            if window is not None and start > window[1]:
                found.update(m.span() for m in self.pattern.finditer(text, *window))
                window = None
            window = (window[0] if window else start, end)
            position = text.find(self.anchor, position + 1)
        if window is not None:
            found.update(m.span() for m in self.pattern.finditer(text, *window))
        return found


class Redactor:
    """Hides known secret values (in every printed form) and secret shapes in text and in parsed data.

    ``Redactor.from_env(os.environ, names=config.secret_env_names, patterns=config.secret_env_patterns)`` is
    what a runner builds once; ``Redactor()`` still hides the shapes. Values given directly count from 4
    characters (shorter ones cannot be hidden without garbling the text). Never shows a value in its ``repr``.
    """

    def __init__(self, secrets: Iterable[Secret | str] = ()) -> None:
        given = [s if isinstance(s, Secret) else Secret(s) for s in secrets]
        self.secrets: tuple[Secret, ...] = tuple(_longest_first(given, _MIN_GIVEN_LENGTH))
        self._rules = [_ValueRule.of(secret) for secret in self.secrets]

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str],
        *,
        names: Iterable[str] = (),
        patterns: Iterable[str] = (),
        not_secret: Iterable[str] = (),
        extra_values: Iterable[Secret | str] = (),
    ) -> Redactor:
        """A redactor for the secrets of ``env`` (:func:`secrets_from_env`) plus ``extra_values``."""
        found = secrets_from_env(env, names=names, patterns=patterns, not_secret=not_secret)
        return cls([*found, *extra_values])

    @property
    def values(self) -> tuple[str, ...]:
        """The known secret values, longest first."""
        return tuple(s.value for s in self.secrets)

    def __repr__(self) -> str:
        return f"Redactor({len(self.secrets)} secret values)"

    def find(self, text: str, *, confident_only: bool = False) -> list[Hit]:
        """Every secret in ``text``: known values, and shapes (only the certain ones when ``confident_only``)."""
        hits = [Hit(start, end, rule.kind) for rule in self._rules for start, end in rule.spans(text)]
        folded = fold(text)
        for shape in SHAPES:
            if confident_only and shape.confident is None:
                continue
            for start, end, secret in shape.spans(text, folded):
                if not confident_only or (shape.confident is not None and shape.confident(secret)):
                    hits.append(Hit(start, end, shape.kind))
        widened = [Hit(*widen_to_escapes(text, hit.start, hit.end), hit.kind) for hit in hits]
        return sorted(widened, key=lambda h: (h.start, -h.end, h.kind))

    def redact(self, text: str) -> str:
        """``text`` with every secret replaced by ``[REDACTED]`` (``text`` itself when it holds none)."""
        hits = self.find(text)
        if not hits:
            return text
        out: list[str] = []
        position = 0
        for hit in hits:  # sorted by start: overlapping hits merge into one marker
            if hit.end <= position:
                continue
            if hit.start >= position:
                out.append(text[position : hit.start])
                out.append(REDACTED)
            position = hit.end
        out.append(text[position:])
        return "".join(out)

    def redact_deep(self, value: T) -> T:
        """A copy of ``value`` with every string in it redacted, keys included.

        Walks dataclasses (copied with :func:`dataclasses.replace`), pydantic models (``model_copy``, extra
        fields too), dicts, lists, tuples (named ones too), sets, bytes and paths; enum members and other values
        are kept as they are.
        """
        redacted, changed = self._deep(value)
        return cast(T, redacted if changed else copy.copy(value))

    def _deep(self, value: object) -> tuple[object, bool]:
        """``(redacted value, whether anything changed)``; unchanged parts are returned as they are."""
        if isinstance(value, Enum):
            return value, False
        if isinstance(value, str):
            redacted = self.redact(value)
            return (redacted if type(value) is str else type(value)(redacted)), redacted is not value
        if isinstance(value, bytes):
            text = value.decode("utf-8", "surrogateescape")
            redacted = self.redact(text)
            return redacted.encode("utf-8", "surrogateescape"), redacted is not text
        if isinstance(value, BaseModel):
            return self._deep_model(value)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return self._deep_dataclass(value)
        if isinstance(value, dict):
            return self._deep_dict(value)
        if isinstance(value, list | tuple | set | frozenset):
            return self._deep_collection(value)
        if isinstance(value, PurePath):
            path = self.redact(str(value))
            return (type(value)(path) if path != str(value) else value), path != str(value)
        return value, False

    def _deep_dict(self, value: dict[Any, Any]) -> tuple[object, bool]:
        items = [(self._deep(k), self._deep(v)) for k, v in value.items()]
        if not any(k[1] or v[1] for k, v in items):
            return value, False
        out = copy.copy(value)  # keeps the type (OrderedDict, defaultdict's factory, ...)
        out.clear()
        out.update((k[0], v[0]) for k, v in items)
        return out, True

    def _deep_collection(self, value: list[Any] | tuple[Any, ...] | set[Any] | frozenset[Any]) -> tuple[object, bool]:
        items = [self._deep(item) for item in value]
        if not any(changed for _, changed in items):
            return value, False
        redacted: list[Any] = [item for item, _ in items]
        if isinstance(value, list):
            out = copy.copy(value)
            out[:] = redacted
            return out, True
        if isinstance(value, tuple) and hasattr(value, "_fields"):  # a named tuple
            return type(value)(*redacted), True
        return type(value)(redacted), True

    def _deep_model(self, model: BaseModel) -> tuple[object, bool]:
        update = {}
        for name in type(model).model_fields:
            redacted, changed = self._deep(getattr(model, name))
            if changed:
                update[name] = redacted
        extra = model.model_extra or {}
        renamed = {key: cast(str, self._deep(key)[0]) for key in extra}
        new_extra = {renamed[key]: self._deep(value) for key, value in extra.items()}
        keys_changed = any(new is not old for old, new in renamed.items())
        if not update and not keys_changed and not any(changed for _, changed in new_extra.values()):
            return model, False
        copied = model.model_copy(update=update)
        if extra:
            # Extra keys come from the agent too: a key may itself be a secret, so the mapping is rebuilt.
            object.__setattr__(copied, "__pydantic_extra__", {k: v for k, (v, _) in new_extra.items()})
            fields_set = {renamed.get(name, name) for name in copied.model_fields_set}
            object.__setattr__(copied, "__pydantic_fields_set__", fields_set)
        return copied, True

    def _deep_dataclass(self, value: Any) -> tuple[object, bool]:
        init_changes: dict[str, object] = {}
        other_changes: dict[str, object] = {}
        for f in dataclasses.fields(value):
            redacted, changed = self._deep(getattr(value, f.name))
            if changed:
                (init_changes if f.init else other_changes)[f.name] = redacted
        if not init_changes and not other_changes:
            return value, False
        copied = dataclasses.replace(value, **init_changes)
        for name, redacted in other_changes.items():
            object.__setattr__(copied, name, redacted)  # fields outside __init__ (frozen classes too)
        return copied, True


@functools.lru_cache(maxsize=64)
def redactor_for(values: tuple[str | Secret, ...]) -> Redactor:
    """A redactor for these secret values, built once per distinct set (compiling the patterns costs)."""
    return Redactor(values)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Replace the given secret values (in every printed form) and every secret shape in ``text``."""
    return redactor_for(tuple(secrets)).redact(text)


def redact_deep(value: T, secrets: Iterable[str] = ()) -> T:
    """:meth:`Redactor.redact_deep` with a redactor for ``secrets``."""
    return redactor_for(tuple(secrets)).redact_deep(value)


def redact_argv(argv: Sequence[str], secrets: Iterable[str] = ()) -> list[str]:
    """``argv`` with secret values redacted: ``--api-key X``, ``--token=X`` and token-shaped values."""
    redactor = redactor_for(tuple(secrets))
    out: list[str] = []
    hide_next = False
    for arg in argv:
        if hide_next:
            out.append(REDACTED)
            hide_next = False
            continue
        flag, eq, _value = arg.partition("=")
        if _SECRET_FLAG.match(flag):
            if eq:
                out.append(f"{flag}={REDACTED}")
                continue
            hide_next = True
        out.append(redactor.redact(arg))
    return out


def describe_argv(argv: Sequence[str], secrets: Iterable[str]) -> str:
    """``argv`` redacted, as one JSON line (prompts have newlines); long arguments are shortened."""
    shown = [a if len(a) <= 500 else f"{a[:500]}…[{len(a)} chars]" for a in redact_argv(argv, secrets)]
    return json.dumps(shown, ensure_ascii=False)
