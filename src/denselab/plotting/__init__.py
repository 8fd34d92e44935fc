"""Figures drawn from saved results (arrays and JSON); plotting never trains."""
import matplotlib; matplotlib.use("Agg")
