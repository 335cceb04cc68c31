"""Options shared by the three scripts, and the wrapper that turns user errors into exit codes.

Every script accepts the same --data, --output-dir, --label-column and --seed options with
the same meaning; they are defined here once.
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Callable

from common.core.errors import UserError
from common.core.io import LoadReport
from common.core.layout import OutputLayout
from common.core.source import read_source, record_source, resolve_data

REPO_ROOT = Path(__file__).resolve().parents[2]   # common/core/cli.py -> the repository
DEFAULT_DATA = REPO_ROOT / "data" / "tcp_flag_sample.csv"
# Both defaults are anchored at the repository, so a script started from another folder reads
# and writes the same places as one started from the repository.
DEFAULT_OUTPUT_DIR = REPO_ROOT / "synthetic_datasets"
DEFAULT_SEED = 42

EXIT_USER_ERROR = 2
EXIT_SHORTFALL = 3       # --generate-only made fewer rows than asked (what it made is written, unless --strict)
EXIT_INTERRUPTED = 130

log = logging.getLogger("tcpsynth")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """argparse's defaults formatter, except where the help text already says its default (or
    there is no default worth saying): one default per option."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or action.default in (None, False, argparse.SUPPRESS):
            return text
        return super()._get_help_string(action)


def build_parser(description: str) -> argparse.ArgumentParser:
    """Return a parser that already holds the options common to all three scripts."""
    parser = argparse.ArgumentParser(description=description, formatter_class=HelpFormatter)
    parser.add_argument(
        "--data", type=Path, nargs="+", default=None, metavar="PATH",
        help="flow table to learn from: CSV, CSV.gz or Parquet (NTLFlowLyzer, CICFlowMeter, KDD-style); a folder, "
             "a glob or several paths are read as one table (their headers must agree); default: the table the "
             f"output folder was set up with, else the bundled sample ({DEFAULT_DATA.relative_to(REPO_ROOT)})",
    )
    parser.add_argument(
        "--output-dir", type=Path, default=DEFAULT_OUTPUT_DIR,
        help="folder for every artifact (metadata/, patterns/, models/, visualizations/, reports); "
             f"default: {DEFAULT_OUTPUT_DIR.relative_to(REPO_ROOT)}/ in the repository",
    )
    parser.add_argument(
        "--label-column", default=None,
        help="class column; by default found by name (label, activity, attack, attack_cat, class)",
    )
    parser.add_argument(
        "--seed", type=int, default=None,
        help=f"random seed for sampling, clustering and training (default: the config's, else {DEFAULT_SEED})",
    )
    return parser


def data_for_stage(given: list[Path] | None, layout: OutputLayout, force: bool = False) -> list[Path]:
    """The table a stage reads (its files, folders or globs): --data, else the table the output
    folder was set up with, else the bundled sample. Another table than the folder's is a
    UserError (common.core.source), unless `force` (the setup's --force: set the folder up
    again for the new table)."""
    if force:
        return list(given) if given else [DEFAULT_DATA]
    shown = " ".join(map(str, given or []))
    hint = (f"run synthetic_data_setup.py --data {shown} --output-dir {layout.root} --force to set the folder "
            f"up again for it")
    return resolve_data(given, layout, DEFAULT_DATA, hint)


def remember_table(layout: OutputLayout, report: LoadReport, script: str, replace: bool = False) -> None:
    """Record the table in the output folder (always when `replace`, else only when none is recorded)."""
    if replace or read_source(layout) is None:
        record_source(layout, report.path, report.paths, report.sha256, report.rows, script)


def configure_logging() -> None:
    """Plain console messages: the scripts talk to people, not to log collectors.

    The project's own logger ("tcpsynth") says what it does; the libraries say only warnings
    (SDV logs its whole detected metadata and RDT a line per column at INFO)."""
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stdout, force=True)
    logging.getLogger("tcpsynth").setLevel(logging.INFO)


def run_cli(main: Callable[[list[str] | None], int | None], argv: list[str] | None = None) -> int:
    """Run a script's main and map outcomes to exit codes.

    A UserError becomes one line on stderr and exit status 2; Ctrl-C becomes exit status 130
    (callers remove their own partial artifacts before the interrupt reaches here).
    """
    configure_logging()
    try:
        status = main(argv)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return int(getattr(error, "exit_status", EXIT_USER_ERROR))
    except KeyboardInterrupt:
        print("interrupted: finished artifacts were kept, unfinished ones removed", file=sys.stderr)
        return EXIT_INTERRUPTED
    return int(status or 0)


