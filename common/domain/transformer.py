"""DomainTransformer: the reversible domain layer (what it does: common.domain).
"""
from __future__ import annotations

from typing import Any, Iterable

import pandas as pd

from common.domain.codec import _Codec
from common.domain.counts import CountPlan
from common.domain.fitting import _Fitting
from common.domain.parts import DISCRETE_MAX_VALUES, GROUP_SEPARATOR, PATTERN_COLUMN, REST_OF_CLASS, _ClassQuantiles
from common.data.schema import Schema
from common.rules import RuleSet
from common.rules.counts import term_name


class DomainTransformer(_Fitting, _Codec):
    """Encode a modelled flow frame so that the detected rules hold by construction.

    Parameters
    ----------
    rules : common.rules.RuleSet found on the table (the setup's detected_rules.json).
    schema : common.data.schema.Schema (numeric / categorical columns); None = judge by dtype.
    heavy_tailed : columns to model on a log1p scale (the setup's detected_patterns.json
        "heavy_tailed" list, as names or as its dicts); None = detect on the training frame
        with the setup's criterion; an empty list = never.
    seed : seeds the filler values of placeholder cells and the donor rows.
    categorical_max_values : encoded columns with at most max(20, min(this, rows / 10)) distinct
        values are learned as categories.
    join_class : learn the class column (schema.target) and the state pattern as one categorical
        column (only real class x pattern combinations are generated).
    class_conditional : learn each continuous encoded column as the position of its value within
        the distribution of the row's class (schema.target), decoded through that class's
        quantile function, so every class keeps its own marginals.
    (each synthesizer's are in its spec, common.synth.registry: `with_settings`.)

    Public methods: fit(frame), transform(frame) -> encoded, inverse_transform(encoded) ->
    frame, sdv_metadata_dict(), repair(frame), describe().
    """

    @classmethod
    def with_settings(cls, settings: dict[str, Any], rules: RuleSet | None, schema: Schema | None = None,
                      heavy_tailed: Iterable[str | dict[str, Any]] | None = None, seed: int = 0) -> "DomainTransformer":
        """The layer with a synthesizer's settings (its spec's `domain_settings`: e.g.
        categorical_max_values, join_class); keys left out take the constructor's defaults."""
        return cls(rules, schema, heavy_tailed=heavy_tailed, seed=seed, **settings)

    def __init__(self, rules: RuleSet | None, schema: Schema | None = None,
                 heavy_tailed: Iterable[str | dict[str, Any]] | None = None,
                 seed: int = 0, categorical_max_values: int = DISCRETE_MAX_VALUES,
                 join_class: bool = True,
                 class_conditional: bool = True) -> None:
        self.rules = rules if rules is not None else RuleSet()
        self.schema = schema
        self.heavy_tailed = None if heavy_tailed is None else {
            (item["column"] if isinstance(item, dict) else str(item)) for item in heavy_tailed}
        self.seed = int(seed)
        self.categorical_max_values = int(categorical_max_values)
        self.join_class = bool(join_class)
        self.class_conditional = bool(class_conditional)
        self.class_positions: dict[str, _ClassQuantiles] = {}
        self.count_plan = CountPlan()
        self.fitted = False

    def sdv_metadata_dict(self, table_name: str = "flows") -> dict[str, Any]:
        """SDV metadata of the encoded frame: encoded numbers numerical, the pattern categorical,
        pass-through columns as the schema types them."""
        self._require_fitted()
        base: dict[str, Any] = {}
        if self.schema is not None:
            from common.data.schema import sdv_metadata_dict

            base = sdv_metadata_dict(self.schema, table_name)["tables"][table_name]["columns"]
        encoded_numeric = {n.column for n in self.nodes} | {s.parts[0] for s in self.sums if s.mode == "share"}
        columns: dict[str, dict[str, str]] = {}
        if self.groups:
            columns[PATTERN_COLUMN] = {"sdtype": "categorical"}
        for vclass in self.value_classes:
            columns[vclass.name] = {"sdtype": "categorical" if vclass.name in self.discrete else "numerical"}
        dropped = self._not_learned()
        for column in self.columns + list(self.count_plan.virtual):
            if column in dropped or column == self.joint_class:
                continue
            if column in self.discrete:
                columns[column] = {"sdtype": "categorical"}
            elif column in encoded_numeric or column in self.numeric:
                columns[column] = {"sdtype": "numerical"}
            elif column in base:
                columns[column] = dict(base[column])
            elif pd.api.types.is_bool_dtype(self.dtypes[column]):
                columns[column] = {"sdtype": "boolean"}
            else:
                columns[column] = {"sdtype": "categorical"}
        return {"METADATA_SPEC_VERSION": "V1", "tables": {table_name: {"columns": columns}}, "relationships": []}

    def describe(self) -> dict[str, Any]:
        """JSON summary of the plan (for the manifest and the logs)."""
        self._require_fitted()
        modes: dict[str, int] = {}
        for steps in self.steps.values():
            for s in steps:
                modes[s.mode] = modes.get(s.mode, 0) + 1
        return {
            "learned_numeric_columns": len(self.nodes),
            "state_groups": [list(g) for g in self.groups],
            "state_patterns": len(self.patterns),
            "placeholder_values_learned": {v.name: list(v.columns) for v in self.value_classes},
            "pattern_joined_with_class": self.joint_class,
            "copies": dict(self.copies),
            "sums": [{"parts": list(s.parts), "total": s.total, "mode": s.mode} for s in self.sums],
            "determined": [[a, b] for a, b, _ in self.determined],
            "learned_counts": {name: term_name(term) for name, term in self.count_plan.virtual.items()},
            "derived_from_counts": {d.column: d.kind for d in self.count_plan.derivations},
            "log_scale_columns": [n.column for n in self.nodes if n.heavy],
            "grid_columns": [n.column for n in self.nodes if n.grid is not None],
            "categorical_encoded_columns": sorted(self.discrete),
            "class_conditional_columns": sorted(self.class_positions),
            # (class, state pattern) groups with quantile functions of their own, over the columns
            "class_pattern_groups": max((sum(GROUP_SEPARATOR in key and not key.endswith(REST_OF_CLASS)
                                             for key in q.knots) for q in self.class_positions.values()), default=0),
            "encodings_per_pattern": modes,
        }

    def gaussian_columns(self) -> list[str]:
        """Encoded columns that are standard normal scores (positions within the class): one
        Gaussian describes them, so the synthesizer's column encoding needs a single mode
        (common.synth.ctgan_hooks)."""
        self._require_fitted()
        return sorted(self.class_positions) + [vclass.name for vclass in self.value_classes]

    def _require_fitted(self) -> None:
        if not self.fitted:
            raise RuntimeError("DomainTransformer is not fitted: call fit(frame) first")
