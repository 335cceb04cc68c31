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

REPO_ROOT = Path(__file__).resolve().parents[2]   # common/core/cli.py -> the repository
DEFAULT_DATA = REPO_ROOT / "data" / "tcp_flag_sample.csv"
DEFAULT_OUTPUT_DIR = Path("synthetic_datasets")
DEFAULT_SEED = 42

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130

log = logging.getLogger("tcpsynth")


def build_parser(description: str) -> argparse.ArgumentParser:
    """Return a parser that already holds the options common to all three scripts."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument(
        "--data", type=Path, default=DEFAULT_DATA,
        help="flow table to learn from: CSV, CSV.gz or Parquet (NTLFlowLyzer, CICFlowMeter, KDD-style)",
    )
    parser.add_argument(
        "--output-dir", type=Path, default=DEFAULT_OUTPUT_DIR,
        help="folder for every artifact (metadata/, patterns/, models/, visualizations/, reports)",
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


def configure_logging() -> None:
    """Plain console messages: the scripts talk to people, not to log collectors."""
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout, force=True)


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
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted: finished artifacts were kept, unfinished ones removed", file=sys.stderr)
        return EXIT_INTERRUPTED
    return int(status or 0)


