"""What every benchmark's markdown report shares: its opening lines and how it is written."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from common.core.io import write_json, write_text  # noqa: E402


def report_head(title: str, script: str, when: str, machine: str, method: str) -> list[str]:
    """The title, which script wrote the report on which machine and when, and how it measured."""
    return [f"# {title}", "", f"Written by `benchmarks/{script}` ({when}; {machine}). {method}", ""]


def write_report_files(target: Path, lines: list[str], results: dict[str, Any]) -> None:
    """The markdown report at `target` and the raw results beside it as JSON (same name, .json),
    each written to a temporary file and renamed."""
    target.parent.mkdir(parents=True, exist_ok=True)
    write_text(target, "\n".join(lines) + "\n")
    write_json(target.with_suffix(".json"), results)
