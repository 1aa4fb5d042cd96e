"""pytest plugin: each notebook under nbval must finish within its time budget.

Load with ``-p llmnotes.notebook_budget``. The time of a notebook is the sum of the setup,
call and teardown durations of all its cells (kernel start included). A notebook over
budget fails the run and is named in the summary. DESIGN.md: 90 s on 2 CPU cores.
"""
from __future__ import annotations

from collections import defaultdict

import pytest

BUDGET_SECONDS = 90.0
_times: dict[str, float] = defaultdict(float)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    path = report.nodeid.split("::")[0]
    if path.endswith(".ipynb"):
        _times[path] += report.duration


def over_budget() -> dict[str, float]:
    return {path: t for path, t in _times.items() if t > BUDGET_SECONDS}


def pytest_terminal_summary(terminalreporter) -> None:
    if not _times:
        return
    terminalreporter.section("notebook time budget")
    for path, seconds in sorted(_times.items()):
        flag = "OVER BUDGET" if seconds > BUDGET_SECONDS else "ok"
        terminalreporter.write_line(f"{seconds:6.1f} s / {BUDGET_SECONDS:.0f} s  {flag:<11}  {path}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if over_budget() and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
