"""models/manifest.json: versions, config, facts and the SHA-256 of every saved file.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from common.core.errors import UserError
from common.core.io import file_sha256, read_json, write_json
from common.core.layout import OutputLayout

log = logging.getLogger("tcpsynth")


MANIFEST_VERSION = 1


GENERATIONS_KEPT = 20      # generation runs remembered in the manifest


class Manifest:
    """models/manifest.json: what was trained, with which libraries and config, and file hashes.

    Structure::

        {"manifest_version": 1, "source": {path, sha256, rows}, "libraries": {...},
         "torch_threads": n, "config": {... the validated config actually used ...},
         "overrides": {...command-line overrides...}, "split": {...}, "excluded_identifiers": {...},
         "domain_layer": "...", "models": {"ctgan": {"description": {...}, "files": {name: sha256},
         "training": FitFacts, "sampling": SamplingFacts, "synthetic_csv": {...}, "loss": {...}}},
         "files": {path relative to the output folder: sha256}}
    """

    def __init__(self, layout: OutputLayout, payload: dict[str, Any]) -> None:
        self.layout = layout
        self.payload = payload

    @classmethod
    def open(cls, layout: OutputLayout, source_sha256: str) -> "Manifest":
        """The existing manifest when it was made for this input file, else an empty one.

        Entries of models not retrained now are kept, so `--models tvae` leaves CTGAN's record.
        """
        path = layout.manifest_json
        if path.exists():
            try:
                payload = read_json(path, "models manifest")
            except UserError as error:
                log.info("   %s is unreadable (%s): starting a new manifest", path, error)
                payload = None
            if isinstance(payload, dict) and payload.get("source", {}).get("sha256") == source_sha256:
                payload.setdefault("models", {})
                payload.setdefault("files", {})
                return cls(layout, payload)
        return cls(layout, {"manifest_version": MANIFEST_VERSION, "models": {}, "files": {}})

    @classmethod
    def read(cls, layout: OutputLayout) -> "Manifest":
        """The saved manifest; UserError when there is none."""
        path = layout.manifest_json
        if not path.exists():
            raise UserError(f"models manifest not found: {path} (train first with train_synthetic_models_improved.py)")
        payload = read_json(path, "models manifest")
        if not isinstance(payload, dict) or "models" not in payload:
            raise UserError(f"{path} is not a models manifest (no 'models' key); re-train")
        return cls(layout, payload)

    def update(self, **fields: Any) -> None:
        self.payload.update(fields)

    def relative(self, path: Path) -> str:
        return str(Path(path).resolve().relative_to(self.layout.root.resolve()))

    def forget_model(self, model: str) -> None:
        """Drop a model's record before it is retrained: an interrupt then leaves no stale claim."""
        entry = self.payload["models"].pop(model, None)
        if entry:
            for name in entry.get("artifacts", []):
                self.payload["files"].pop(name, None)
        self.save()

    def record_model(self, model: str, entry: dict[str, Any], artifacts: list[Path]) -> None:
        """Store a model's entry and the SHA-256 of each of its artifacts, then save."""
        from common.synth.signing import sign

        names = [self.relative(path) for path in artifacts]
        entry["artifacts"] = names
        # the model's file hashes signed with a key outside this folder (common.synth.signing)
        entry["signature"] = sign(entry["files"])
        self.payload["models"][model] = entry
        for name, path in zip(names, artifacts):
            self.payload["files"][name] = file_sha256(path)
        self.save()

    def model_entry(self, model: str) -> dict[str, Any]:
        entry = self.payload["models"].get(model)
        if not entry:
            raise UserError(
                f"no '{model}' model in {self.layout.manifest_json}; train it with "
                f"train_synthetic_models_improved.py --models {model}"
            )
        return entry

    def save(self) -> Path:
        return write_json(self.layout.manifest_json, self.payload)
