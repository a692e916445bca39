"""Settings for every pytest run, notebooks included (nbval's kernels inherit this environment)."""

import os

# Figures are drawn but never shown while testing: no display needed, no image encoding.
os.environ.setdefault("MPLBACKEND", "Agg")
