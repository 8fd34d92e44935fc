"""Figures drawn from saved results (arrays and JSON); plotting never trains and imports no study.

The non-interactive Agg backend is chosen here, once, before any submodule imports pyplot: figures are
written to files, also on machines without a display.
"""

import matplotlib

matplotlib.use("Agg")
