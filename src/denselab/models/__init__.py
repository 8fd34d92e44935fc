"""The one MLP builder every study uses."""

from denselab.models.mlp import ACTIVATIONS, INITS, build_mlp, dropout_rates, layer_outputs

__all__ = ["ACTIVATIONS", "INITS", "build_mlp", "dropout_rates", "layer_outputs"]
