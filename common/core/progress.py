"""Progress of long loops: a bar on a terminal, a few log lines when output is redirected.

A tqdm bar redraws itself many times a second; written into a log file (`make run > log`)
that is tens of thousands of carriage-return updates. Off a terminal, `Progress` logs one line
when a tenth of the work more is done instead.
"""
from __future__ import annotations

import logging
import sys
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Iterator

if TYPE_CHECKING:
    from tqdm import tqdm

log = logging.getLogger("tcpsynth")

LOG_STEPS = 10     # lines per loop when not on a terminal


def on_terminal() -> bool:
    """True when stderr is an interactive terminal (where a progress bar belongs)."""
    stream = sys.stderr
    return bool(getattr(stream, "isatty", lambda: False)())


class Progress:
    """`with Progress(total, "tvae sampling", unit="rows") as bar: bar.update(n)`.

    `enabled`: None = a bar on a terminal and log lines otherwise; False = silent; True = a bar.
    """

    def __init__(self, total: int, description: str, unit: str = "it", enabled: bool | None = None) -> None:
        self.total = max(int(total), 0)
        self.description = description
        self.unit = unit
        self.done = 0
        self.silent = enabled is False
        self.use_bar = enabled is True or (enabled is None and on_terminal())
        self._bar: tqdm | None = None     # on a terminal only
        self._next_log = 1
        self._started = time.perf_counter()

    def __enter__(self) -> "Progress":
        if self.use_bar and not self.silent:
            from tqdm import tqdm

            self._bar = tqdm(total=self.total, unit=self.unit, desc=self.description, mininterval=1.0)
        return self

    def update(self, amount: int) -> None:
        self.done += int(amount)
        if self._bar is not None:
            self._bar.update(amount)
            return
        if self.silent or self.total <= 0:
            return
        reached = min(LOG_STEPS, int(self.done * LOG_STEPS // self.total))
        if reached >= self._next_log:   # one line however many tenths this update crossed
            seconds = time.perf_counter() - self._started
            log.info("   %s: %s of %s %s (%d%%, %.0f s)", self.description, f"{self.done:,}", f"{self.total:,}",
                     self.unit, 100 * reached // LOG_STEPS, seconds)
            self._next_log = reached + 1

    def __exit__(self, *exc_info: Any) -> None:
        if self._bar is not None:
            self._bar.close()


@contextmanager
def stage(name: str, timings: dict[str, float] | None = None) -> Iterator[None]:
    """Log a pipeline stage and how long it took; record the seconds in `timings` if given."""
    log.info("-> %s ...", name)
    start = time.perf_counter()
    yield
    seconds = time.perf_counter() - start
    if timings is not None:
        timings[name] = round(seconds, 3)
    log.info("   %s done in %.1f s", name, seconds)


__all__ = ["Progress", "on_terminal", "stage"]
