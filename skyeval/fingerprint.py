"""What a model string names, by content: a run's identity must not mix two checkpoints.

A local directory is fingerprinted cheaply but by content: each weight file (``*.safetensors``, ``*.bin``,
``*.pt``, ``*.gguf`` ...) by its size, mtime and a hash of evenly spaced chunks (a checkpoint re-saved with
every weight changed keeps its safetensors header and size, but not its bytes), and every config, tokenizer and
chat-template file by a full hash. Only the directory's own files count (not sub-folders such as
``checkpoint-*``). A Hub id is identified by the revision it resolves to (or, offline, by the cached copy's).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from skyeval.errors import SkyevalError
from skyeval.hub import HubClient
from skyeval.types import ModelSource

WEIGHT_SUFFIXES = (
    ".safetensors",
    ".bin",
    ".pt",
    ".pth",
    ".ckpt",
    ".gguf",
    ".h5",
    ".msgpack",
    ".npz",
    ".onnx",
)
# config, tokenizer, chat template and remote-code files: hashed whole
HASHED_SUFFIXES = (".json", ".jinja", ".txt", ".model", ".tiktoken", ".py", ".yaml", ".yml")
CHUNKS = 16
CHUNK_SIZE = 64 * 1024
MAX_WHOLE_HASH = 64 * 1024 * 1024  # a "hashed" file larger than this is sampled like weights
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def sampled_hash(path: Path, size: int, chunks: int = CHUNKS, chunk_size: int = CHUNK_SIZE) -> str:
    """sha256 of ``chunks`` evenly spaced ``chunk_size`` pieces of a file (first and last included); the
    whole file when it is no bigger than those pieces together."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        if size <= chunks * chunk_size:
            digest.update(fh.read())
        else:
            step = (size - chunk_size) / (chunks - 1)
            for i in range(chunks):
                fh.seek(round(i * step))
                digest.update(fh.read(chunk_size))
    return digest.hexdigest()[:16]


def file_entry(path: Path, chunks: int = CHUNKS, chunk_size: int = CHUNK_SIZE) -> dict[str, Any]:
    """One file's part of a fingerprint: a weight file's size, mtime and sampled hash, or another file's
    full hash (with its size)."""
    stat = path.stat()
    if path.suffix.lower() in WEIGHT_SUFFIXES or stat.st_size > MAX_WHOLE_HASH:
        return {
            "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
            "sampled_sha256": sampled_hash(path, stat.st_size, chunks, chunk_size),
        }
    return {"size": stat.st_size, "sha256": _sha(path.read_bytes())}


def _counted(path: Path) -> bool:
    suffix = path.suffix.lower()
    return path.is_file() and not path.name.startswith(".") and suffix in WEIGHT_SUFFIXES + HASHED_SUFFIXES


def chat_template_hash(model_dir: Path) -> str:
    """sha256 (16 hex) of the chat template a tokenizer in ``model_dir`` applies; "" when it has none.

    Looked up as transformers does: ``chat_template.jinja``, then ``chat_template.json``, then the
    ``chat_template`` entry of ``tokenizer_config.json``.
    """
    jinja = model_dir / "chat_template.jinja"
    if jinja.is_file():
        return _sha(jinja.read_bytes())
    for name in ("chat_template.json", "tokenizer_config.json"):
        path = model_dir / name
        if not path.is_file():
            continue
        try:
            template = json.loads(path.read_text(encoding="utf-8")).get("chat_template")
        except (json.JSONDecodeError, UnicodeDecodeError, AttributeError) as err:
            raise SkyevalError(f"malformed {path}: {err}") from err
        if template:
            return _sha(json.dumps(template, sort_keys=True, ensure_ascii=False).encode())
    return ""


def fingerprint_path(path: Path, chunks: int = CHUNKS, chunk_size: int = CHUNK_SIZE) -> ModelSource:
    """The ``local`` ModelSource of a model directory (its own files) or of a single weight file."""
    path = path.expanduser().resolve()
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if _counted(p))
        if not files:
            raise SkyevalError(f"no weight, config or tokenizer files in model directory {path}")
        template = chat_template_hash(path)
    else:
        files, template = [path], ""
    entries = {p.name: file_entry(p, chunks, chunk_size) for p in files}
    digest = _sha(json.dumps(entries, sort_keys=True).encode())
    return ModelSource("local", str(path), fingerprint=digest, chat_template=template, files=entries)


def is_local(model: str) -> bool:
    """``model`` names an existing file or directory (``./ckpt``, ``/data/m``, ``tiny`` in the current folder)."""
    return Path(model).expanduser().exists()


def is_hub_id(model: str) -> bool:
    """``model`` is no local path and reads as a Hub id (``org/name`` or ``name``)."""
    return (
        not is_local(model) and not model.startswith(("/", "./", "../", "~")) and bool(_HUB_ID.match(model))
    )


def model_source(model: str, *, loads_model: bool, hub: HubClient, online: bool) -> ModelSource:
    """What ``model`` is for an engine that loads it itself (``loads_model``) or only names it (a server).

    A local path is resolved and fingerprinted; a Hub id gets the revision the Hub serves (``online``) or the
    one cached locally (offline; "" when not cached); ``hub`` answers those questions. An engine that does not
    load the model (openai, replay) is identified by the name alone.
    """
    if not loads_model:
        return ModelSource("name", model)
    if is_local(model):
        return fingerprint_path(Path(model))
    if not is_hub_id(model):
        raise SkyevalError(f"model path not found: {model}")
    revision = hub.revision(model) if online else (hub.cached_revision(model) or "")
    return ModelSource("hub", model, revision=revision)


def identity_fields(source: ModelSource) -> Mapping[str, str]:
    """The parts of a ModelSource that make two models the same model (``files`` is detail, not identity)."""
    fields = {"model": source.id}
    for key in ("revision", "fingerprint", "chat_template"):
        value = getattr(source, key)
        if value:
            fields[f"model.{key}"] = value
    return fields
