"""Ctrl-C in the ``bubbleup`` command: exit 130 quietly, no traceback, whenever it lands.

Importing bubbleup's dependencies (polars, pyarrow, scipy) takes a good part of a second;
a ``KeyboardInterrupt`` raised in that time would escape before the CLI's own handling
(Typer turns it into exit code 130) exists. When, and only when, this process is the
``bubbleup`` command, :func:`guard_startup` makes SIGINT end the process at once with code
130 until :func:`end_startup`, called when the command starts to run (Typer's handling is
in place by then: building the commands from their signatures and parsing the arguments
are covered too). Nothing can be half-written then: outputs are written after the
analysis. After that, :func:`quiet_interrupts` turns what else a Ctrl-C can become into
exit 130: a ``KeyboardInterrupt`` that escapes Typer, the panic polars raises when the
interrupt lands in Python code it called back, and one that lands in a finalizer, where
Python can only drop it (:func:`quiet_unraisable_interrupt`). Imported as a library,
bubbleup leaves signals alone.
"""

from __future__ import annotations

# Only modules the interpreter has loaded before any user code: the point is to be early.
import _thread
import itertools
import os
import signal
import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # for the annotations only
    from collections.abc import Callable
    from types import FrameType

#: Exit code of a process ended by Ctrl-C (128 + SIGINT), as shells report it.
INTERRUPTED = 130


def is_cli() -> bool:
    """Whether this process runs the ``bubbleup`` command (console script or ``-m``)."""
    argv = getattr(sys, "orig_argv", sys.argv)
    as_module = any(a == "-m" and b == "bubbleup" for a, b in itertools.pairwise(argv))
    return as_module or os.path.basename(sys.argv[0]) == "bubbleup"


def _quit(_signum: int, _frame: object) -> None:
    os._exit(INTERRUPTED)


def guard_startup() -> None:
    """Exit 130 on SIGINT while the CLI is importing, if this process is the CLI."""
    in_main_thread = signal.getsignal(signal.SIGINT) is signal.default_int_handler
    if in_main_thread and is_cli():
        signal.signal(signal.SIGINT, _quit)


#: The ``KeyboardInterrupt`` the CLI's SIGINT handler raised last.
_last: KeyboardInterrupt | None = None


def _interrupted(_signum: int, _frame: FrameType | None) -> None:
    """The CLI's SIGINT handler once it has started: Python's own, which remembers what it
    raised (see :func:`quiet_unraisable_interrupt`)."""
    global _last
    _last = KeyboardInterrupt()
    raise _last


def end_startup() -> None:
    """Give SIGINT back to Python (``KeyboardInterrupt``) if :func:`guard_startup` took it:
    called as the command starts to run, inside Typer's handling."""
    if signal.getsignal(signal.SIGINT) is _quit:
        signal.signal(signal.SIGINT, _interrupted)


def give_sigint_to_the_event_loop() -> None:
    """Put Python's own SIGINT handler back before an event loop starts: asyncio and anyio
    install their Ctrl-C handling (cancel the running task, then raise) only over it."""
    if signal.getsignal(signal.SIGINT) is _interrupted:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def is_interrupt(exc: BaseException) -> bool:
    """Whether ``exc`` is a Ctrl-C: a ``KeyboardInterrupt``, or the panic that polars (pyo3)
    raises in its place when the interrupt lands in Python code that Rust called.

    Examples
    --------
    >>> is_interrupt(KeyboardInterrupt()), is_interrupt(ValueError("KeyboardInterrupt"))
    (True, False)
    """
    if isinstance(exc, KeyboardInterrupt):
        return True
    kind = type(exc)
    return (
        kind.__module__ == "pyo3_runtime"
        and kind.__name__ == "PanicException"
        and "KeyboardInterrupt" in str(exc)
    )


def quiet_interrupts(run: Callable[[], object]) -> None:
    """Run the command ``run`` (Typer's app): a Ctrl-C ends it with code 130 and prints
    nothing, wherever it lands (see the module's notes)."""
    sys.unraisablehook = quiet_unraisable_interrupt
    try:
        run()
    except BaseException as exc:
        if is_interrupt(exc):
            sys.exit(INTERRUPTED)
        raise


def quiet_unraisable_interrupt(unraisable: sys.UnraisableHookArgs) -> None:
    """The CLI's ``sys.unraisablehook``. A ``KeyboardInterrupt`` raised where Python cannot
    pass it on (a finalizer: a generator that holds an open file, closed as the command
    unwinds; a callback of the import system) is not printed. When it is the one the Ctrl-C
    raised, the command never saw that Ctrl-C: SIGINT is sent again to the main thread, a
    moment later (not inside this hook, where it would be lost again), so that the command
    stops with 130 rather than go on to the end. Anything else goes to Python's own hook
    ("Exception ignored in: ...")."""
    if isinstance(unraisable.exc_value, KeyboardInterrupt):
        if unraisable.exc_value is _last:
            _thread.start_new_thread(_interrupt_soon, ())
        return
    sys.__unraisablehook__(unraisable)


def _interrupt_soon() -> None:
    import threading  # loaded long before any finalizer can run into a Ctrl-C

    time.sleep(0.01)  # the main thread is out of the finalizer by then
    main = threading.main_thread().ident
    if main is not None:  # a real signal: it also cuts short a blocking call (a sleep, a read)
        signal.pthread_kill(main, signal.SIGINT)


guard_startup()
