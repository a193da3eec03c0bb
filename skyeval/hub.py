"""The Hugging Face Hub, asked as little as possible: one quick reachability probe, and model revisions.

``probe`` sends one HEAD request with a short, hard time limit (name resolution included). When the Hub does not
answer it sets ``HF_HUB_OFFLINE=1`` for this process and its children, so ``datasets``, ``transformers`` and vLLM
(imported later) read their caches at once instead of retrying for half a minute. ``huggingface_hub`` itself is
imported only to resolve a revision (``HuggingFaceHub``), after the probe.
"""

from __future__ import annotations

import os
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from skyeval.errors import SkyevalError, require

DEFAULT_ENDPOINT = "https://huggingface.co"
PROBE_TIMEOUT_S = 3.0
_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class HubStatus:
    """Whether the Hub answered the probe; ``detail`` says why not (for the one line a user sees)."""

    online: bool
    detail: str = ""


def endpoint() -> str:
    """The Hub endpoint ``huggingface_hub`` uses: ``HF_ENDPOINT`` or huggingface.co."""
    return os.environ.get("HF_ENDPOINT", DEFAULT_ENDPOINT).rstrip("/")


def offline_by_env() -> bool:
    """True when the user already put the Hub libraries in offline mode."""
    return any(
        os.environ.get(v, "").strip().lower() in _TRUE for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def probe(timeout: float = PROBE_TIMEOUT_S) -> HubStatus:
    """One HEAD request to the Hub endpoint, answered within about ``timeout`` seconds whatever the network does.

    Any HTTP answer below 500 counts as online. Offline (no answer, or offline mode already set), the Hub
    libraries are switched to offline mode for this process (``HF_HUB_OFFLINE=1``).
    """
    if offline_by_env():
        return HubStatus(False, "HF_HUB_OFFLINE is set")
    url = endpoint()
    outcome: list[str] = []

    def head() -> None:  # in a thread: urllib's timeout does not bound name resolution
        try:
            with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout):
                outcome.append("")
        except urllib.error.HTTPError as err:
            outcome.append("" if err.code < 500 else f"HTTP {err.code}")
        except (urllib.error.URLError, OSError, ValueError) as err:
            reason = getattr(err, "reason", err)
            outcome.append(f"{type(reason).__name__}: {reason}" if str(reason) else type(reason).__name__)

    worker = threading.Thread(target=head, name="skyeval-hub-probe", daemon=True)
    worker.start()
    worker.join(timeout)
    problem = outcome[0] if outcome else f"no answer in {timeout:g} s"
    if not problem:
        return HubStatus(True)
    os.environ["HF_HUB_OFFLINE"] = "1"
    return HubStatus(False, f"{url}: {problem}")


class HubClient(Protocol):
    """What skyeval asks the Hub about models (a stub in tests)."""

    def revision(self, repo_id: str) -> str:
        """The commit the Hub serves for ``repo_id`` now; ``SkyevalError`` when there is no such model."""
        ...

    def cached_revision(self, repo_id: str) -> str | None:
        """The commit of ``repo_id``'s copy in the local cache (what loads offline), or None."""
        ...


class HuggingFaceHub:
    """``HubClient`` over ``huggingface_hub`` (imported on first use; the ``hf`` extra installs it)."""

    def __init__(self, timeout: float = 10.0) -> None:
        self.timeout = timeout

    def revision(self, repo_id: str) -> str:
        require("huggingface_hub", extra="hf", what=f"resolving the revision of {repo_id!r}")
        from huggingface_hub import HfApi
        from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

        # HfHubHTTPError's bases are the errors of the HTTP client huggingface_hub uses (requests or httpx)
        caught: tuple[type[BaseException], ...] = (HfHubHTTPError,) + tuple(
            b for b in HfHubHTTPError.__bases__ if issubclass(b, BaseException)
        )
        try:
            info = HfApi().model_info(repo_id, timeout=self.timeout)
        except RepositoryNotFoundError as err:
            raise SkyevalError(
                f"model {repo_id!r} is not a local path and not a model on the Hub (for a private one, set "
                "HF_TOKEN)"
            ) from err
        except caught as err:
            detail = " ".join(str(err).split())[:200] or type(err).__name__
            raise SkyevalError(f"cannot resolve the Hub revision of {repo_id!r}: {detail}") from err
        if not info.sha:
            raise SkyevalError(f"the Hub gave no revision for {repo_id!r}")
        return str(info.sha)

    def cached_revision(self, repo_id: str) -> str | None:
        require("huggingface_hub", extra="hf", what=f"reading the cached copy of {repo_id!r}")
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(repo_id, "config.json")
        if not isinstance(found, str):
            return None
        return Path(found).parent.name  # .../models--org--name/snapshots/<commit>/config.json
