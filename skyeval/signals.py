"""SIGTERM and SIGHUP stop a command the way Ctrl-C does, so work in progress winds down the same way.

``timeout``, Slurm and Kubernetes stop jobs with SIGTERM, and a closed terminal sends SIGHUP; by default either
kills Python on the spot. Inside ``interrupt_on_signals()`` they raise ``SignalInterrupt`` (a
``KeyboardInterrupt``) in the main thread instead: ``skyeval run`` then keeps what was graded, writes a partial
summary and prints the resume line. Handlers are installed only from the main thread (Python allows no other),
never over a signal that was set to be ignored (``nohup``), and restored on exit.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

HANDLED = (signal.SIGTERM, signal.SIGHUP)


class SignalInterrupt(KeyboardInterrupt):
    """SIGTERM or SIGHUP received: unwinds like Ctrl-C; ``signame`` says which."""

    def __init__(self, signum: int) -> None:
        self.signame = signal.Signals(signum).name
        super().__init__(self.signame)


def _raise(signum: int, frame: FrameType | None) -> None:
    raise SignalInterrupt(signum)


@contextmanager
def interrupt_on_signals(signals: tuple[signal.Signals, ...] = HANDLED) -> Iterator[None]:
    """While the block runs in the main thread, ``signals`` raise ``SignalInterrupt``; elsewhere a no-op."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    # an ignored signal stays ignored; one handled outside Python (getsignal() is None) is left alone
    previous = {s: h for s in signals if (h := signal.getsignal(s)) not in (signal.SIG_IGN, None)}
    for sig in previous:
        signal.signal(sig, _raise)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
