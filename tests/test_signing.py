"""Models no one can swap unseen: a model's file hashes are signed with a key outside the output
folder and checked before unpickling; a folder signed with another key loads only when trusted."""
from __future__ import annotations

import pytest

from common.core.errors import UserError
from common.synth import signing


@pytest.fixture
def own_key(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv(signing.KEY_ENVIRONMENT, raising=False)
    return tmp_path


def test_the_key_is_created_once_outside_the_folder_and_private(own_key):
    files = {"tvae_model.pkl": "ab" * 32}
    signature = signing.sign(files)
    path = signing.key_file()
    assert path.is_file() and path.is_relative_to(own_key / "config") and path.stat().st_mode & 0o077 == 0
    assert signing.sign(files) == signature                      # the same key the second time
    assert "signature checked" in signing.verify("tvae", files, signature, own_key)


def test_a_swapped_file_with_its_hash_recomputed_is_refused(own_key):
    files = {"tvae_model.pkl": "ab" * 32, "tvae_rules.json": "cd" * 32}
    signature = signing.sign(files)
    swapped = {**files, "tvae_model.pkl": "ef" * 32}        # the attacker's pickle and its true hash
    with pytest.raises(UserError, match="do not match their signature"):
        signing.verify("tvae", swapped, signature, own_key)
    with pytest.raises(UserError, match="no signature"):
        signing.verify("tvae", files, None, own_key)


def test_another_key_is_refused_unless_the_folder_is_trusted(own_key, monkeypatch):
    files = {"ctgan_model.pkl": "12" * 32}
    signature = signing.sign(files)                            # signed with this user's key file
    monkeypatch.setenv(signing.KEY_ENVIRONMENT, "another team's secret")
    with pytest.raises(UserError, match="signed with another key.*--trust-model-folder"):
        signing.verify("ctgan", files, signature, own_key)
    assert "not checked" in signing.verify("ctgan", files, signature, own_key, trust_folder=True)
    # the key given in the environment signs and checks on any machine that has it
    shared = signing.sign(files)
    assert "from $TCPSYNTH_MODEL_KEY" in signing.verify("ctgan", files, shared, own_key)
