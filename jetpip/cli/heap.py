"""The garbage collector's settings, for a process the ``jetpip`` script owns (``cli.run``).

A run allocates hundreds of thousands of short-lived objects (index pages, parsed as JSON) and
makes almost no reference cycles: refcounting frees nearly everything, and a collection is
mostly wasted work that stops every thread while it walks the objects it tracks.

- ``own`` makes collections rare. At the default thresholds (every 700 allocations) they took a
  tenth of the CPU of a cold lock.
- ``settle`` runs once jetpip's modules, the Target and the index client are loaded. It moves
  what exists then (modules, classes, the knowledge base: about 31,000 objects that live to the
  end anyway) out of the collector's sight for good.

Measured on the benchmark's cold install of 45 packages at 0 ms, on two cores:

- before: one collection, 32 to 46 ms;
- after ``settle`` alone: one collection, 20 to 24 ms;
- with the higher threshold as well (about 100,000 allocations follow ``settle``): none. The
  install took 1.252 s against 1.289 s (21 runs each). At 50 ms and warm, the change is within
  the noise.

A program that calls ``cli.main`` itself (tests, a host application) keeps its collector as it
was: its heap is not jetpip's to freeze.
"""

from __future__ import annotations

import gc

# Allocations between two collections of the youngest generation; then how many of those before
# the next older one is collected, and how many of those before the oldest.
THRESHOLDS = (200_000, 20, 20)

_owned = False


def own() -> None:
    """The process is jetpip's alone, until it exits: collect rarely."""
    global _owned
    _owned = True
    gc.set_threshold(*THRESHOLDS)


def settle() -> None:
    """Once jetpip is loaded: the objects that exist now are never walked again (owned process only)."""
    if _owned:
        gc.freeze()
