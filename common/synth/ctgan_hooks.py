"""How this project configures ctgan's own column encoding, which SDV does not expose.

ctgan's DataTransformer gives every continuous column a Bayesian GMM of up to 10 modes (its
mode-specific normalisation): a one-hot of the mode plus a scalar, about 11 network inputs per
column. The domain layer already hands over most continuous columns as standard normal scores
within their class (common.domain, `gaussian_columns()`): a single Gaussian, which the GMM
nevertheless splits into 7 to 10 modes. For those columns one mode is exact and keeps the
networks narrow (on the real cPacket table CTGAN's encoded width fell from 302 to ~100, below
plain SDV's 182, and epochs got faster by as much).

`single_mode_columns(names)` is active while SDV fits: ctgan's CTGAN and TVAE then build a
`ColumnwiseDataTransformer`, which is ctgan's DataTransformer except for those columns. The
fitted transformer keeps its column list, so a saved model samples the same way.
"""
from __future__ import annotations

import importlib
from contextlib import contextmanager
from typing import Iterable, Iterator

from ctgan.data_transformer import ColumnTransformInfo, DataTransformer, SpanInfo
from rdt.transformers import ClusterBasedNormalizer

MODULES = ("ctgan.synthesizers.ctgan", "ctgan.synthesizers.tvae")


class ColumnwiseDataTransformer(DataTransformer):
    """ctgan's DataTransformer with one Gaussian mode for the columns in `single_mode`."""

    pending: frozenset[str] = frozenset()     # set by single_mode_columns while SDV fits
    pending_modes: int = 1

    def __init__(self, max_clusters: int = 10, weight_threshold: float = 0.005) -> None:
        super().__init__(max_clusters=max_clusters, weight_threshold=weight_threshold)
        self.single_mode = ColumnwiseDataTransformer.pending
        self.modes = ColumnwiseDataTransformer.pending_modes

    def _fit_continuous(self, data):
        column_name = data.columns[0]
        if column_name not in self.single_mode:
            return super()._fit_continuous(data)
        normaliser = ClusterBasedNormalizer(missing_value_generation="from_column",
                                            max_clusters=min(len(data), self.modes),
                                            weight_threshold=self._weight_threshold if self.modes > 1 else 0.0)
        normaliser.fit(data, column_name)
        components = int(sum(normaliser.valid_component_indicator))
        return ColumnTransformInfo(column_name=column_name, column_type="continuous", transform=normaliser,
                                   output_info=[SpanInfo(1, "tanh"), SpanInfo(components, "softmax")],
                                   output_dimensions=1 + components)


@contextmanager
def single_mode_columns(columns: Iterable[str], modes: int = 1) -> Iterator[None]:
    """While active, ctgan's CTGAN and TVAE encode `columns` with at most `modes` Gaussian modes."""
    modules = [importlib.import_module(name) for name in MODULES]
    saved = [module.DataTransformer for module in modules]
    ColumnwiseDataTransformer.pending = frozenset(str(c) for c in columns)
    ColumnwiseDataTransformer.pending_modes = int(modes)
    for module in modules:
        module.DataTransformer = ColumnwiseDataTransformer
    try:
        yield
    finally:
        for module, original in zip(modules, saved):
            module.DataTransformer = original
        ColumnwiseDataTransformer.pending = frozenset()


# Rows the networks generate per forward pass while sampling. ctgan samples in batches of the
# *training* batch size (20 to 250 rows on the tables here), so a small table sampled at a few
# hundred rows/s, most of it per-batch overhead; a wider pass is 10-100x faster. TVAE's decoder
# samples in eval mode, so only the random stream changes; CTGAN's generator keeps its
# batch-norm layers in training mode, where a wider batch gives steadier batch statistics
# (measured on the real tables, benchmarks/real_data_results.md).
SAMPLING_BATCH_ROWS = 4096


@contextmanager
def wide_sampling_batches(model: object, rows: int = SAMPLING_BATCH_ROWS) -> Iterator[None]:
    """While active, the ctgan model inside an SDV synthesizer (`model`: ctgan's CTGAN or TVAE)
    samples up to `rows` rows per forward pass (never fewer than it was trained with)."""
    attribute = "_batch_size" if hasattr(model, "_batch_size") else "batch_size"
    trained_with = getattr(model, attribute, None)
    if not isinstance(trained_with, int):
        yield
        return
    # ctgan rounds every request up to whole passes: no wider than the request itself
    setattr(model, attribute, max(trained_with, int(rows)))
    try:
        yield
    finally:
        setattr(model, attribute, trained_with)


# Every row keeps the category it was generated under (ctgan's conditional vector), instead of
# SDV's rejection loop dropping rows whose generated category came out different. On the real
# cPacket table (1 seed, 2 cores shared with other jobs; benchmarks/README.md) rejection
# generated 1,553 rows/s, keeping them 8,129 rows/s, for SDV-detected quality 0.884 vs 0.887
# and TSTR/TRTR 0.972 vs 0.979. Class counts stay exact: a row's class is its condition.
FORCE_CONDITION = True


def _make_conditional_class():
    from sdv.single_table import CTGANSynthesizer

    class ConditionalCTGANSynthesizer(CTGANSynthesizer):
        """SDV's CTGANSynthesizer whose conditional sampling uses ctgan's conditional generator.

        SDV 2.0's CTGANSynthesizer answers `sample_from_conditions` by rejection: it samples
        rows unconditionally and keeps those matching the condition. CTGAN was trained to
        generate a row *given* a category of a discrete column (its conditional vector); for a
        condition on one discrete column this subclass asks the generator for exactly that
        (SDV still checks every sampled row against the condition). Other conditions behave as
        in SDV.
        """

        def _sample(self, num_rows, conditions=None):
            if conditions and len(conditions) == 1:
                ((column, value),) = conditions.items()
                transformer = getattr(self._model, "_transformer", None)
                discrete = {info.column_name for info in getattr(transformer, "_column_transform_info_list", [])
                            if info.column_type == "discrete"}
                if column in discrete:
                    with wide_sampling_batches(self._model, min(int(num_rows), SAMPLING_BATCH_ROWS)):
                        rows = self._model.sample(num_rows, condition_column=column, condition_value=value)
                    if FORCE_CONDITION and hasattr(rows, "columns") and column in rows.columns:
                        rows[column] = value
                    return rows
            with wide_sampling_batches(self._model, min(int(num_rows), SAMPLING_BATCH_ROWS)):
                return super()._sample(num_rows, conditions)

    ConditionalCTGANSynthesizer.__module__ = __name__
    ConditionalCTGANSynthesizer.__qualname__ = "ConditionalCTGANSynthesizer"
    return ConditionalCTGANSynthesizer


ConditionalCTGANSynthesizer = _make_conditional_class()
__all__ = ["ColumnwiseDataTransformer", "ConditionalCTGANSynthesizer", "SAMPLING_BATCH_ROWS", "single_mode_columns",
           "wide_sampling_batches"]
