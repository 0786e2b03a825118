"""Compare methods on the same env, budget, evaluation protocol and seeds, and report on it.

* ``plan``: what runs (``Comparison`` -> ``RunSpec`` per label and seed; presets, budgets).
* ``runner``: runs them in worker processes, resumably (``run_comparison``); where a worker
  runs is a ``Launcher``'s business: local processes, or Ray tasks (``ray_backend``).
* ``report``: ``report.md``, learning-curve PNGs and the best run's GIF, from the run
  directories alone (``build_report``).
* ``suite``: the paper's hybrid ablations and its tables (``--suite paper``).
* ``cli``: ``spawnzoo compare`` and ``spawnzoo report``.
"""
