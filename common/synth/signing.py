"""Models no one can swap unseen: each saved model's file hashes are signed with a key kept
outside the output folder, and checked before anything is unpickled.

The SHA-256 of each file in models/manifest.json catches corruption and mix-ups, but whoever can
write the models folder can replace a pickle and its hash together, and unpickling runs their
code. The HMAC-SHA256 of a model's file hashes, under a key that is not in that folder, cannot be
recomputed without the key: a swapped file, or a manifest edited to match it, is refused.

The key: the environment variable TCPSYNTH_MODEL_KEY when set (any text; e.g. from a secret
store, the same on every machine that should load the models), else a random key created on
first use in the user's config folder ($XDG_CONFIG_HOME or ~/.config, tcp-flag-synth/
model_signing.key, readable by the user only).

What it does not protect against: someone who can read the key (the same user account, or the
environment) can sign anything; models signed elsewhere load only with that key or with
--trust-model-folder, which skips the check and trusts the folder as it is.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path
from typing import Any

from common.core.errors import UserError

KEY_ENVIRONMENT = "TCPSYNTH_MODEL_KEY"
ALGORITHM = "HMAC-SHA256"


def key_file() -> Path:
    """Where the signing key is kept when the environment does not give one."""
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "tcp-flag-synth" / "model_signing.key"


def signing_key(create: bool = True) -> tuple[bytes, str]:
    """(key, where it came from); a new random key is written to `key_file()` when there is none
    and `create` (else a UserError says how to give one)."""
    from_environment = os.environ.get(KEY_ENVIRONMENT)
    if from_environment:
        return from_environment.encode("utf-8"), f"${KEY_ENVIRONMENT}"
    path = key_file()
    if path.is_file():
        return path.read_text(encoding="utf-8").strip().encode("utf-8"), str(path)
    if not create:
        raise UserError(f"no model signing key: set {KEY_ENVIRONMENT} or create {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(secrets.token_hex(32) + "\n")
    return path.read_text(encoding="utf-8").strip().encode("utf-8"), str(path)


def _message(files: dict[str, str]) -> bytes:
    return json.dumps(files, sort_keys=True, separators=(",", ":")).encode("utf-8")


def key_id(key: bytes) -> str:
    """A short public fingerprint of a key (to say which key signed, never the key)."""
    return hashlib.sha256(b"tcp-flag-synth key id:" + key).hexdigest()[:16]


def sign(files: dict[str, str]) -> dict[str, Any]:
    """The signature record of a model's {file name: SHA-256}, under this user's key."""
    key, _ = signing_key(create=True)
    return {"algorithm": ALGORITHM, "key_id": key_id(key),
            "value": hmac.new(key, _message(files), hashlib.sha256).hexdigest()}


def verify(model: str, files: dict[str, str], signature: Any, folder: Path, trust_folder: bool = False) -> str:
    """Check a model's signature before its files are unpickled; returns what was checked.

    UserError when the signature is missing, made with another key, or does not match the file
    hashes (a swapped file with a recomputed hash), unless `trust_folder`."""
    if trust_folder:
        return "not checked (--trust-model-folder)"
    hint = (f"a model folder from elsewhere loads with the key it was signed with (${KEY_ENVIRONMENT}) or with "
            f"--trust-model-folder if you trust {folder}")
    if not isinstance(signature, dict) or signature.get("algorithm") != ALGORITHM:
        raise UserError(f"{model} in {folder} has no signature in the models manifest: refusing to unpickle it "
                        f"(a pickle runs code); {hint}")
    key, source = signing_key(create=False) if os.environ.get(KEY_ENVIRONMENT) or key_file().is_file() \
        else (b"", "no key")
    if not key or signature.get("key_id") != key_id(key):
        raise UserError(f"{model} in {folder} was signed with another key (key id {signature.get('key_id')}, "
                        f"yours {key_id(key) if key else 'none'} from {source}): refusing to unpickle it; {hint}")
    expected = hmac.new(key, _message(files), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, str(signature.get("value", ""))):
        raise UserError(f"{model} in {folder}: the file hashes in the models manifest do not match their "
                        f"signature (a file and its hash were replaced): refusing to unpickle it; re-train")
    return f"signature checked ({ALGORITHM}, key {key_id(key)} from {source})"


__all__ = ["KEY_ENVIRONMENT", "key_file", "sign", "signing_key", "verify"]
