"""denselab: four studies of fully connected networks, ending in one report."""

__version__ = "0.1.0"
