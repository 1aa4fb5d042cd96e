"""Turn chosen code cells of a notebook into a plain script, to run it under CPU emulation.

A Jupyter kernel is a child process, so ``qemu-x86_64 -cpu Haswell python -m llmnotes execute``
would emulate only the parent. This writes the cells as one script (``glue`` becomes a no-op)
that prints each cell's output and a SHA-256 of the weights of the models it names, so the
same script can be compared byte for byte natively and emulated::

    python code/benchmarks/notebook_as_script.py book/classics/instructgpt.ipynb 2,7,9,10 \\
        /tmp/sft.py pre_small sft_small pre_large sft_large
    source code/bin/_env.sh; cd book/classics
    python /tmp/sft.py > native.txt; qemu-x86_64 -cpu Haswell "$(which python)" /tmp/sft.py > haswell.txt
    diff native.txt haswell.txt     # identical with the pins; not without them
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

DIGEST = '''
import hashlib


def _digest(model):
    h = hashlib.sha256()
    for _, p in sorted(model.state_dict().items()):
        h.update(p.detach().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


print("=== weights", {name: _digest(globals()[name]) for name in MODELS})
'''


def main(notebook: str, cells: str, script: str, *models: str) -> None:
    nb = json.loads(Path(notebook).read_text())
    indices = [int(c) for c in cells.split(",")]
    for i in indices:
        if not 0 <= i < len(nb["cells"]) or nb["cells"][i]["cell_type"] != "code":
            raise SystemExit(f"cell {i} of {notebook} is not a code cell")
    parts = []
    for i in indices:
        source = "".join(nb["cells"][i]["source"]).replace("from myst_nb import glue", "glue = lambda *a, **k: None")
        parts.append(f"print('=== cell {i}')\n{source}")
    parts.append(f"MODELS = {list(models)!r}\n{DIGEST}")
    Path(script).write_text("\n".join(parts))


if __name__ == "__main__":
    if len(sys.argv) < 4:
        raise SystemExit(__doc__)
    main(*sys.argv[1:])
