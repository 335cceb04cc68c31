"""A conditional TVAE (a CVAE): TVAE that learns a row *given* the value of one discrete column
(the class), so any class is generated on request at the cost of ordinary sampling.

ctgan's TVAE has no input but noise: a class it makes once in 500 rows costs 500 rows per row
asked for, and a class it never makes (a 16% class after 5 epochs on the bundled sample, the
rare classes of a 38-class table) cannot be had at all. Here the decoder's latent input is
the noise *and* the one-hot of the condition column's value; the encoder sees it too (it is one
of the columns of the row it encodes). Sampling a value puts that one-hot in front of the
decoder, and every generated row carries it.

What is ctgan's and what is added
---------------------------------
`ConditionalTVAE.fit` is ctgan's `TVAE.fit`: its DataTransformer (so
`ctgan_hooks.single_mode_columns` still applies), its loss, optimiser, epoch loop, `tqdm` (so
`environment.EpochClock` still times the epochs) and `loss_values` (so SDV's
`get_loss_values` is unchanged). While it runs, the `Encoder` and `Decoder` that ctgan's tvae
module builds are the two subclasses below, which share a `ConditionSpan`:

* `ConditionalEncoder` is ctgan's Encoder; each forward pass also hands the condition columns
  of the rows it encodes (their one-hot span in ctgan's encoding) to the span;
* `ConditionalDecoder` is ctgan's Decoder with `embedding_dim + condition width` inputs; it
  concatenates the condition to its latent input (the encoder's rows while training; while
  sampling a fixed value, or values drawn in their training shares) and writes the condition
  into its output span, so the decoded row holds exactly the value it was generated under.

`ConditionalTVAE.sample` is ctgan's `TVAE.sample` (with `condition_value` set, the decoder is
held on that value). `ConditionalTVAESynthesizer` is SDV's TVAESynthesizer with this model:
a condition on the condition column is generated (every row of that value), any other
condition falls back to SDV's rejection sampling, and unconditional sampling draws the
condition in its training shares. Save/load is SDV's (cloudpickle): the span travels with the
decoder. Without a condition column (None, or not a discrete column) it is plain TVAE.
"""
from __future__ import annotations

import importlib
from contextlib import contextmanager
from typing import Any, Iterator

import numpy as np
import pandas as pd
import torch
from ctgan.synthesizers.tvae import TVAE, Decoder, Encoder

from common.synth import ctgan_hooks

TVAE_MODULE = "ctgan.synthesizers.tvae"

# The decoder writes its condition into its output span as logits of +/- this size: after
# ctgan's tanh and argmax the value is exact, and the span's cross-entropy term is ~0.
ECHO_LOGIT = 20.0


