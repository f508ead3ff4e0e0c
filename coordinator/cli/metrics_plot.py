"""``coordinator metrics --plot FILE.png``: daily cost (bars) and the share of tasks that succeeded (line).

matplotlib is an optional extra (``pip install 'coordinator-queue[plot]'``): a runner never needs it, and it is
a large install. It is imported only here, and checked before anything else is done.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from coordinator.core.metrics import MetricsReport
from coordinator.errors import ConfigError, UsageError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

INSTALL_HINT = "pip install 'coordinator-queue[plot]'"


def check_plot_target(path: Path) -> None:
    """Before any work: a one-line error when matplotlib is missing (naming the install command), or when
    ``path`` cannot be the PNG file to write."""
    try:
        import matplotlib  # noqa: F401 (only checked for)
    except ImportError:
        raise ConfigError(
            f"--plot needs matplotlib, which is not installed: run {INSTALL_HINT} (or pip install matplotlib), "
            "then run the command again"
        ) from None
    if path.suffix.lower() != ".png":
        raise UsageError(f"--plot {path}: the file must end in .png, e.g. --plot cost.png")
    if not _folder(path).is_dir():
        raise UsageError(f"--plot {path}: no folder {_folder(path)}: create it, or name a file in an existing folder")


def draw(report: MetricsReport, path: Path, title: str) -> None:
    """Draw the daily cost and success rate of the report into ``path`` (PNG), all or nothing: a file that
    exists is replaced only by a complete new one."""
    from matplotlib.figure import Figure  # no pyplot: no global figure state, no GUI backend needed

    days = _every_day(list(report.days))
    costs = [report.days[d].cost_usd if d in report.days else 0.0 for d in days]
    rates = [_percent(report.days[d].task_success_rate) if d in report.days else float("nan") for d in days]
    figure = Figure(figsize=(9, 4.5), layout="constrained")
    cost_axis = figure.add_subplot()
    cost_axis.bar(days, costs, color="#4c72b0", label="cost (USD)")
    cost_axis.set_ylabel("cost (USD)")
    cost_axis.tick_params(axis="x", labelrotation=45)
    rate_axis = cost_axis.twinx()
    rate_axis.plot(days, rates, color="#dd8452", marker="o", label="tasks succeeded (%)")
    rate_axis.set_ylim(0, 105)
    rate_axis.set_ylabel("tasks succeeded (% of succeeded + failed)")
    cost_axis.set_title(title if days else f"{title}: no task ended in the window")
    _save(figure, path)


def _every_day(days: list[str]) -> list[str]:
    """Every day from the first to the last (ISO dates), so that a quiet day shows as a gap, not as nothing."""
    if not days:
        return []
    first, last = date.fromisoformat(days[0]), date.fromisoformat(days[-1])
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


def _percent(value: float | None) -> float:
    return float("nan") if value is None else value * 100  # nan: no point that day (nothing was decided)


def _folder(path: Path) -> Path:
    return path.parent if str(path.parent) else Path()


def _save(figure: Figure, path: Path) -> None:
    check_plot_target(path)
    # Written beside the target and renamed over it: a reader never sees half a PNG, a failure leaves no litter.
    # (opened like any new file, so it gets the user's usual permissions, unlike a mkstemp file's 0600)
    temporary = _folder(path) / f".{path.name}.{secrets.token_hex(6)}.tmp"
    try:
        with open(temporary, "xb") as stream:
            figure.savefig(stream, format="png", dpi=100)
        os.replace(temporary, path)
    except OSError as exc:
        raise UsageError(f"--plot {path}: cannot write it ({exc.strerror or exc}): choose another file") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)
