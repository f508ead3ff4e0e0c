"""GitHub's webhook signature: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`` keyed with the
webhook's secret (pure: no I/O)."""

from __future__ import annotations

import hashlib
import hmac

from coordinator.errors import ConfigError

#: Where the secret comes from (the same value as the webhook's "Secret" on GitHub).
SECRET_VARIABLE = "COORDINATOR_WEBHOOK_SECRET"  # noqa: S105 (a variable's name)

#: A shorter secret can be guessed offline from one captured delivery (the HMAC is over a known body).
MIN_SECRET_CHARS = 16

_PREFIX = "sha256="
_MAKE_ONE = "python3 -c 'import secrets; print(secrets.token_hex(32))'"


def signature_of(secret: bytes, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value GitHub sends for ``body`` signed with ``secret``."""
    return _PREFIX + hmac.new(secret, body, hashlib.sha256).hexdigest()


def signature_matches(secret: bytes, body: bytes, header: str | None) -> bool:
    """Whether ``header`` is the signature of ``body`` under ``secret``, compared in constant time. A missing or
    empty header never matches: a configured secret with an unsigned delivery is an error, not a pass."""
    if not header:
        return False
    expected = signature_of(secret, body).encode("ascii")
    # WSGI hands header values over as latin-1 text; bytes compare in constant time whatever they hold.
    given = header.strip().encode("latin-1", "replace")
    return hmac.compare_digest(expected, given)


def checked_secret(value: str | None) -> bytes:
    """The webhook secret as HMAC key bytes, or a :class:`ConfigError` saying how to set a good one (never
    showing the value)."""
    if not value:
        raise ConfigError(
            f"no webhook secret: set {SECRET_VARIABLE} to the secret you give GitHub for this webhook "
            f"(make one with: export {SECRET_VARIABLE}=$({_MAKE_ONE}))"
        )
    if any(c.isspace() or not c.isprintable() for c in value):
        # Typically a trailing newline from a file: GitHub signs with the secret as typed in its form, so every
        # delivery would be refused.
        raise ConfigError(
            f"{SECRET_VARIABLE} holds whitespace or control characters (a trailing newline?): set it to the secret "
            "alone, exactly as typed into GitHub's webhook form"
        )
    if len(value) < MIN_SECRET_CHARS:
        raise ConfigError(
            f"{SECRET_VARIABLE} is {len(value)} characters long: use a random secret of at least "
            f"{MIN_SECRET_CHARS}, e.g. export {SECRET_VARIABLE}=$({_MAKE_ONE}), and give GitHub the same"
        )
    return value.encode("utf-8")