class ConditionSpan:
    """The condition column inside ctgan's encoded rows and the state the networks share.

    `start`, `width`: its one-hot span; `values`: the column's values in one-hot order;
    `shares`: their training shares (unconditional sampling draws from them).
    """

    def __init__(self, column: str | None, start: int, values: list[Any], shares: np.ndarray) -> None:
        self.column = column
        self.start = int(start)
        self.values = list(values)
        self.width = len(self.values)
        self.shares = torch.as_tensor(np.asarray(shares, dtype="float64"), dtype=torch.float32)
        self.planned: torch.Tensor | None = None    # while sampling given values: their indices, in row order
        self._pending: torch.Tensor | None = None   # while training: the encoded rows' condition

    @classmethod
    def empty(cls) -> "ConditionSpan":
        return cls(None, 0, [], np.zeros(0))

    @classmethod
    def from_transformer(cls, transformer: Any, column: str | None, counts: dict[Any, int]) -> "ConditionSpan":
        """The span of discrete `column` in a fitted ctgan DataTransformer (empty when it is not
        one of its discrete columns); `counts`: training rows per value."""
        start = 0
        for info in getattr(transformer, "_column_transform_info_list", []):
            if info.column_name == column and info.column_type == "discrete":
                values = list(info.transform.dummies)
                weights = np.array([_count_of(counts, value) for value in values], dtype="float64")
                if weights.sum() <= 0:
                    weights = np.ones(len(values))
                return cls(column, start, values, weights / weights.sum())
            start += info.output_dimensions
        return cls.empty()

    def __bool__(self) -> bool:
        return self.width > 0

    def index_of(self, value: Any) -> int:
        for index, known in enumerate(self.values):
            if known == value or (_missing(known) and _missing(value)) or str(known) == str(value):
                return index
        raise ValueError(f"'{self.column}' held no value {value!r} in the training rows")

    # ---------------------------------------------------------------- network side
    def hand_over(self, encoded_rows: torch.Tensor) -> None:
        self._pending = encoded_rows[:, self.start:self.start + self.width]

    def take(self, rows: int, device: torch.device) -> torch.Tensor:
        """The condition one-hots for the decoder's next `rows` latent inputs."""
        pending, self._pending = self._pending, None
        if pending is not None and len(pending) == rows:
            return pending.to(device)
        if self.planned is not None:   # the next rows of the plan (ctgan rounds up to whole batches: pad)
            index, self.planned = self.planned[:rows], self.planned[rows:]
            if len(index) < rows:
                index = torch.cat([index, torch.zeros(rows - len(index), dtype=torch.long)])
        else:
            index = torch.multinomial(self.shares, rows, replacement=True)
        return torch.nn.functional.one_hot(index, self.width).to(device=device, dtype=torch.float32)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "planned": None, "_pending": None}


class ConditionalEncoder(Encoder):
    """ctgan's TVAE Encoder that hands the condition of the rows it encodes to the decoder."""

    def __init__(self, data_dim: int, compress_dims: Any, embedding_dim: int, condition: ConditionSpan) -> None:
        super().__init__(data_dim, compress_dims, embedding_dim)
        self.condition = condition

    def forward(self, input_):
        if self.condition:
            self.condition.hand_over(input_)
        return super().forward(input_)


class ConditionalDecoder(Decoder):
    """ctgan's TVAE Decoder whose latent input is [noise, condition one-hot]; its output holds
    the condition it was given."""

    def __init__(self, embedding_dim: int, decompress_dims: Any, data_dim: int, condition: ConditionSpan) -> None:
        super().__init__(embedding_dim + condition.width, decompress_dims, data_dim)
        self.condition = condition

    def forward(self, input_):
        if not self.condition:
            return super().forward(input_)
        given = self.condition.take(len(input_), input_.device)
        output, sigma = super().forward(torch.cat([input_, given], dim=1))
        return self.echo(output, given), sigma

    def echo(self, output: torch.Tensor, given: torch.Tensor) -> torch.Tensor:
        """`output` with the condition span holding `given` (as logits of +/- ECHO_LOGIT)."""
        span = slice(self.condition.start, self.condition.start + self.condition.width)
        return torch.cat([output[:, :span.start], (2 * given - 1) * ECHO_LOGIT, output[:, span.stop:]], dim=1)


