"""The one MLP builder: init statistics, dropout rates and placement, layer outputs."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from denselab.models import build_mlp, dropout_rates, layer_outputs
from denselab.models.mlp import count_parameters, init_variance, linear_layers

WIDTHS = [784, 1024, 1024, 512, 10]


@pytest.mark.parametrize("init", ["normal", "xavier", "he"])
def test_init_statistics(init: str) -> None:
    torch.manual_seed(0)
    model = build_mlp(WIDTHS, "relu", init)
    for lin in linear_layers(model):
        w = lin.weight.detach()
        fan_out, fan_in = w.shape
        target = init_variance(init, fan_in, fan_out)
        # mean ~0 (within 4 standard errors) and variance within 6 % of the target (>= 5k weights per layer)
        assert abs(float(w.mean())) < 4 * target**0.5 / w.numel() ** 0.5
        assert float(w.var()) == pytest.approx(target, rel=0.06)
        assert torch.count_nonzero(lin.bias) == 0


def test_normal_std_is_0_01_by_default() -> None:
    torch.manual_seed(0)
    w = linear_layers(build_mlp([784, 1024, 10], "sigmoid", "normal"))[0].weight.detach()
    assert float(w.std()) == pytest.approx(0.01, rel=0.02)


def test_known_variances() -> None:
    assert init_variance("xavier", 784, 512) == pytest.approx(2 / (784 + 512))
    assert init_variance("he", 512, 512) == pytest.approx(2 / 512)
    assert init_variance("normal", 1, 1) == pytest.approx(1e-4)


def test_dropout_on_each_layer_input() -> None:
    rates = dropout_rates(6, 0.2, 0.5)
    assert rates == [0.2, 0.5, 0.5, 0.5, 0.5, 0.5]
    model = build_mlp([784] + [1024] * 5 + [10], "relu", "he", dropout=rates)
    assert len(model) == 6
    for block, p in zip(model, rates):
        # Dropout comes first in each block: it acts on that layer's input
        assert isinstance(block[0], nn.Dropout) and block[0].p == p
        assert isinstance(block[1], nn.Linear)
    assert isinstance(model[0][2], nn.ReLU)
    assert len(model[-1]) == 2  # output block: dropout + linear, no activation (logits)


def test_no_dropout_modules_when_rate_zero() -> None:
    model = build_mlp([4, 8, 3], "sigmoid", "xavier")
    assert not any(isinstance(m, nn.Dropout) for m in model.modules())
    assert isinstance(model[0][1], nn.Sigmoid)


def test_dropout_active_only_in_train_mode() -> None:
    torch.manual_seed(0)
    model = build_mlp([100, 100, 2], "relu", "he", dropout=[0.5, 0.0])
    x = torch.ones(1, 100)
    model.eval()
    assert torch.equal(model(x), model(x))
    model.train()
    zeros = (model[0][0](torch.ones(10000)) == 0).float().mean()
    assert float(zeros) == pytest.approx(0.5, abs=0.03)


def test_layer_outputs_shapes_and_output_activation() -> None:
    model = build_mlp([20, 16, 8, 5], "relu", "he", output_activation="softplus")
    with torch.no_grad():
        outs = layer_outputs(model.eval(), torch.randn(7, 20))
    assert [tuple(o.shape) for o in outs] == [(7, 16), (7, 8), (7, 5)]
    assert all(float(o.min()) >= 0 for o in outs)  # relu hidden, softplus output
    assert count_parameters(model) == 20 * 16 + 16 + 16 * 8 + 8 + 8 * 5 + 5


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"widths": [10]}, "widths"),
        ({"widths": [10, 5], "activation": "gelu"}, "activation"),
        ({"widths": [10, 5], "init": "orthogonal"}, "init"),
        ({"widths": [10, 5, 2], "dropout": [0.1]}, "dropout"),
        ({"widths": [10, 5], "dropout": 1.0}, "dropout"),
    ],
)
def test_bad_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        build_mlp(**kwargs)


def test_arm_labels_use_one_notation():
    from denselab.models import arm_label

    assert arm_label("sigmoid", "normal") == "sigmoid + N(0, 0.01²)"
    assert arm_label("relu", "normal", init_std=0.1) == "ReLU + N(0, 0.1²)"
    assert (arm_label("relu", "he"), arm_label("sigmoid", "xavier")) == ("ReLU + He", "sigmoid + Xavier")
    assert arm_label("gelu", "orthogonal") == "gelu + orthogonal"  # unknown names shown as given


def test_one_label_table_names_every_choice():
    from denselab.models.mlp import (
        ACTIVATION_LABELS,
        ACTIVATIONS,
        INIT_LABELS,
        INITS,
        OPTIMIZER_LABELS,
        init_label,
        optimizer_label,
    )
    from denselab.training import OPTIMIZERS

    # every activation a hidden layer may use, every initialiser and every optimiser has a label
    assert set(ACTIVATION_LABELS) == set(ACTIVATIONS) - {"softplus", "identity"}
    assert set(INIT_LABELS) == set(INITS)
    assert set(OPTIMIZER_LABELS) == set(OPTIMIZERS)
    assert [optimizer_label(o) for o in ("sgd", "adam", "adamw", "lion")] == [
        "plain SGD",
        "Adam",
        "AdamW",
        "lion",
    ]
    assert init_label("normal", 0.05) == "N(0, 0.05²)" and init_label("he", 0.05) == "He"


def test_dropout_acts_on_the_layer_input_it_is_given_for() -> None:
    # hidden dropout only: the first layer's output is the same on every training pass, the output is not;
    # half the hidden units are zeroed before the last Linear, so its output moves by a measurable amount
    torch.manual_seed(0)
    model = build_mlp([50, 400, 3], "relu", "he", dropout=[0.0, 0.5]).train()
    x = torch.randn(8, 50)
    with torch.no_grad():
        (h1, y1), (h2, y2) = layer_outputs(model, x), layer_outputs(model, x)
        assert torch.equal(h1, h2) and not torch.equal(y1, y2)
        dropped = model[1][0](torch.ones(100000))
    assert float((dropped == 0).float().mean()) == pytest.approx(0.5, abs=0.01)
    assert float(dropped.max()) == pytest.approx(2.0)  # kept units scaled by 1 / (1 - p)
