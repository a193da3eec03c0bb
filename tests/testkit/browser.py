"""Open a report in headless Chromium and read back the page's own ``#selftest`` result.

Used by the test suite and ``benchmarks/bench_report.py``; needs a ``chromium`` binary (Debian's package).
Console messages are read from Chromium's log on stderr (``--enable-logging=stderr``).
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from skyeval.errors import SkyevalError

CHROMIUM = Path("/usr/bin/chromium")
_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--hide-scrollbars",
)
_SELFTEST = re.compile(r'<pre id="selftest-result">(.*?)</pre>', re.S)


@dataclass(frozen=True)
class BrowserCheck:
    """The page's self-check result, the console lines Chromium logged, and the wall time of the load."""

    result: dict[str, Any]
    console: tuple[str, ...] = field(default_factory=tuple)
    wall_s: float = 0.0


def selftest(
    page: Path,
    *,
    screenshot: Path | None = None,
    window: tuple[int, int] = (1280, 1600),
    problem: str | None = None,
    timeout: float = 120.0,
    virtual_time_ms: int = 5000,
    chromium: Path = CHROMIUM,
) -> BrowserCheck:
    """Load ``page#selftest`` with ``--dump-dom`` and parse ``<pre id="selftest-result">``; optionally screenshot.

    ``problem`` names the problem id the check expands (default: the first one). Both loads use a ``window`` of
    (width, height) px, so the self-check measures the page's width at that size (``scroll_width`` vs
    ``client_width``). ``virtual_time_ms`` lets the page's timers and async work settle before the DOM is dumped.
    """
    if not chromium.exists():
        raise SkyevalError(f"{chromium} not found: install Debian's chromium package")
    url = page.resolve().as_uri() + "#selftest" + ("" if problem is None else "&problem=" + quote(problem))
    budget = f"--virtual-time-budget={virtual_time_ms}"
    size = f"--window-size={window[0]},{window[1]}"
    start = time.perf_counter()
    proc = subprocess.run(
        [str(chromium), *_FLAGS, "--enable-logging=stderr", "--v=0", size, budget, "--dump-dom", url],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    wall = time.perf_counter() - start
    console = tuple(line for line in proc.stderr.splitlines() if ":CONSOLE" in line)
    match = _SELFTEST.search(proc.stdout)
    if match is None:
        raise SkyevalError(
            f"no self-test result in the page (chromium exit {proc.returncode}): {proc.stderr[-500:]}"
        )
    import html

    result = json.loads(html.unescape(match.group(1)))
    if screenshot is not None:
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                str(chromium),
                *_FLAGS,
                size,
                budget,
                f"--screenshot={screenshot}",
                url,
            ],
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    return BrowserCheck(result, console, wall)
