"""Named locks: one holder at a time across machines, with an expiry (``locks/<name>.json``)."""

from __future__ import annotations

from pydantic import Field

from coordinator.models.base import LockName, StateModel, UtcDateTime


class NamedLock(StateModel):
    """A lock someone holds (``coordinator lock acquire``): free again when released, or once it expires."""

    name: LockName
    owner: str = Field(min_length=1, max_length=100, description="Who holds it (a free-form name).")
    acquired_at: UtcDateTime
    expires_at: UtcDateTime = Field(description="Free for others from then on, unless renewed.")
    renewed_at: UtcDateTime | None = None
    ttl_seconds: int = Field(ge=1, le=7 * 24 * 3600, description="How long each acquire or renewal holds it.")
