import os

# Figures render headless in tests, doctests and CI.
os.environ.setdefault("MPLBACKEND", "Agg")

# `python -m mbl_seg` runs the CLI on import: not a module to doctest.
collect_ignore = ["mbl_seg/__main__.py"]
