"""pytest plugin: every notebook under nbval within its time budget, and the median within half of it.

Load with ``-p llmnotes.book.budget``. The time of a notebook is the sum of the setup, call and
teardown durations of all its cells (kernel start included); under pytest-xdist the reports of
every worker reach the controller, which keeps the sums. A notebook over budget, or a median
over :data:`MEDIAN_SECONDS`, fails the run; the summary lists the notebooks slowest first.
DESIGN.md: 60 s per notebook on 2 CPU cores, median 30 s.
"""
from __future__ import annotations

import statistics
from collections import defaultdict

import pytest

BUDGET_SECONDS = 60.0
MEDIAN_SECONDS = 30.0
_times: dict[str, float] = defaultdict(float)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    path = report.nodeid.split("::")[0]
    if path.endswith(".ipynb"):
        _times[path] += report.duration


def over_budget() -> list[str]:
    """What exceeds the budget: each slow notebook, and the median if it is too high."""
    problems = [f"{path} took {t:.0f} s" for path, t in _times.items() if t > BUDGET_SECONDS]
    if _times and statistics.median(_times.values()) > MEDIAN_SECONDS:
        problems.append(f"the median notebook took {statistics.median(_times.values()):.0f} s")
    return problems


def pytest_terminal_summary(terminalreporter) -> None:
    if not _times:
        return
    terminalreporter.section("notebook time budget")
    for path, seconds in sorted(_times.items(), key=lambda item: -item[1]):
        flag = "OVER BUDGET" if seconds > BUDGET_SECONDS else "ok"
        terminalreporter.write_line(f"{seconds:6.1f} s / {BUDGET_SECONDS:.0f} s  {flag:<11}  {path}")
    median = statistics.median(_times.values())
    terminalreporter.write_line(f"{len(_times)} notebooks, {sum(_times.values()):.0f} s in all, median "
                                f"{median:.1f} s (budget {MEDIAN_SECONDS:.0f} s)")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    on_worker = hasattr(session.config, "workerinput")          # pytest-xdist: the controller decides
    if not on_worker and over_budget() and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
