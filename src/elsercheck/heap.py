"""The garbage collector around a process's bulk work and its end.

CPython's cyclic collector walks every tracked object now and then, and once more when the
interpreter exits. Two moments of elsercheck's processes make that walk pure cost:

- building a heap that lives until the process ends (the contract suite's collection, where
  schemathesis generates every operation's cases: 7 full collections, 0.4 s of a gate's child;
  the collection of elsercheck's own test suite);
- the end of a process whose work is written (a locust process, the console script, a contract
  session: 0.3-0.8 s each, every time one ends).

``gc.freeze`` moves what exists to a generation the collector never walks; nothing frozen is
collected again, so neither helper belongs in a process that goes on working afterwards with
garbage to reclaim (a test run calling ``cli.main`` in-process).
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def built_without_collection() -> Iterator[None]:
    """Within the block no cyclic collection runs; after it, one collection frees the block's
    garbage and what survives (the built heap) is frozen, so later collections skip it."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.collect()
        gc.freeze()
        if enabled:
            gc.enable()


def exit_without_collection() -> None:
    """At a process's end, once its work is written: freeze the heap so the interpreter's exit
    does not walk it to collect garbage nobody will read. Never call it in a process that goes
    on working: nothing frozen is collected again."""
    gc.freeze()
