"""The Jupyter kernel of ``.venv``: IPython with the CPU numerics of :mod:`llmnotes.numerics` pinned.

The pins are environment variables that torch, MKL, oneDNN and NumPy read when they load, so
they must be in the environment before the kernel imports anything. This launcher sets them
and then replaces itself with the standard IPython kernel; ``code/bin/_env.sh`` installs it as
the ``python3`` kernel of ``.venv``, so a reader who opens a chapter in JupyterLab gets the
numbers the tests compare. Run as ``python -m llmnotes.kernel -f CONNECTION_FILE``.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from llmnotes import numerics


def spec(python: str) -> dict:
    """The ``kernel.json`` that starts this launcher with ``python``."""
    return {"argv": [python, "-m", "llmnotes.kernel", "-f", "{connection_file}"],
            "display_name": "Python 3 (llmnotes, pinned numerics)", "language": "python",
            "metadata": {"debugger": True}}


def install(prefix: Path) -> Path:
    """Write the ``python3`` kernel spec under ``prefix/share/jupyter/kernels``; return its folder."""
    folder = Path(prefix) / "share" / "jupyter" / "kernels" / "python3"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "kernel.json").write_text(json.dumps(spec(sys.executable), indent=1) + "\n")
    return folder


def main(argv: list[str]) -> None:
    numerics.pin()
    os.execv(sys.executable, [sys.executable, "-m", "ipykernel_launcher", *argv])


if __name__ == "__main__":
    main(sys.argv[1:])
