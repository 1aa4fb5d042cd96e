"""The robustness record: in how many seeded runs each claim of each chapter held.

A claim that rests on training or sampling must hold with margin, not by the luck of one seed
or one rounding. :func:`run` re-executes a notebook several times, with ``LLMNOTES_SEED`` set
to each seed (every experiment's generator derives from it, :func:`llmnotes.runtime.experiment`)
under the pinned CPU numerics, and once more with the numerics unpinned
(``LLMNOTES_NUMERICS=native``: each library picks its kernels for this CPU). Claims are
collected with ``LLMNOTES_CLAIMS=record``, so a failing claim is recorded instead of stopping
the notebook.

The record, ``book/robustness.json``, keeps for every notebook the hash of its code cells, the
runs, and per claim how many runs it held in and the values measured. It is stale when a
notebook's code changed after it was recorded; the integrity tests and ``--check`` fail then.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from llmnotes.book.notebooks import read, stored_claim_lines
from llmnotes.claims import parse_lines
from llmnotes.numerics import PINS, SWITCH

RECORD = Path("book") / "robustness.json"
SEEDS = (0, 1, 2)
MIN_SEEDS = 3


def source_hash(path: Path | str) -> str:
    """sha256 of a notebook's code cells (outputs and prose do not change what a run computes)."""
    code = [cell.source for cell in read(path).cells if cell.cell_type == "code"]
    return hashlib.sha256("\n\x00\n".join(code).encode()).hexdigest()


@dataclass(frozen=True)
class Run:
    seed: int
    numerics: str                     # "pinned" or "native"

    @property
    def label(self) -> str:
        return f"seed {self.seed}" + (" (native numerics)" if self.numerics == "native" else "")


def plan(seeds: tuple[int, ...] = SEEDS) -> list[Run]:
    """Every seed with pinned numerics, then the first seed again with native numerics."""
    return [Run(s, "pinned") for s in seeds] + [Run(seeds[0], "native")]


def _environment(run: Run) -> dict[str, str]:
    env = {**os.environ, "LLMNOTES_SEED": str(run.seed), "LLMNOTES_CLAIMS": "record", SWITCH: run.numerics}
    if run.numerics == "native":
        for name in PINS:
            env.pop(name, None)
    return env


def execute_once(path: str, run: Run, timeout: int = 900) -> dict:
    """Execute a copy of the notebook under ``run``; return its claim lines and any error."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(Path(path).parent)}})
    start, error = time.perf_counter(), None
    try:
        client.execute(env=_environment(run))
    except CellExecutionError as failure:
        error = str(failure).strip().splitlines()[-1][:300]
    text = "\n".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code"
                     for o in c.get("outputs", []) if o.get("output_type") == "stream")
    claims = {r.id: {"status": r.status, "measured": r.measured} for r in parse_lines(text)}
    return {"seed": run.seed, "numerics": run.numerics, "seconds": round(time.perf_counter() - start, 1),
            "error": error, "claims": claims}


def record_notebook(statuses: dict[str, str], runs: list[dict], digest: str) -> dict:
    """The record of one notebook from its runs: per claim (id -> stored status), runs held and values.

    A run holds a claim when it prints the claim's stored status: ``REPRODUCED`` where the paper's
    result was reproduced, ``NOT REPRODUCED`` where the chapter records that it was not.
    """
    claims = {}
    for claim, status in statuses.items():
        outcomes = [r["claims"].get(claim) for r in runs]
        claims[claim] = {
            "status": status,
            "held": sum(o is not None and o["status"] == status for o in outcomes),
            "runs": len(runs),
            "measured": [None if o is None else o["measured"] for o in outcomes],
        }
    return {"source_hash": digest, "runs": [{k: r[k] for k in ("seed", "numerics", "seconds", "error")} for r in runs],
            "claims": claims}


def load(root: Path) -> dict:
    path = root / RECORD
    return json.loads(path.read_text()) if path.is_file() else {}


def save(root: Path, record: dict) -> None:
    (root / RECORD).write_text(json.dumps(dict(sorted(record.items())), indent=1, ensure_ascii=False) + "\n")


def run(root: Path, notebooks: list[Path], seeds: tuple[int, ...] = SEEDS, jobs: int = 1) -> dict:
    """Execute every notebook under every run of :func:`plan`, update the record, return it."""
    from llmnotes.book.cards import load_cards

    if len(seeds) < MIN_SEEDS:
        raise ValueError(f"the record needs at least {MIN_SEEDS} seeds, got {list(seeds)}")
    declared = {card.chapter: [c.id for c in card.claims] for card in load_cards(root / "papers")}
    statuses = {}
    for path in notebooks:
        key = str(Path(path).resolve().relative_to(root.resolve()))
        if key not in declared:
            raise ValueError(f"no study card lists {key} as its chapter")
        stored = {r.id: r.status for r in stored_claim_lines(read(root / key))}
        missing = [c for c in declared[key] if c not in stored]
        if missing:
            raise ValueError(f"{key} has no stored output for {missing}: execute it first")
        statuses[key] = {c: stored[c] for c in declared[key]}
    runs = plan(seeds)
    work = [(key, r) for key in statuses for r in runs]
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        results = list(pool.map(execute_once, [str(root / key) for key, _ in work], [r for _, r in work]))
    record = load(root)
    for key in statuses:
        mine = [result for (k, _), result in zip(work, results) if k == key]
        record[key] = record_notebook(statuses[key], mine, source_hash(root / key))
        held = sum(c["held"] == c["runs"] for c in record[key]["claims"].values())
        print(f"{key}: {held} of {len(statuses[key])} claims held in all {len(runs)} runs"
              + "".join(f"\n  {r['numerics']} seed {r['seed']}: error {r['error']}" for r in mine if r["error"]))
    save(root, record)
    return record


def problems(root: Path) -> list[str]:
    """Why the record does not support the book: stale or missing notebooks, claims that failed."""
    from llmnotes.book.cards import load_cards

    record, found = load(root), []
    for card in load_cards(root / "papers"):
        entry = record.get(card.chapter)
        if entry is None:
            found.append(f"{card.chapter}: no robustness record")
            continue
        if entry["source_hash"] != source_hash(root / card.chapter):
            found.append(f"{card.chapter}: the record is stale (the notebook's code changed); re-run "
                         f"python -m llmnotes robustness {card.chapter}")
        seeds = {r["seed"] for r in entry["runs"] if r["numerics"] == "pinned"}
        if len(seeds) < MIN_SEEDS:
            found.append(f"{card.chapter}: recorded with {len(seeds)} seeds, need {MIN_SEEDS}")
        for claim in card.claims:
            result = entry["claims"].get(claim.id)
            if result is None:
                found.append(f"{card.chapter}: claim {claim.id} is not in the record")
            elif result["status"] == "REPRODUCED" and result["held"] < result["runs"]:
                found.append(f"{claim.id}: held in {result['held']} of {result['runs']} runs "
                             f"(measured {result['measured']})")
    return found


def summary(root: Path) -> tuple[bool, str]:
    """One line for ``--check``: whether the record is fresh and every REPRODUCED claim held everywhere."""
    found = problems(root)
    record = load(root)
    n_claims = sum(len(e["claims"]) for e in record.values())
    n_runs = sum(len(e["runs"]) for e in record.values())
    if found:
        return False, f"robustness: {len(found)} problem(s): " + "; ".join(found)
    return True, (f"robustness: {len(record)} notebooks, {n_claims} claims, {n_runs} runs; every REPRODUCED "
                  "claim held in every run (seeds and native numerics)")
