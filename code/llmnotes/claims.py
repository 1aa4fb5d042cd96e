"""Claims: a paper's result, re-measured by code and checked on every test run.

``check`` prints one stable line that nbval compares and the claims ledger reads back::

    CLAIM transformer/mha-params: REPRODUCED measured=1050624 expect=1050624 (==, rel_tol=0) | d=512, h=8

and raises :class:`ClaimFailed` when the measurement does not meet the expectation, so a
notebook whose result stops reproducing fails its test.

With ``LLMNOTES_CLAIMS=record`` in the environment a failed claim prints ``FAILED`` instead of
raising, so that one run of a notebook reports every claim: the robustness record
(:mod:`llmnotes.book.robustness`) runs notebooks that way under other seeds.
"""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass

COMPARISONS = ("close", "at_least", "at_most")
MODE_VARIABLE = "LLMNOTES_CLAIMS"
_ID = re.compile(r"^[a-z0-9][a-z0-9-]*/[a-z0-9][a-z0-9-]*$")
_LINE = re.compile(
    r"^CLAIM (?P<id>\S+): (?P<status>REPRODUCED|NOT REPRODUCED|FAILED) measured=(?P<measured>\S+) "
    r"expect=(?P<expect>\S+) \((?P<criterion>[^)]*)\)(?: \| (?P<note>.*))?$"
)


class ClaimFailed(AssertionError):
    """A measured value that does not support the claim it was meant to reproduce."""


@dataclass(frozen=True)
class ClaimResult:
    id: str
    status: str
    measured: str
    expect: str
    criterion: str
    note: str


def fmt(value: float, digits: int = 3) -> str:
    """Round to ``digits`` significant figures, printed without noise (1e+03 -> 1e3)."""
    if isinstance(value, bool):
        raise ValueError("a claim's value must be a number, not a bool")
    if isinstance(value, int) or (float(value).is_integer() and abs(value) < 1e15):
        return str(int(value))
    text = f"{value:.{digits}g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        text = f"{mantissa}e{int(exponent)}"
    return text


def check(
    claim_id: str,
    measured: float,
    expect: float,
    compare: str = "close",
    rel_tol: float = 0.0,
    abs_tol: float = 0.0,
    note: str = "",
    digits: int = 3,
    reproduces: bool = True,
) -> None:
    """Check one claim and print its ledger line.

    ``compare`` is ``close`` (|measured - expect| within ``rel_tol``·|expect| + ``abs_tol``),
    ``at_least`` or ``at_most``. The printed measurement is rounded to ``digits``
    significant figures so that the stored output is stable across CPUs.

    ``reproduces=False`` records a result the paper reports but we cannot match at our
    scale: the check then asserts that the criterion *fails* (so the chapter's honest
    "not reproduced" stays true) and prints ``NOT REPRODUCED``.
    """
    if not isinstance(claim_id, str) or not _ID.match(claim_id):
        raise ValueError(f"claim id must look like 'chapter/short-name' (lowercase, digits, '-'), got {claim_id!r}")
    if compare not in COMPARISONS:
        raise ValueError(f"compare must be one of {COMPARISONS}, got {compare!r}")
    if "|" in note or "\n" in note:
        raise ValueError("a claim note may not contain '|' or a newline (it is one ledger cell)")
    for name, value in (("measured", measured), ("expect", expect)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
            raise ValueError(f"{name} must be a real number, got {value!r}")
    if rel_tol < 0 or abs_tol < 0:
        raise ValueError("rel_tol and abs_tol must be >= 0")
    measured, expect = float(measured), float(expect)
    if compare == "close":
        holds = abs(measured - expect) <= rel_tol * abs(expect) + abs_tol
        criterion = f"==, rel_tol={fmt(rel_tol)}" + (f", abs_tol={fmt(abs_tol)}" if abs_tol else "")
    elif compare == "at_least":
        holds = measured >= expect
        criterion = ">="
    else:
        holds = measured <= expect
        criterion = "<="
    status = ("REPRODUCED" if reproduces else "NOT REPRODUCED") if holds == reproduces else "FAILED"
    result = ClaimResult(claim_id, status, fmt(measured, digits), fmt(expect, digits), criterion, note)
    print(format_line(result))
    if holds != reproduces and os.environ.get(MODE_VARIABLE) != "record":
        what = "does not hold" if reproduces else "now holds; mark it reproduced"
        raise ClaimFailed(
            f"claim {claim_id} {what}: measured {measured!r}, expected {criterion} {expect!r}"
        )


def format_line(result: ClaimResult) -> str:
    line = (
        f"CLAIM {result.id}: {result.status} measured={result.measured} "
        f"expect={result.expect} ({result.criterion})"
    )
    return line + (f" | {result.note}" if result.note else "")


def parse_lines(text: str) -> list[ClaimResult]:
    """Every claim line in a block of output text, in order."""
    results = []
    for line in text.splitlines():
        match = _LINE.match(line.strip())
        if match:
            results.append(ClaimResult(
                match["id"], match["status"], match["measured"], match["expect"],
                match["criterion"], match["note"] or "",
            ))
    return results
