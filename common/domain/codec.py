"""Encoding rows into the model's frame and decoding sampled rows exactly (the `_Codec` half of
DomainTransformer): positions within intervals, class-conditional scores, sums, states, repair.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import special

from common.domain.parts import (
    ALL_CLASSES, CALIBRATION_MIN_ROWS, GAP_DOWN, GAP_UP, MISSING, PATTERN_COLUMN, PLACEHOLDER, RAW,
    SHARE, _Labels, _Node, _Step, _grid_span, _multiples_inside, _normal_score, _round_inside, _values,
)
from common.data.dtypes import restore_dtypes
from common.rules import category_key


class _Codec:
    """How DomainTransformer encodes rows and decodes sampled ones exactly."""

    def _encode_numeric(self, frame: pd.DataFrame, pattern: pd.Series, fill: bool,
                        clip: bool = False) -> dict[str, np.ndarray]:
        """The encoded value of every learned numeric column (NaN where not measured unless
        `fill`). `clip` projects out-of-interval values (used by repair)."""
        x = {n.column: _values(frame, n.column) for n in self.nodes}
        out = {n.column: np.full(len(frame), np.nan) for n in self.nodes}
        labels = pattern.to_numpy()
        for name in self._pattern_names():
            rows = labels == name if self.groups else np.ones(len(frame), dtype=bool)
            if not rows.any():
                continue
            for step in self.steps.get(name, []):
                node = self.nodes[step.index]
                value = x[node.column][rows]
                low, high = self._interval(step, {self.nodes[j].column: x[self.nodes[j].column][rows] for j in step.reads()}, rows.sum())
                if clip:
                    value = np.clip(value, low, np.maximum(low, high))
                out[node.column][rows] = self._encode_one(node, step.mode, value, low, high)
        for plan in self.sums:
            if plan.mode == "share":
                a, total = _values(frame, plan.parts[0]), _values(frame, plan.total)
                with np.errstate(invalid="ignore", divide="ignore"):
                    share = np.where(total > 0, a / np.where(total > 0, total, 1.0), np.nan)
                out[plan.parts[0]] = np.clip(share, 0.0, 1.0) if clip else share
        if fill:
            rng = np.random.default_rng(self.seed)
            for column, values in out.items():
                gaps = ~np.isfinite(values)
                if gaps.any():
                    values[gaps] = rng.choice(self.fillers[column], gaps.sum())
        return out

    def _interval(self, step: _Step, decoded: dict[str, np.ndarray], rows: int) -> tuple[np.ndarray, np.ndarray]:
        """The exact admissible interval of a node given the nodes decoded before it (no
        tolerance: decoded rows satisfy the rules exactly, not within their rounding slack)."""
        low = np.full(rows, step.lo)
        high = np.full(rows, step.hi)
        for j in step.below:
            low = np.fmax(low, decoded[self.nodes[j].column])
        for j in step.above:
            high = np.fmin(high, decoded[self.nodes[j].column])
        with np.errstate(invalid="ignore"):
            for bound, count in step.scaled_below:
                low = np.fmax(low, decoded[self.nodes[bound].column] * decoded[self.nodes[count].column])
            for bound, count in step.scaled_above:
                high = np.fmin(high, decoded[self.nodes[bound].column] * decoded[self.nodes[count].column])
            for a, b in step.offsets:
                high = np.fmin(high, decoded[self.nodes[a].column] - decoded[self.nodes[b].column])
            for count, limit, where in step.reciprocal:
                n = decoded[self.nodes[count].column]
                bound = limit / np.where(n > 0, n, np.nan)
                if where == "above":
                    high = np.where(n > 0, np.fmin(high, bound), high)
                else:
                    low = np.where(n > 0, np.fmax(low, bound), low)
            for count, floor in step.zero_with:
                n = decoded[self.nodes[count].column]
                low = np.where(n > 0, np.fmax(low, floor), low)
                low, high = np.where(n == 0, 0.0, low), np.where(n == 0, 0.0, high)
            # last, and only where the interval stays non-empty (the rules above come first)
            for bound_low, bound_high, count in step.tight:
                n = decoded[self.nodes[count].column]
                lo, hi = decoded[self.nodes[bound_low].column], decoded[self.nodes[bound_high].column]
                tight_low, tight_high = np.fmax(low, hi + lo * (n - 1)), np.fmin(high, lo + hi * (n - 1))
                fits = (n >= 1) & (tight_low <= tight_high)
                low, high = np.where(fits, tight_low, low), np.where(fits, tight_high, high)
            for count, first in step.single:
                n, value = decoded[self.nodes[count].column], decoded[self.nodes[first].column]
                fits = (n == 1) & (value >= low) & (value <= high)
                low, high = np.where(fits, value, low), np.where(fits, value, high)
        return self._snap_interval(self.nodes[step.index], low, high)

    @staticmethod
    def _snap_interval(node: _Node, low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For integer, multiple and grid columns, the interval between the admissible values
        inside it, so that gaps and shares are counted from a value the column can take (an
        integer count above a fraction is encoded as whole steps above 0 or 1, not as 0.83).
        Where no admissible value lies inside, the interval is left as it is."""
        if node.grid is None and not node.integer and not node.multiple:
            return low, high
        with np.errstate(invalid="ignore"):
            if node.grid is not None:
                first, last = _grid_span(node.grid, low, high)
                ok = first <= last
                grid = node.grid
                new_low = np.where(ok, grid[np.clip(first, 0, len(grid) - 1)], low)
                new_high = np.where(ok, grid[np.clip(last, 0, len(grid) - 1)], high)
            else:
                step = node.multiple or 1.0
                new_low, new_high = _multiples_inside(low, high, step)
                ok = new_low <= new_high
                new_low, new_high = np.where(ok, new_low, low), np.where(ok, new_high, high)
        # an infinite bound stays infinite
        return np.where(np.isfinite(low), new_low, low), np.where(np.isfinite(high), new_high, high)

    @staticmethod
    def _encode_one(node: _Node, mode: str, x: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            if mode == SHARE:
                width = high - low
                return np.where(width > 0, (x - low) / np.where(width > 0, width, 1.0), 0.0)
            if mode == GAP_UP:
                gap = x - low
                return np.log1p(np.maximum(gap, 0.0) / node.scale) if node.heavy else gap
            if mode == GAP_DOWN:
                gap = high - x
                return np.log1p(np.maximum(gap, 0.0) / node.scale) if node.heavy else gap
            return np.log1p(np.maximum(x, 0.0) / node.scale) if node.heavy and node.lo >= 0 else x

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The encoded frame SDV learns: pass-through columns, encoded numeric columns and the
        state pattern; copies, derived sums and determined columns left out."""
        self._require_fitted()
        frame = self.count_plan.with_counts(frame)
        pattern = self._row_patterns(frame)
        encoded = self._encode_numeric(frame, pattern, fill=True)
        return self._assemble(frame, pattern, encoded)

    def _assemble(self, frame: pd.DataFrame, pattern: pd.Series, encoded: dict[str, np.ndarray]) -> pd.DataFrame:
        dropped = self._not_learned()
        result = {}
        if self.groups:
            result[PATTERN_COLUMN] = self._joint_labels(frame, pattern) if self.joint_class else pattern.to_numpy()
        result.update(self._placeholder_values(frame, fill=True))
        identity = self._identity_columns()
        labels = _Labels.of(self._position_labels(frame, pattern)) if self.class_positions else None
        rng = np.random.default_rng(self.seed + 3)
        for column in self.columns + list(self.count_plan.virtual):
            if column in dropped or column == self.joint_class:
                continue
            use_encoded = column in encoded and column not in identity
            result[column] = encoded[column] if use_encoded else frame[column].to_numpy()
            if column in self.class_positions:
                u = self.class_positions[column].positions(encoded[column], labels, rng)
                result[column] = _normal_score(u)
        return pd.DataFrame(result, index=frame.index)

    def _from_positions(self, encoded: pd.DataFrame, calibrate: bool = False) -> pd.DataFrame:
        """Normal scores of positions within the class (and state pattern, see
        _position_labels) back to encoded values (_ClassQuantiles).

        `calibrate` (for sampled rows): within each group of at least CALIBRATION_MIN_ROWS rows
        of this frame that one quantile function decodes (a class in a pattern, or a class),
        each column's positions are replaced by their ranks among the group's rows, spread
        evenly over (0, 1). The model decides the order of the rows (so their joint structure),
        the training rows of the group decide the values: a model whose positions drift towards
        the middle (a GAN that has not matched the normal scores' tails), or that pairs a
        column loosely with the pattern, still gives every class in every pattern its real
        marginal distribution.
        """
        if not self.class_positions:
            return encoded
        encoded = encoded.copy()
        pattern = encoded[PATTERN_COLUMN].to_numpy() if PATTERN_COLUMN in encoded.columns else None
        labels = _Labels.of(self._position_labels(encoded, pattern))
        rng = np.random.default_rng(np.random.randint(0, 2**31 - 1)) if calibrate else None
        for column, quantiles in self.class_positions.items():
            if column not in encoded.columns:
                continue
            score = pd.to_numeric(encoded[column], errors="coerce").to_numpy(dtype=float)
            u = special.ndtr(np.where(np.isfinite(score), score, 0.0))
            if calibrate:
                # the rows of each quantile function (a class in a pattern, or a class) are
                # ranked among themselves, where there are enough of them
                names, codes = quantiles.key_codes(labels, len(u))
                for j in range(len(names)):
                    rows = codes == j
                    if rows.sum() < CALIBRATION_MIN_ROWS:
                        continue
                    order = np.argsort(np.argsort(u[rows] + rng.uniform(0.0, 1e-12, rows.sum()), kind="stable"),
                                      kind="stable")
                    u[rows] = (order + rng.uniform(0.0, 1.0, rows.sum())) / rows.sum()
            encoded[column] = quantiles.values(u, labels)
        return encoded

    def _identity_columns(self) -> set[str]:
        """Learned columns whose encoding is the value itself (no rule shapes them): they keep
        their dtype, so a table without rules passes through unchanged."""
        raw = {self.nodes[s.index].column for steps in self.steps.values() for s in steps if s.mode == RAW}
        shaped = {self.nodes[s.index].column for steps in self.steps.values() for s in steps if s.mode != RAW}
        return {c for c in raw - shaped - set(self.state_columns)
                if not self.nodes[[n.column for n in self.nodes].index(c)].heavy}

    # ------------------------------------------------------------------ inverse
    def inverse_transform(self, encoded: pd.DataFrame, calibrate: bool = False) -> pd.DataFrame:
        """Decode SDV's rows into the original columns; every detected rule holds by construction
        (except where a rule's columns could not all be encoded: the guard checks those).
        `calibrate`: sampled rows get their class's marginals (see _from_positions)."""
        self._require_fitted()
        encoded = self._split_joint(encoded.reset_index(drop=True))
        encoded = self._from_positions(encoded, calibrate)
        rows = len(encoded)
        if self.groups:
            pattern = encoded[PATTERN_COLUMN].astype(object).to_numpy()
            known = np.isin(pattern, self.patterns)
            pattern = np.where(known, pattern, self.patterns[0])
        else:
            pattern = np.array([""] * rows, dtype=object)
        values: dict[str, np.ndarray] = {}
        for node in self.nodes:
            v = pd.to_numeric(encoded[node.column], errors="coerce").to_numpy(dtype=float)
            seen = self.fillers[node.column]
            # within the encoded training range (SDV's own default, enforce_min_max_values):
            # keeps a wild sample from overflowing an integer column
            values[node.column] = np.clip(np.where(np.isfinite(v), v, np.median(seen)), seen.min(), seen.max())
        decoded = {n.column: np.full(rows, np.nan) for n in self.nodes}
        for name in self._pattern_names():
            mask = pattern == name
            if not mask.any():
                continue
            for step in self.steps.get(name, []):
                node = self.nodes[step.index]
                low, high = self._interval(step, {self.nodes[j].column: decoded[self.nodes[j].column][mask] for j in step.reads()}, mask.sum())
                decoded[node.column][mask] = self._decode_one(node, step.mode, values[node.column][mask], low, high)
        out = {c: decoded[c] for c in decoded}
        self._decode_sums(encoded, out)
        self._derive_counts(out)
        for copy, source in self.copies.items():
            quantum = self.copy_quanta.get(copy, 0.0)
            # a copy stored to fewer decimals than its source (equal within that rounding)
            out[copy] = np.round(out[source], int(round(-math.log10(quantum)))) if quantum > 0 else out[source].copy()
        self._restore_states(pattern, encoded, out)
        frame = {}
        for column in self.columns:
            if column in out:
                frame[column] = out[column]
            elif column in encoded.columns:
                frame[column] = encoded[column].to_numpy()
        result = pd.DataFrame(frame)
        for source, target, mapping in self.determined:
            fallback = pd.Series(list(mapping.values())).mode().iloc[0] if mapping else None
            result[target] = [mapping.get(category_key(v), fallback) for v in result[source]]
        return restore_dtypes(result, self.columns, self.dtypes)

    def _decode_one(self, node: _Node, mode: str, z: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
        high = np.maximum(high, low)    # only equal when the interval is a point
        if mode == SHARE:
            width = high - low
            x = low + np.clip(z, 0.0, 1.0) * width
        elif mode == GAP_UP:
            gap = node.scale * np.expm1(np.clip(z, 0.0, 700.0)) if node.heavy else np.maximum(z, 0.0)
            x = low + gap
        elif mode == GAP_DOWN:
            gap = node.scale * np.expm1(np.clip(z, 0.0, 700.0)) if node.heavy else np.maximum(z, 0.0)
            x = high - gap
        else:
            x = node.scale * np.expm1(np.clip(z, 0.0, 700.0)) if node.heavy and node.lo >= 0 else z
        x = np.clip(x, low, high)
        return self._round(node, x, low, high)

    @staticmethod
    def _round(node: _Node, x: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
        """The value the column can take nearest to x inside [low, high]: a grid value, a
        multiple, an integer; or x rounded to the decimals the column is stored with."""
        if node.grid is not None:
            grid = node.grid
            first, last = _grid_span(grid, low, high)
            nearest = np.clip(np.searchsorted(grid, x), 1, len(grid) - 1) if len(grid) > 1 else np.zeros(len(x), int)
            if len(grid) > 1:
                left = nearest - 1
                nearest = np.where(np.abs(grid[left] - x) <= np.abs(grid[nearest] - x), left, nearest)
            inside = first <= last
            chosen = np.where(inside, np.clip(nearest, first, np.maximum(first, last)), nearest)
            return grid[np.clip(chosen, 0, len(grid) - 1)]
        if node.integer or node.multiple:
            step = node.multiple or 1.0
            lower, upper = _multiples_inside(low, high, step)
            rounded = np.rint(x / step) * step
            return np.where(lower <= upper, np.clip(rounded, lower, upper), rounded)
        if node.quantum > 0:
            # to the nearest value on the column's decimals, as the data was stored: like a real
            # median stored with 4 decimals, it may sit below an unrounded minimum by less than
            # half a step, which is the rounding the rules allow and no more
            return np.round(x, int(round(-math.log10(node.quantum))))
        return x

    def _decode_sums(self, encoded: pd.DataFrame, out: dict[str, np.ndarray]) -> None:
        """Parts from the total and a share ("share"), or the total from the parts ("derive");
        parts stored with decimals are rounded to them, and the sum is then exact in floats."""
        for plan in self.sums:
            a, b = plan.parts
            if plan.mode == "share":
                share = pd.to_numeric(encoded[a], errors="coerce").to_numpy(dtype=float)
                share = np.clip(np.nan_to_num(share, nan=0.5), 0.0, 1.0)
                total = out[plan.total]
                first = share * total
                quantum = self.copy_quanta.get(a, 0.0)
                if plan.integer:
                    first = np.rint(first)
                elif quantum > 0:
                    first = _round_inside(first, np.zeros_like(total), total, quantum)
                first = np.clip(first, 0.0, total)
                out[a], out[b] = first, total - first
            else:
                out[plan.total] = out[a] + out[b]

    def _not_learned(self) -> set[str]:
        """Columns of the table that are not encoded: copies, determined columns, derived sums,
        the second part of a shared sum, and the means and shares derived from counts."""
        dropped = set(self.copies) | {b for _, b, _ in self.determined} | self.count_plan.dropped
        return dropped | {s.total for s in self.sums if s.mode == "derive"} | {s.parts[1] for s in self.sums if s.mode == "share"}

    def _derive_counts(self, out: dict[str, np.ndarray]) -> None:
        """Means, shares and product columns from the decoded counts (common.domain.counts); then
        each sum with a derived member is solved again for a member that was not derived, on the
        rows where a member was derived."""
        if not self.count_plan.derivations:
            return

        def read(column: str) -> np.ndarray:
            return out[self.copies.get(column, column)]

        done = self.count_plan.derive(out, read)
        for plan in self.sums:
            a, b = plan.parts
            members = (a, b, plan.total)
            changed = np.zeros(len(out[plan.total]), dtype=bool)
            for m in members:
                if m in done:
                    changed |= done[m]
            if not changed.any():
                continue
            fixed = [m for m in members if m in done]
            # a rest of two rounded values may come out a rounding step below 0: it is 0
            if plan.total in fixed and a in fixed and b not in fixed:
                out[b] = np.where(changed, np.maximum(out[plan.total] - out[a], 0.0), out[b])
            elif plan.total in fixed and b in fixed and a not in fixed:
                out[a] = np.where(changed, np.maximum(out[plan.total] - out[b], 0.0), out[a])
            else:
                out[plan.total] = np.where(changed, out[a] + out[b], out[plan.total])

    def _restore_states(self, pattern: np.ndarray, encoded: pd.DataFrame, out: dict[str, np.ndarray]) -> None:
        """Placeholder cells get the row's generated placeholder value (inside the placeholder
        range of every column of its class that holds one in this pattern, on the data's step),
        or the single placeholder value; missing cells NaN."""
        if not self.groups:
            return
        in_class = {c: vclass for vclass in self.value_classes for c in vclass.columns}
        generated = {}
        labels = self._class_labels(encoded)
        for vclass in self.value_classes:
            score = pd.to_numeric(encoded[vclass.name], errors="coerce").to_numpy(dtype=float) \
                if vclass.name in encoded.columns else np.full(len(pattern), np.nan)
            u = special.ndtr(np.where(np.isfinite(score), score, 0.0))
            generated[vclass.name] = vclass.quantiles.values(u, labels)
        for name in self.patterns:
            rows = np.nonzero(pattern == name)[0]
            if rows.size == 0:
                continue
            states = self.pattern_states[name]
            for vclass in self.value_classes:
                holders = [c for c in vclass.columns if states[c] == PLACEHOLDER]
                if not holders:
                    continue
                value = vclass.snap(generated[vclass.name][rows], [self.placeholder_rules[c] for c in holders])
                for column in holders:
                    out[column][rows] = value
            for column in self.state_columns:
                state = states[column]
                if state == PLACEHOLDER and column not in in_class:
                    out[column][rows] = self.placeholder_rules[column].lo
                elif state == MISSING:
                    out[column][rows] = np.nan

    # ------------------------------------------------------------------ helpers
    def repair(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Project rows onto the rules: encode with every value clipped into its interval, then
        decode. Valid rows come back unchanged (up to float rounding)."""
        self._require_fitted()
        frame = self.count_plan.with_counts(frame.reset_index(drop=True))
        pattern = self._row_patterns(frame)
        encoded = self._encode_numeric(frame, pattern, fill=True, clip=True)
        return self.inverse_transform(self._assemble(frame, pattern, encoded))
