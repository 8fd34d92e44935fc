"""One fully connected network builder: widths, activation, initialisation, dropout.

The network is an `nn.Sequential` of blocks, one per weight layer. Block i is
`[Dropout(p_i)] -> Linear(widths[i], widths[i+1]) -> activation`, so dropout acts on each layer's *input*
(the assignment's placement: 0.2 on the pixels, 0.5 on every hidden representation). The last block ends in
`output_activation` (none for classifiers: logits; softplus/relu/sigmoid for the denoiser).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "sigmoid": nn.Sigmoid,
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "softplus": nn.Softplus,
    "identity": nn.Identity,
}


def _normal(weight: torch.Tensor, std: float) -> None:
    nn.init.normal_(weight, mean=0.0, std=std)


def _xavier(weight: torch.Tensor, std: float) -> None:
    # Glorot & Bengio (2010), normal form: Var(W) = 2 / (fan_in + fan_out).
    nn.init.xavier_normal_(weight)


def _he(weight: torch.Tensor, std: float) -> None:
    # He et al. (2015), normal form for ReLU: Var(W) = 2 / fan_in. nn.Linear stores W as (fan_out, fan_in).
    nn.init.kaiming_normal_(weight, mode="fan_in", nonlinearity="relu")


# name -> in-place initialiser of one Linear weight; `std` is only used by "normal".
INITS: dict[str, Callable[[torch.Tensor, float], None]] = {"normal": _normal, "xavier": _xavier, "he": _he}


# How figures, summaries and the report name an activation, an initialisation and an optimiser: the one table
# (unknown names are shown as given). `normal` is N(mean, variance): the assignment's sigma = 0.01 reads
# N(0, 0.01²); its label is a template filled with the run's standard deviation.
ACTIVATION_LABELS = {"sigmoid": "sigmoid", "relu": "ReLU", "tanh": "tanh"}
INIT_LABELS = {"normal": "N(0, {std:g}²)", "xavier": "Xavier", "he": "He"}
OPTIMIZER_LABELS = {"sgd": "plain SGD", "adam": "Adam", "adamw": "AdamW"}


def activation_label(activation: str) -> str:
    """`ReLU`, `sigmoid`, ..."""
    return ACTIVATION_LABELS.get(activation, activation)


def init_label(init: str, init_std: float = 0.01) -> str:
    """`N(0, 0.01²)` (with the run's standard deviation), `Xavier`, `He`."""
    return INIT_LABELS.get(init, init).format(std=init_std)


def optimizer_label(optimizer: str) -> str:
    """`plain SGD`, `Adam`, `AdamW`."""
    return OPTIMIZER_LABELS.get(optimizer, optimizer)


def arm_label(activation: str, init: str, init_std: float = 0.01) -> str:
    """`sigmoid + N(0, 0.01²)`, `ReLU + He`, ..."""
    return f"{activation_label(activation)} + {init_label(init, init_std)}"


def init_variance(init: str, fan_in: int, fan_out: int, std: float = 0.01) -> float:
    """The weight variance each initialiser targets (used by the tests and the report)."""
    return {"normal": std**2, "xavier": 2.0 / (fan_in + fan_out), "he": 2.0 / fan_in}[init]


class Dropout(nn.Dropout):
    """`nn.Dropout` with a cheaper random mask; same modes, placement and (to 1/65536) the same rate.

    `F.dropout` draws one `bernoulli_` number per element, serially on CPU: after the matrix products it was
    one of the largest costs of a 5x1024 training step there (torch.profiler, batch 512). Here each element
    takes 16 bits of a 64-bit random word: 4x fewer generator calls, the rest is parallel elementwise work.
    Drops an element with probability round(p * 65536) / 65536 and scales the kept ones so the expected
    output equals the input."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0 or self.p >= 1.0 or self.inplace:
            return super().forward(x)
        n = x.numel()
        words = torch.empty((n + 3) // 4, dtype=torch.int64, device=x.device).random_(-(2**63), None)
        bits = words.view(torch.int16)[:n].view(x.shape)  # uniform on [-32768, 32767]
        dropped = min(round(self.p * 65536), 65535)
        keep = torch.ge(bits, dropped - 32768, out=torch.empty_like(x))  # 1.0 kept, 0.0 dropped
        return x * keep.mul_(65536 / (65536 - dropped))


def dropout_rates(n_layers: int, input_rate: float, hidden_rate: float) -> list[float]:
    """Per-layer input dropout: `input_rate` before the first layer, `hidden_rate` before every later one."""
    return [input_rate] + [hidden_rate] * (n_layers - 1)


def build_mlp(
    widths: Sequence[int],
    activation: str = "relu",
    init: str = "he",
    dropout: float | Sequence[float] = 0.0,
    output_activation: str | None = None,
    init_std: float = 0.01,
) -> nn.Sequential:
    """A fully connected net `widths[0] -> ... -> widths[-1]` with zero biases.

    `dropout` is one rate for every layer input or a rate per weight layer (`len(widths) - 1` values)."""
    if len(widths) < 2 or any(int(w) < 1 for w in widths):
        raise ValueError(f"widths must list at least 2 positive sizes, got {list(widths)}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r} (choose from {', '.join(ACTIVATIONS)})")
    if init not in INITS:
        raise ValueError(f"unknown init {init!r} (choose from {', '.join(INITS)})")
    if output_activation is not None and output_activation not in ACTIVATIONS:
        raise ValueError(f"unknown output activation {output_activation!r}")
    n_layers = len(widths) - 1
    rates = [float(dropout)] * n_layers if isinstance(dropout, (int, float)) else [float(p) for p in dropout]
    if len(rates) != n_layers or not all(0.0 <= p < 1.0 for p in rates):
        raise ValueError(f"dropout needs {n_layers} rates in [0, 1), got {rates}")

    blocks = []
    for i, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:])):
        layers: list[nn.Module] = []
        if rates[i] > 0:
            layers.append(Dropout(rates[i]))
        linear = nn.Linear(int(fan_in), int(fan_out))
        INITS[init](linear.weight, init_std)
        nn.init.zeros_(linear.bias)
        layers.append(linear)
        last = i == n_layers - 1
        act = output_activation if last else activation
        if act is not None and act != "identity":
            layers.append(ACTIVATIONS[act]())
        blocks.append(nn.Sequential(*layers))
    return nn.Sequential(*blocks)


def layer_outputs(model: nn.Sequential, x: torch.Tensor) -> list[torch.Tensor]:
    """Every block's output for input `x` (N, widths[0]): the hidden layers after their activation, then
    the output layer (logits for a classifier). Runs the model as it is (call `model.eval()` first)."""
    outs = []
    for block in model:
        x = block(x)
        outs.append(x)
    return outs


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def linear_layers(model: nn.Sequential) -> list[nn.Linear]:
    """The Linear modules in order (one per block)."""
    return [m for m in model.modules() if isinstance(m, nn.Linear)]
