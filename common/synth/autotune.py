"""The "auto" choice of batch_size and epochs for every model trained in epochs (CTGAN, TVAE).

Why: with the seed's batch_size of 500 a table of a few hundred rows makes each epoch a single
optimiser step (CTGAN draws rows // batch_size batches, at least one), so 300 epochs are only 300
generator updates and CTGAN stays undertrained. "auto" picks

* batch_size: about TARGET_STEPS_PER_EPOCH batches per epoch (rows / 10), between MIN_BATCH and
  MAX_BATCH (the seed's 500), a multiple of the params' batch_multiple (CTGAN: `pac`);
* epochs: enough epochs for TARGET_STEPS optimiser steps in all, never fewer than MIN_EPOCHS and
  never more than the time budget allows under a simple cost model (seconds per step, measured
  on CPU with ctgan 0.12.1 at ~40 encoded columns and scaled by the column count; a GPU step is
  taken as the spec's gpu_step_seconds), after the fixed cost of ctgan's per-column normalisation fit.

A number in the config is kept as it is ("seed values stay available"): only "auto" is resolved.
"""
from __future__ import annotations

import math

from common.synth.params import AUTO, IterativeParams
from common.synth.registry import model_spec

TARGET_STEPS_PER_EPOCH = 10
MIN_BATCH = 50
MAX_BATCH = 500
TARGET_STEPS = 3000
MIN_EPOCHS = 20
MAX_EPOCHS = 2000
REFERENCE_COLUMNS = 42
# CPU and GPU seconds per optimiser step at REFERENCE_COLUMNS columns (fixed part + part per row
# of the batch) are each model's (common.synth.registry: cpu_step_seconds, gpu_step_seconds).
# Step cost grows less than linearly with the columns: CIC-IDS2017's 78 columns cost 1.0x (CTGAN)
# and 1.2x (TVAE) of (78/42)**0.7 times the 42-column step at the same batch.
COLUMN_EXPONENT = 0.7
# Fit time before the first epoch (the layer, SDV's and ctgan's column encodings): per cell.
NORMALISER_SECONDS_PER_CELL = 1.6e-5
NORMALISER_MAX_ROWS = 100_000


def steps_per_epoch(model: str, rows: int, batch_size: int) -> int:
    """Optimiser steps in one epoch as the model's library loops (ctgan 0.12.1: CTGAN rows // batch,
    TVAE ceil); 0 for a model without epochs."""
    spec = model_spec(model)
    return spec.steps_per_epoch(rows, batch_size) if spec.steps_per_epoch is not None else 0


def auto_batch_size(params: IterativeParams, rows: int) -> int:
    """About TARGET_STEPS_PER_EPOCH batches per epoch, within [MIN_BATCH, MAX_BATCH]; a multiple
    of the model's `batch_multiple` (CTGAN: pac, it packs pac rows per discriminator input)."""
    batch = int(min(MAX_BATCH, max(MIN_BATCH, rows // TARGET_STEPS_PER_EPOCH)))
    multiple = params.batch_multiple
    return max(multiple, (batch // multiple) * multiple)


def estimated_fit_seconds(model: str, rows: int, batch_size: int, epochs: int, device: str,
                          columns: int = REFERENCE_COLUMNS) -> float:
    """The cost model: normaliser fit + epochs x steps x seconds per step."""
    spec = model_spec(model)
    fixed, per_row = spec.gpu_step_seconds if device == "cuda" else spec.cpu_step_seconds
    scale = (max(columns, 1) / REFERENCE_COLUMNS) ** COLUMN_EXPONENT
    step = (fixed + per_row * batch_size) * scale
    normaliser = NORMALISER_SECONDS_PER_CELL * min(rows, NORMALISER_MAX_ROWS) * columns
    return normaliser + epochs * steps_per_epoch(model, rows, batch_size) * step


def auto_epochs(model: str, rows: int, batch_size: int, budget_seconds: float, device: str,
                columns: int = REFERENCE_COLUMNS) -> tuple[int, bool]:
    """(epochs, limited_by_budget): TARGET_STEPS steps in all, at least MIN_EPOCHS, at most what
    `budget_seconds` allows under the cost model."""
    steps = steps_per_epoch(model, rows, batch_size)
    wanted = min(MAX_EPOCHS, max(MIN_EPOCHS, math.ceil(TARGET_STEPS / steps)))
    one_epoch = estimated_fit_seconds(model, rows, batch_size, 1, device, columns) - \
        estimated_fit_seconds(model, rows, batch_size, 0, device, columns)
    spare = budget_seconds - estimated_fit_seconds(model, rows, batch_size, 0, device, columns)
    affordable = int(spare // one_epoch) if one_epoch > 0 else wanted
    if affordable < wanted:
        return max(MIN_EPOCHS, affordable), True
    return wanted, False


def resolve_hyperparameters(
    params: IterativeParams,
    training_rows: int,
    budget_seconds: float,
    device: str,
    columns: int = REFERENCE_COLUMNS,
) -> tuple[IterativeParams, str]:
    """Replace "auto" epochs / batch_size of one model's params by numbers.

    In:  `params` the model's validated params (trained in epochs); `training_rows`;
         `budget_seconds` (config auto_budget_seconds); `device` "cpu" or "cuda"; `columns` the
         number of columns the synthesizer learns (scales the cost model).
    Out: (a new params object with numbers, a sentence saying what was chosen and why).
    """
    model = params.model
    if training_rows < 1:
        raise ValueError(f"training_rows must be positive, got {training_rows}")
    if budget_seconds <= 0:
        raise ValueError(f"budget_seconds must be positive, got {budget_seconds}")
    notes = []
    batch_size = params.batch_size
    if batch_size == AUTO:
        batch_size = auto_batch_size(params, training_rows)
        notes.append(f"batch_size auto = {batch_size} "
                     f"({steps_per_epoch(model, training_rows, batch_size)} steps per epoch on {training_rows} rows)")
    epochs = params.epochs
    if epochs == AUTO:
        epochs, limited = auto_epochs(model, training_rows, int(batch_size), budget_seconds, device, columns)
        reason = (f"limited by the {budget_seconds:g} s budget" if limited
                  else f"{TARGET_STEPS} optimiser steps in all")
        notes.append(f"epochs auto = {epochs} ({reason}; estimated fit "
                     f"{estimated_fit_seconds(model, training_rows, int(batch_size), epochs, device, columns):.0f} s "
                     f"on {device})")
    resolved = params.resolved(int(epochs), int(batch_size))
    if not notes:
        return resolved, f"{model}: epochs and batch_size as configured"
    return resolved, f"{model}: " + "; ".join(notes)


__all__ = ["auto_batch_size", "auto_epochs", "estimated_fit_seconds", "resolve_hyperparameters", "steps_per_epoch"]
