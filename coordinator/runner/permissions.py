"""The machine owner's ceiling on what agents may do, from the runner's own config (never from the branch).

Modes come from the state branch, which anyone with write access to the repository can change (and, before the
work clone existed, an agent could push). So a mode is only a request: this runner never runs an agent with a
more permissive ``permission_mode`` than ``max_permission_mode``, always forbids ``denied_tools``, and ignores
the branch's ``append_system_prompt`` unless its owner says otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

from coordinator.modes import PERMISSION_RANK, Mode, permission_rank


@dataclass(frozen=True)
class Ceiling:
    """What this runner's owner allows."""

    max_permission_mode: str = "acceptEdits"
    denied_tools: tuple[str, ...] = ()
    honour_system_prompt: bool = True

    def refusal(self, mode: Mode) -> str | None:
        """Why this runner will not run ``mode``, or None when it will."""
        wanted = permission_rank(mode.permission_mode)
        if wanted is None:
            known = ", ".join(PERMISSION_RANK)
            return f"permission_mode {mode.permission_mode!r} is unknown to this runner (known: {known})"
        ceiling = PERMISSION_RANK[self.max_permission_mode]
        if wanted > ceiling:
            return (
                f"permission_mode {mode.permission_mode} is beyond this runner's max_permission_mode "
                f"{self.max_permission_mode} (set in the runner's config by its owner)"
            )
        return None

    def apply(self, mode: Mode) -> Mode:
        """``mode`` as this runner runs it: denied tools forbidden (and not allowed), the branch's system prompt
        dropped unless honoured. Call only for a mode :meth:`refusal` accepts."""
        denied = list(self.denied_tools)
        allowed = [tool for tool in mode.allowed_tools if tool not in denied]
        disallowed = list(dict.fromkeys([*mode.disallowed_tools, *denied]))
        prompt = mode.append_system_prompt if self.honour_system_prompt else None
        return mode.model_copy(
            update={"allowed_tools": allowed, "disallowed_tools": disallowed, "append_system_prompt": prompt}
        )

    def describe(self) -> str:
        """One line for the runner's start and ``--dry-run``."""
        tools = ", ".join(self.denied_tools) or "none"
        prompt = "honoured" if self.honour_system_prompt else "ignored"
        return f"max_permission_mode {self.max_permission_mode}; denied tools: {tools}; branch system prompts {prompt}"
