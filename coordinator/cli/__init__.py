"""Command-line entry point. Kept tiny: the click app and everything heavy load only when a command runs."""

from __future__ import annotations

import sys


def main() -> None:
    """Run the ``coordinator`` command."""
    if sys.argv[1:] == ["--version"]:
        # The most frequent probe of an installed tool answers without importing click, pydantic or git.
        from coordinator import __version__

        print(f"coordinator {__version__}")
        return
    from coordinator.cli.app import cli

    cli()
