"""The one MLP builder every study uses, and the one table of activation/initialisation labels."""

from denselab.models.mlp import ACTIVATIONS, INITS, arm_label, build_mlp, dropout_rates, layer_outputs

__all__ = ["ACTIVATIONS", "INITS", "arm_label", "build_mlp", "dropout_rates", "layer_outputs"]
