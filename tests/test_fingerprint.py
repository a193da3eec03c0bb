"""Model fingerprints: by content (sampled weights, hashed config/tokenizer/template), cheap, top-level only."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from skyeval.errors import SkyevalError
from skyeval.fingerprint import chat_template_hash, fingerprint_path, model_source, sampled_hash
from skyeval.types import ModelSource


class StubHub:
    """A ``HubClient`` answering from dicts; records what it was asked."""

    def __init__(self, online: dict[str, str], cached: dict[str, str] | None = None) -> None:
        self.online, self.cached = online, cached or {}
        self.asked: list[tuple[str, str]] = []

    def revision(self, repo_id: str) -> str:
        self.asked.append(("revision", repo_id))
        if repo_id not in self.online:
            raise SkyevalError(f"model {repo_id!r} is not a local path and not a model on the Hub")
        return self.online[repo_id]

    def cached_revision(self, repo_id: str) -> str | None:
        self.asked.append(("cached", repo_id))
        return self.cached.get(repo_id)


def _model_dir(root: Path, weights: bytes) -> Path:
    root.mkdir(parents=True)
    (root / "model.safetensors").write_bytes(weights)
    (root / "config.json").write_text('{"hidden_size": 8}')
    (root / "tokenizer_config.json").write_text(json.dumps({"chat_template": "{{ messages }}"}))
    (root / "README.md").write_text("not part of the fingerprint")
    return root


def _rewrite_keeping_size_and_mtime(path: Path, data: bytes) -> None:
    stat = path.stat()
    assert len(data) == stat.st_size
    path.write_bytes(data)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_sampled_hash_reads_evenly_spaced_chunks_and_sees_any_of_them_change(tmp_path: Path) -> None:
    path = tmp_path / "w.bin"
    data = bytearray(os.urandom(1 << 20))
    path.write_bytes(data)
    base = sampled_hash(path, len(data), chunks=4, chunk_size=1024)
    step = (len(data) - 1024) / 3
    for i in range(4):  # a byte inside each sampled chunk, the last one ending the file
        changed = bytearray(data)
        changed[round(i * step) + 1000] ^= 0xFF
        path.write_bytes(changed)
        assert sampled_hash(path, len(data), chunks=4, chunk_size=1024) != base
    changed = bytearray(data)
    changed[300_000] ^= 0xFF  # between chunks 1 (at 349184) and 0: not read, by design
    path.write_bytes(changed)
    assert sampled_hash(path, len(data), chunks=4, chunk_size=1024) == base
    assert sampled_hash(path, len(data), chunks=1024, chunk_size=1024) != base  # small enough: hashed whole


def test_weights_changed_under_the_same_size_mtime_and_header_change_the_fingerprint(tmp_path: Path) -> None:
    header = b"\x20\x00\x00\x00\x00\x00\x00\x00" + b'{"w":{"dtype":"F32","shape":[8]}}'.ljust(32)
    model = _model_dir(tmp_path / "m", header + os.urandom(4096))
    first = fingerprint_path(model, chunks=4, chunk_size=256)
    assert first == fingerprint_path(model, chunks=4, chunk_size=256)  # deterministic
    _rewrite_keeping_size_and_mtime(model / "model.safetensors", header + os.urandom(4096))
    second = fingerprint_path(model, chunks=4, chunk_size=256)
    assert second.fingerprint != first.fingerprint
    assert second.files["model.safetensors"]["size"] == first.files["model.safetensors"]["size"]
    assert second.files["model.safetensors"]["mtime_ns"] == first.files["model.safetensors"]["mtime_ns"]


def test_config_tokenizer_and_template_files_count_and_other_files_do_not(tmp_path: Path) -> None:
    model = _model_dir(tmp_path / "m", b"\x00" * 64)
    base = fingerprint_path(model)
    assert base.kind == "local" and base.id == str(model.resolve())
    assert set(base.files) == {"model.safetensors", "config.json", "tokenizer_config.json"}
    assert "sha256" in base.files["config.json"] and "sampled_sha256" in base.files["model.safetensors"]

    (model / "README.md").write_text("edited")
    (model / "checkpoint-5").mkdir()
    (model / "checkpoint-5" / "model.safetensors").write_bytes(b"1" * 64)  # a sub-folder is another model
    assert fingerprint_path(model) == base

    (model / "config.json").write_text('{"hidden_size": 16}')
    assert fingerprint_path(model).fingerprint != base.fingerprint

    (model / "config.json").write_text('{"hidden_size": 8}')
    (model / "tokenizer_config.json").write_text(json.dumps({"chat_template": "{{ other }}"}))
    changed = fingerprint_path(model)
    assert changed.fingerprint != base.fingerprint and changed.chat_template != base.chat_template


def test_chat_template_is_looked_up_like_transformers(tmp_path: Path) -> None:
    model = _model_dir(tmp_path / "m", b"\x00")
    from_config = chat_template_hash(model)
    assert from_config
    (model / "chat_template.jinja").write_text("{{ jinja }}")
    assert chat_template_hash(model) not in ("", from_config)  # the .jinja file wins
    (model / "chat_template.jinja").unlink()
    (model / "tokenizer_config.json").write_text("{}")
    assert chat_template_hash(model) == ""


def test_model_source_local_hub_and_served_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = _model_dir(tmp_path / "tiny", b"\x00" * 8)
    monkeypatch.chdir(tmp_path)
    hub = StubHub({"org/model": "a" * 40}, cached={"org/cached": "c" * 40})
    rel = model_source("./tiny", loads_model=True, hub=hub, online=True)
    assert rel == model_source(str(model), loads_model=True, hub=hub, online=True)
    assert rel == model_source("tiny", loads_model=True, hub=hub, online=True)  # a folder here, not a Hub id
    assert hub.asked == []

    assert model_source("org/model", loads_model=True, hub=hub, online=True) == ModelSource(
        "hub", "org/model", revision="a" * 40
    )
    assert model_source("org/cached", loads_model=True, hub=hub, online=False).revision == "c" * 40
    assert model_source("org/model", loads_model=True, hub=hub, online=False).revision == ""
    with pytest.raises(SkyevalError, match="not a model on the Hub"):
        model_source("org/nosuch", loads_model=True, hub=hub, online=True)
    with pytest.raises(SkyevalError, match="model path not found: ./nosuch"):
        model_source("./nosuch", loads_model=True, hub=hub, online=True)
    with pytest.raises(SkyevalError, match="model path not found: a/b/c"):
        model_source("a/b/c", loads_model=True, hub=hub, online=True)
    asked = len(hub.asked)
    assert model_source("./tiny", loads_model=False, hub=hub, online=True) == ModelSource("name", "./tiny")
    assert len(hub.asked) == asked  # a served model name is never looked up


def test_a_folder_without_model_files_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(SkyevalError, match="no weight, config or tokenizer files"):
        fingerprint_path(tmp_path / "empty")


def test_the_huggingface_hub_client_reads_revisions_and_the_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """``HuggingFaceHub`` against a stubbed ``huggingface_hub`` (no network in tests)."""
    huggingface_hub = pytest.importorskip("huggingface_hub")
    from huggingface_hub.errors import RepositoryNotFoundError

    from skyeval.hub import HuggingFaceHub

    class Info:
        sha = "f" * 40

    def model_info(self: object, repo_id: str, *, timeout: float | None = None) -> Info:
        if repo_id == "org/missing":
            raise RepositoryNotFoundError.__new__(
                RepositoryNotFoundError
            )  # its __init__ wants an HTTP response
        if repo_id == "org/flaky":
            raise OSError("connection reset")
        return Info()

    monkeypatch.setattr(huggingface_hub.HfApi, "model_info", model_info)
    client = HuggingFaceHub()
    assert client.revision("org/model") == "f" * 40
    with pytest.raises(SkyevalError, match="not a model on the Hub"):
        client.revision("org/missing")
    with pytest.raises(
        SkyevalError, match="cannot resolve the Hub revision of 'org/flaky': connection reset"
    ):
        client.revision("org/flaky")

    cache = {"org/model": "/c/models--org--model/snapshots/" + "e" * 40 + "/config.json"}
    monkeypatch.setattr(huggingface_hub, "try_to_load_from_cache", lambda repo, name: cache.get(repo))
    assert client.cached_revision("org/model") == "e" * 40
    assert client.cached_revision("org/other") is None
