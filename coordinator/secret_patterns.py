"""How a secret is recognised in text: a known value in every form printing gives it, and well-known shapes.

A known value is matched character by character, each character in any of the spellings that serialisers give
it: raw; JSON- or Python-escaped (``\\"``, ``\\\\``, ``\\n``, ``\\u00e9``, ``\\x1f``, ``\\U0001f600``, UTF-16
surrogate pairs), up to three levels deep (JSON inside a JSON string inside a JSON string, as in the claude
CLI's stream-json events); or percent-encoded. So ``json.dumps`` with either ``ensure_ascii``, ``repr`` and
``urllib.parse.quote`` of a secret all match, and so does any mix of them.

Shapes are the secrets nobody told us about: URL user info, ``Authorization`` headers, ``password=…``
assignments and token formats (``sk-ant-…``, ``ghp_…``, ``AKIA…``, …). The shapes certain enough to stop a
commit (:attr:`Shape.confident`) are a subset: a placeholder such as ``ghp_xxxx…`` or AWS's ``…EXAMPLE`` key
is not one.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import re
import string
from collections.abc import Callable
from dataclasses import dataclass

_PLAIN = frozenset(string.ascii_letters + string.digits)
#: Characters no serialiser escapes (JSON, Python repr, percent-encoding): a run of them is a cheap pre-filter.
_ANCHOR_RUN = re.compile(r"[A-Za-z0-9_.-]+")
_MIN_ANCHOR = 4

# The backslashes that start an escape sequence, nested 0-3 times: each JSON level doubles the previous ones.
_ESCAPE = r"(?:\\{8}|\\{4}|\\{2}|\\)"
# What precedes a quote (or slash) that a level escaped: 2^k - 1 backslashes at level k.
_BEFORE_ESCAPED_QUOTE = r"(?:\\{7}|\\{3}|\\)?"
#: The longest spelling of one character: an astral one as a surrogate pair, 8 backslashes and ``uXXXX`` each.
MAX_PRINTED_CHAR = 2 * (8 + 5)
_SHORT_ESCAPES = {"\b": "b", "\f": "f", "\n": "n", "\r": "r", "\t": "t", "\a": "a", "\v": "v", "\0": "0"}


def _any_case_hex(digits: str) -> str:
    return "".join(f"[{d.lower()}{d.upper()}]" if d.isalpha() else d for d in digits)


def _escapes_of(char: str) -> list[str]:
    """The escape sequences (after the backslashes) that JSON and Python use for ``char``."""
    code = ord(char)
    found = [_SHORT_ESCAPES[char]] if char in _SHORT_ESCAPES else []
    if code < 0x100:
        found.append("x" + _any_case_hex(f"{code:02x}"))
    if code < 0x10000:
        found.append("u" + _any_case_hex(f"{code:04x}"))
    else:
        found.append("U" + _any_case_hex(f"{code:08x}"))
        high, low = 0xD800 + ((code - 0x10000) >> 10), 0xDC00 + ((code - 0x10000) & 0x3FF)
        found.append("u" + _any_case_hex(f"{high:04x}") + _ESCAPE + "u" + _any_case_hex(f"{low:04x}"))
    return found


def _char_pattern(char: str) -> str:
    """A regular expression for one character of a secret (not a backslash) in any of its printed spellings."""
    if char in _PLAIN:
        return char
    raw = _BEFORE_ESCAPED_QUOTE + re.escape(char) if char in "\"'/" else re.escape(char)
    options = [raw, *_escaped_forms(char)]
    if char == " ":
        options.append(r"\+")
    if char == "%":  # a raw "%" and "%25" start alike: the engine must be free to try the other one
        return "(?:" + "|".join(options) + ")"
    return _atomic(options)


def _escaped_forms(char: str) -> list[str]:
    utf8 = char.encode("utf-8", "surrogatepass")
    percent = "".join("%" + _any_case_hex(f"{byte:02x}") for byte in utf8)
    return [*(_ESCAPE + escape for escape in _escapes_of(char)), percent]


def _backslashes_pattern(count: int) -> str:
    """``count`` backslashes of a secret: the same nesting level for the whole run (``\\\\`` at level 1 is one
    backslash, ``\\\\\\\\`` at level 2), or each one spelled out (``\\u005c``, ``%5C``)."""
    levels = [rf"\\{{{count * 2**level}}}" for level in (3, 2, 1, 0)]
    each_spelled_out = _atomic(_escaped_forms("\\"))
    return _atomic([*levels, f"(?:{each_spelled_out}){{{count}}}"])


def _atomic(options: list[str]) -> str:
    # Atomic: once a character matched, the engine never tries its other spellings again. With nested
    # alternatives for every character, backtracking would otherwise be exponential on a near miss (a run of
    # backslashes in a log). In a real printed form, the first spelling that matches is the right one: the
    # spellings of a character begin differently, but for "%" (see _char_pattern), and a run of backslashes is
    # one unit whose longest spelling that fits is its own (the next character's escape is shorter).
    return "(?>" + "|".join(options) + ")"


def value_pattern(value: str) -> re.Pattern[str]:
    """A pattern matching ``value`` raw, JSON-/Python-escaped (nested up to 3 levels) or percent-encoded."""
    parts = []
    for is_backslash, run in itertools.groupby(value, key=lambda char: char == "\\"):
        chars = list(run)
        parts.extend([_backslashes_pattern(len(chars))] if is_backslash else [_char_pattern(c) for c in chars])
    return re.compile("".join(parts))


def value_anchor(value: str) -> str | None:
    """A part of ``value`` that every printed form of it holds verbatim (for a quick ``in`` test), if long enough."""
    runs = _ANCHOR_RUN.findall(value)
    longest = max(runs, key=len, default="")
    return longest if len(longest) >= _MIN_ANCHOR else None


_PARTIAL_ESCAPE_BODY = re.compile(r"(?:u[0-9a-fA-F]{0,3}|U[0-9a-fA-F]{0,7}|x[0-9a-fA-F]?)$")
_ESCAPE_BODY = re.compile(r"u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|x[0-9a-fA-F]{2}|[\s\S]")


def widen_to_escapes(text: str, start: int, end: int) -> tuple[int, int]:
    """``(start, end)`` widened so that it neither starts nor ends inside an escape sequence (``\\u0080``, ``\\"``,
    half of an escaped backslash), at any nesting level: replacing it then leaves JSON (or a Python literal)
    well formed, and JSON inside JSON strings too.

    A start moves back over the backslashes before it (whole pairs are whole escapes; an odd one escapes the
    first character). An end inside the hex digits of ``\\uXXXX`` takes the rest of them; an end after an odd
    number of a run's backslashes (read in pairs from the run's start, as a parser does) takes what the last
    one escapes.
    """
    return _escape_start(text, start), _escape_end(text, end, floor=start)


def _escape_start(text: str, position: int) -> int:
    return _backslash_run_start(text, _before_partial_body(text, position, floor=0))


def _escape_end(text: str, position: int, *, floor: int) -> int:
    cut = _before_partial_body(text, position, floor=floor)
    if cut != position:  # "\\u00|e9": whatever the level, the digits belong together
        body = _ESCAPE_BODY.match(text, cut)
        return max(position, body.end()) if body else position
    if (position - _backslash_run_start(text, position)) % 2 == 0:
        return position
    if position < len(text) and text[position] == "\\":
        return position + 1  # the other half of an escaped backslash
    body = _ESCAPE_BODY.match(text, position)
    return body.end() if body else position


def _before_partial_body(text: str, position: int, *, floor: int) -> int:
    # "\\u00" + "e9": a position inside the body of an escape moves back to the body's start.
    body = _PARTIAL_ESCAPE_BODY.search(text, max(floor, position - 10), position)
    if body and body.start() > 0 and text[body.start() - 1] == "\\":
        return body.start()
    return position


def _backslash_run_start(text: str, position: int) -> int:
    while position > 0 and text[position - 1] == "\\":
        position -= 1
    return position


# -- shapes ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    """A kind of secret recognised by its form.

    ``pattern`` is tried where one of ``keywords`` (lower-case ASCII) occurs, case aside, and must match from
    there: looking for a keyword is much faster than running every pattern over every position of a big log.
    The group named ``secret`` (else the whole match) is what gets hidden; ``accept`` rejects false matches.
    ``confident`` says whether a match may stop a commit, and checks the hidden text for that (``None``: never).
    """

    kind: str
    keywords: tuple[str, ...]
    pattern: re.Pattern[str]
    accept: Callable[[str], bool] | None = None
    confident: Callable[[str], bool] | None = None

    def spans(self, text: str, folded: bytes) -> set[tuple[int, int, str]]:
        """``(start, end, secret)`` of every accepted match in ``text``; ``folded`` is :func:`fold` of it."""
        group = "secret" if "secret" in self.pattern.groupindex else 0
        found = set()
        for keyword in self.keywords:
            needle = keyword.encode("ascii")
            position = folded.find(needle)
            while position != -1:
                match = self.pattern.match(text, position)
                if match and match.group(group) is not None:
                    secret = match.group(group)
                    if self.accept is None or self.accept(secret):
                        found.add((match.start(group), match.end(group), secret))
                # Past the match: keywords repeated inside one long run must not rescan it (quadratic time).
                position = folded.find(needle, max(position + 1, match.end() if match else 0))
        return found


def fold(text: str) -> bytes:
    """``text`` lower-cased, one byte per character (non-ASCII ones become ``?``): positions stay the same."""
    return text.encode("ascii", "replace").lower()


def _random_looking(token: str) -> bool:
    # Real tokens are random; documentation placeholders repeat characters or say so.
    lowered = token.lower()
    return len(set(token)) >= 10 and "example" not in lowered and "xxxx" not in lowered and "..." not in token


def _long_random(minimum: int) -> Callable[[str], bool]:
    def check(token: str) -> bool:
        has_digit, has_letter = any(c.isdigit() for c in token), any(c.isalpha() for c in token)
        return len(token) >= minimum and has_digit and has_letter and _random_looking(token)

    return check


def _has_key_body(block: str) -> bool:
    return re.search(r"[A-Za-z0-9+/=]{40,}", block) is not None and _random_looking(block)


def looks_like_token(text: str) -> bool:
    """Whether a bare word (e.g. the user part of ``https://WORD@host``) is probably a token, not a name."""
    return len(text) >= 16 or any(shape.pattern.fullmatch(text) for shape in TOKEN_SHAPES)


def _url_userinfo_is_secret(userinfo: str) -> bool:
    return ":" in userinfo or looks_like_token(userinfo)


def _basic_credentials(encoded: str) -> bool:
    try:
        decoded = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return False
    return ":" in decoded and decoded.isprintable()


def _not_a_word(value: str) -> bool:
    # "password: required" is prose; "password: hunter2x" is not.
    return len(value) >= 20 or not (value.isalpha() and value.islower())


def _starts_word(word_chars: str) -> str:
    """A lookbehind: not right after one of ``word_chars``, unless that ends an escape (``\\n``, ``\\u00e9``): a
    token printed by ``json.dumps`` right after a newline reads ``\\nghp_…``, and must still be found."""
    return rf"(?:(?<![{word_chars}])|(?<=\\[abfnrtv0])|(?<=\\u[0-9a-fA-F]{{4}})|(?<=\\x[0-9a-fA-F]{{2}}))"


_BOUNDARY = _starts_word(r"\w-")
_WORD_START = _starts_word(r"\w")
_KEY_VALUE_SEPARATOR = r"""(?:\\*["'])?\s*[:=]\s*(?:\\*["'])?"""
# For assignments, a colon counts only before a space or a quote: "user:token@host" is URL user info, not one.
_ASSIGNMENT = r"""(?:\\*["'])?(?:\s*=\s*|\s*:(?=[\s"'\\]))\s*(?:\\*["'])?"""
_VALUE = r"""(?P<secret>[^\s"'\\,;&$<{(\[%*][^\s"'\\,;&]{7,})"""

#: Token formats of well-known services; most of them are certain enough to stop a commit.
TOKEN_SHAPES: tuple[Shape, ...] = (
    Shape("an Anthropic API key", ("sk-ant-",), re.compile(_BOUNDARY + r"sk-ant-[\w-]{8,}"), None, _long_random(30)),
    Shape("an API secret key (sk-…)", ("sk-",), re.compile(_BOUNDARY + r"sk-(?!ant-)[A-Za-z0-9_-]{20,}"), None,
          _long_random(32)),
    Shape("a GitHub token", ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
          re.compile(_BOUNDARY + r"(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_\w{20,})"), None, _long_random(24)),
    Shape("a GitLab token", ("glpat-",), re.compile(_BOUNDARY + r"glpat-[\w-]{20,}"), None, _long_random(26)),
    Shape("a Slack token", ("xox",), re.compile(_BOUNDARY + r"xox[abprs]-[\w-]{10,}"), None, _long_random(20)),
    Shape("an AWS access key id", ("akia", "asia"),
          re.compile(_starts_word("A-Za-z0-9") + r"(?:AKIA|ASIA)[0-9A-Z]{16}(?![A-Za-z0-9])"), None, _long_random(20)),
    Shape("a Google API key", ("aiza",), re.compile(_BOUNDARY + r"AIza[0-9A-Za-z_-]{35}"), None, _long_random(39)),
    Shape("an npm token", ("npm_",), re.compile(_BOUNDARY + r"npm_[A-Za-z0-9]{36}"), None, _long_random(40)),
    Shape("a PyPI token", ("pypi-age",), re.compile(_BOUNDARY + r"pypi-AgE[\w-]{40,}"), None, _long_random(48)),
    Shape("a Stripe key", ("sk_live_", "rk_live_"), re.compile(_BOUNDARY + r"[sr]k_live_[A-Za-z0-9]{20,}"), None,
          _long_random(28)),
)  # fmt: skip

_ASSIGNED_NAMES = ("password", "passwd", "secret", "token", "apikey", "api_key", "api-key", "accesskey",
                   "access_key", "access-key", "privatekey", "private_key", "private-key")  # fmt: skip

#: Every shape, token formats first.
SHAPES: tuple[Shape, ...] = (
    *TOKEN_SHAPES,
    Shape(
        "a private key",
        ("-----begin",),
        re.compile(
            r"-----BEGIN[A-Z0-9 ]{0,30} PRIVATE KEY(?: BLOCK)?-----"
            r"(?:[\s\S]{0,8000}?-----END[A-Z0-9 ]{0,30} PRIVATE KEY(?: BLOCK)?-----|[A-Za-z0-9+/=\s\\:,-]*)"
        ),
        confident=_has_key_body,
    ),
    Shape("a JSON web token", ("eyj",), re.compile(_BOUNDARY + r"eyJ[\w-]{8,}\.eyJ[\w-]{8,}\.[\w-]{8,}")),
    Shape("URL credentials", (":/", ":\\"), re.compile(r":(?:\\*/){2}(?P<secret>[^\s/?#\"'<>\\`]{1,512})@"),
          _url_userinfo_is_secret),
    Shape("an Authorization header", ("authorization",),
          re.compile(_WORD_START + r"(?i:authorization)" + _KEY_VALUE_SEPARATOR
                     + r"(?:(?i:basic|bearer|token|digest|negotiate|ntlm)\s+)?(?P<secret>[^\s\"'\\,;]{6,})")),
    Shape("an API key header", ("api-key", "auth-token", "private-token"),
          re.compile(r"(?i:api-key|auth-token|private-token)" + _KEY_VALUE_SEPARATOR
                     + r"(?P<secret>[^\s\"'\\,;]{8,})")),
    Shape("a bearer token", ("bearer",), re.compile(_WORD_START + r"[Bb]earer\s+(?P<secret>[\w.~+/=-]{12,})")),
    Shape("Basic credentials", ("basic",), re.compile(_WORD_START + r"Basic\s+(?P<secret>[A-Za-z0-9+/]{8,}={0,2})"),
          _basic_credentials),
    Shape("a secret assignment", _ASSIGNED_NAMES,
          re.compile(r"(?i:password|passwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key)"
                     + _ASSIGNMENT + _VALUE), _not_a_word),
)  # fmt: skip

#: Finds URL user info in a value (``postgres://u:PASS@h/db``); the host follows the last ``@`` of the authority.
URL_USERINFO = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://(?P<userinfo>[^\s/?#\"'<>\\`]{1,512})@")
