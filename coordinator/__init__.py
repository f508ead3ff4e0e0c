"""coordinator: a GitHub-driven task queue for Claude Code whose state lives on a git branch."""

__version__ = "0.1.0"
