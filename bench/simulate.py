"""Replay a department's day under four policies and compare: python -m bench.simulate.

The figures of `radflow simulate` (`application/planning/day.py`), run as a benchmark: PNG plots
in --out, a table, and as the LAST line the JSON
{"policies": {"fifo": {...}, "cherry_pick": {...}, "least_loaded": {...}, "radflow": {...}}}.
"""

from __future__ import annotations

from application.planning.day import main

if __name__ == "__main__":
    main()