class ConditionalTVAE(TVAE):
    """ctgan's TVAE conditioned on the discrete column `condition_column` (see the module)."""

    def __init__(self, *args: Any, condition_column: str | None = None, privacy: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.condition_column = condition_column
        self.privacy = privacy              # a private_tvae.DifferentialPrivacy: train with DP-SGD
        self.privacy_spent: dict[str, Any] | None = None
        self._counts: dict[Any, int] = {}

    @property
    def condition(self) -> ConditionSpan:
        decoder = getattr(self, "decoder", None)
        return getattr(decoder, "condition", None) or ConditionSpan.empty()

    def fit(self, train_data, discrete_columns=()):
        column = self.condition_column
        usable = (isinstance(train_data, pd.DataFrame) and column in train_data.columns
                  and column in set(discrete_columns))
        self._counts = train_data[column].value_counts(dropna=False).to_dict() if usable else {}
        if self.privacy is not None:
            self._fit_privately(train_data, discrete_columns, column if usable else None)
            return
        with _conditional_networks(self, column if usable else None):
            super().fit(train_data, discrete_columns)
        if usable and not isinstance(self.decoder, ConditionalDecoder):
            raise RuntimeError("this ctgan version does not build its TVAE networks through "
                               f"{TVAE_MODULE}.Encoder/Decoder: the conditional TVAE cannot hook it")

    def _fit_privately(self, train_data, discrete_columns, column: str | None) -> None:
        """ctgan's TVAE.fit up to its networks (the tvae module's DataTransformer, so the project's
        hooks apply), then DP-SGD training (common.synth.private_tvae)."""
        from common.synth.private_tvae import fit_privately

        module = importlib.import_module(TVAE_MODULE)
        self.transformer = module.DataTransformer()
        self.transformer.fit(train_data, discrete_columns)
        encoded = self.transformer.transform(train_data)
        width = self.transformer.output_dimensions
        span = ConditionSpan.from_transformer(self.transformer, column, self._counts) if column else ConditionSpan.empty()
        encoder = ConditionalEncoder(width, self.compress_dims, self.embedding_dim, span).to(self._device)
        self.decoder = ConditionalDecoder(self.embedding_dim, self.decompress_dims, width, span).to(self._device)
        self.privacy_spent = fit_privately(self, encoded, encoder, self.privacy)

    def sample(self, samples, condition_column=None, condition_value=None):
        """`samples` rows; with `condition_value` (of the condition column) every row holds it,
        without it the condition is drawn in its training shares."""
        if condition_column is None and condition_value is None:
            return super().sample(samples)
        if condition_column not in (None, self.condition.column):
            raise ValueError(f"this TVAE is conditioned on {self.condition.column!r}, not {condition_column!r}")
        return self.sample_given([condition_value] * int(samples))

    def sample_given(self, values: list[Any]):
        """One row per item of `values` (of the condition column), in that order, each holding
        its value: many values in one pass of ctgan's sampling."""
        condition = self.condition
        if not condition:
            raise ValueError("this TVAE was fitted without a condition column")
        known: dict[Any, int] = {}
        plan = []
        for value in values:
            key = _MISSING if _missing(value) else value
            if key not in known:
                known[key] = condition.index_of(value)
            plan.append(known[key])
        condition.planned = torch.as_tensor(plan, dtype=torch.long)
        try:
            return super().sample(len(plan))
        finally:
            condition.planned = None


@contextmanager
def _conditional_networks(model: ConditionalTVAE, column: str | None) -> Iterator[None]:
    """While active, ctgan's TVAE.fit builds a ConditionalEncoder/Decoder pair sharing one span
    (read off the model's DataTransformer, which TVAE.fit has fitted by then)."""
    module = importlib.import_module(TVAE_MODULE)
    saved = module.Encoder, module.Decoder
    shared: dict[str, ConditionSpan] = {}

    def span() -> ConditionSpan:
        if "span" not in shared:
            shared["span"] = ConditionSpan.from_transformer(model.transformer, column, model._counts)
        return shared["span"]

    # ctgan's Encoder/Decoder call super(Encoder, self) by the module's name: each network is
    # built while the module holds the original classes again
    def building(name, original, network):
        def build(*args):
            setattr(module, name, original)
            try:
                return network(*args, span())
            finally:
                setattr(module, name, build)
        return build

    module.Encoder = building("Encoder", saved[0], ConditionalEncoder)
    module.Decoder = building("Decoder", saved[1], ConditionalDecoder)
    try:
        yield
    finally:
        module.Encoder, module.Decoder = saved


_MISSING = object()


def _missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _count_of(counts: dict[Any, int], value: Any) -> int:
    if value in counts:
        return int(counts[value])
    return int(sum(n for key, n in counts.items() if (_missing(key) and _missing(value)) or str(key) == str(value)))


def _make_synthesizer_class():
    from sdv.single_table import TVAESynthesizer
    from sdv.single_table.ctgan import _validate_no_category_dtype, detect_discrete_columns

    class ConditionalTVAESynthesizer(TVAESynthesizer):
        """SDV's TVAESynthesizer with a conditional TVAE (common.synth.conditional_tvae).

        `condition_column`: the discrete column of the table SDV fits (after its preprocessing;
        categorical columns keep their names and values) that the model is conditioned on; set
        it before `fit`. A condition on that column alone is generated, every row of the value;
        other conditions are SDV's rejection sampling; None gives plain TVAE. `privacy`: a
        `private_tvae.DifferentialPrivacy` budget trains the networks with DP-SGD.
        """

        def __init__(self, metadata, enforce_min_max_values=True, enforce_rounding=True, embedding_dim=128,
                     compress_dims=(128, 128), decompress_dims=(128, 128), l2scale=1e-5, batch_size=500,
                     verbose=False, epochs=300, loss_factor=2, enable_gpu=True, condition_column=None,
                     privacy=None):
            super().__init__(metadata, enforce_min_max_values=enforce_min_max_values,
                             enforce_rounding=enforce_rounding, embedding_dim=embedding_dim,
                             compress_dims=compress_dims, decompress_dims=decompress_dims, l2scale=l2scale,
                             batch_size=batch_size, verbose=verbose, epochs=epochs, loss_factor=loss_factor,
                             enable_gpu=enable_gpu)
            self.condition_column = condition_column
            self.privacy = privacy   # common.synth.private_tvae.DifferentialPrivacy: DP-SGD training
            self._given: list[Any] | None = None

        @property
        def conditioned_on(self) -> str | None:
            """The column the fitted model generates rows given (None: plain TVAE)."""
            model = getattr(self, "_model", None)
            return model.condition.column if isinstance(model, ConditionalTVAE) and model.condition else None

        def sample_values(self, counts: dict[Any, int]) -> pd.DataFrame:
            """counts[value] rows holding each value of the condition column, in one pass
            through SDV's sampling (its reverse transforms, rounding and clipping included).
            SDV's `sample_from_conditions` gets the same rows one value at a time, a pass each."""
            column = self.conditioned_on
            if column is None:
                raise ValueError("this TVAE was fitted without a condition column")
            given = [value for value, count in counts.items() for _ in range(int(count))]
            if not given:
                return pd.DataFrame()
            self._given = given
            try:
                sampled = self.sample(num_rows=len(given))
            finally:
                self._given = None
            if isinstance(sampled, dict):   # SDV 2.x returns {table name: frame}
                sampled = next(iter(sampled.values()))
            return sampled

        def _fit(self, processed_data):
            _validate_no_category_dtype(processed_data)
            transformers = self._data_processor._hyper_transformer.field_transformers
            discrete_columns = detect_discrete_columns(self.metadata, processed_data, transformers)
            self._model = ConditionalTVAE(**self._model_kwargs, condition_column=self.condition_column,
                                          privacy=self.privacy)
            self._model.fit(processed_data, discrete_columns=discrete_columns)

        def _sample(self, num_rows, conditions=None):
            model = self._model
            with ctgan_hooks.wide_sampling_batches(model, min(int(num_rows), ctgan_hooks.SAMPLING_BATCH_ROWS)):
                if conditions is None and self._given is not None:   # sample_values: the rows' values
                    given, self._given = self._given[:num_rows], self._given[num_rows:]
                    if given:
                        return model.sample_given(given + given[-1:] * (int(num_rows) - len(given)))
                if conditions is None:
                    return model.sample(num_rows)
                if len(conditions) == 1 and isinstance(model, ConditionalTVAE):
                    ((column, value),) = conditions.items()
                    if model.condition and column == model.condition.column:
                        rows = model.sample(num_rows, condition_column=column, condition_value=value)
                        rows[column] = value
                        return rows
            raise NotImplementedError("conditions other than one value of the condition column")  # SDV rejects

    ConditionalTVAESynthesizer.__module__ = __name__
    ConditionalTVAESynthesizer.__qualname__ = "ConditionalTVAESynthesizer"
    return ConditionalTVAESynthesizer


ConditionalTVAESynthesizer = _make_synthesizer_class()

__all__ = ["ConditionalDecoder", "ConditionalEncoder", "ConditionalTVAE", "ConditionalTVAESynthesizer",
           "ConditionSpan"]
