"""Evaluation of synthetic flow tables: faithful, valid, useful and private, with figures.

`evaluate_models(context, split, models, seed, timings=None) -> dict` is the entry point
(called by train_synthetic_models_improved.py, also with --evaluate-only). Modules:

- tables.py            the real train/holdout frames, dtype normalisation, seeded samples
- sections.py          the sections of <model>_evaluation.json as dataclasses (to_json() at the edge)
- fidelity.py          per-column statistics, KS / Wasserstein / TVD, sdmetrics reports, correlations
- validity.py          detected rules, placeholders and stranded values, flag co-occurrence
- signatures_check.py  attack signatures (analyzer) kept per class
- utility.py           TSTR vs TRTR with a seeded random forest
- privacy.py           distance to closest record, DCROverfittingProtection, copies, NewRowSynthesis
- comparison.py        headline figures, holdout ceiling, recommendation rule, console table
- evaluation_plots.py  the PNG figures
- report.py            report.html (one page per run, both metadata figures)
- runner.py            evaluate_models: ties the above together and writes the artifacts
"""
from common.evaluation.runner import evaluate_models, summary_text

__all__ = ["evaluate_models", "summary_text"]
