"""Problem 1's section: 1.1-1.8, numbered and quoted like the assignment."""

from __future__ import annotations

from denselab.report import mnist_text as text
from denselab.report.cells import (
    Cell,
    Study,
    code,
    code_that_ran,
    explain,
    figure_map,
    figures,
    gallery,
    heading,
    md,
    opening,
    other_figures,
)

TITLE = "Problem 1 — A detailed view to MNIST classification"

Q = {
    "1.1": "Train a fully-connected net for MNIST classification (sorry, no CNN please, yet). It should be with 5 "
    "hidden layers each of which is with 1024 hidden units. Feel free to use whatever techniques you "
    "learned in class. You should be able to get the test accuracy above 98%.",
    "1.2": "MNIST dataset can be loaded by using an API [...] (don't worry about the batch size and "
    "normalization—you can go for your own option for them)",
    "1.3": "Once you're done with training, as a starter, do a feedforward step on your test samples, a thousand "
    "of them. Capture the output of the softmax layer [...] For each 10-d output vector, find the dim with "
    "the maximum probability [...] Plot the input image associated with that in a grid of subplots.",
    "1.4": "Repeat the procedure in Problem 1.3 for your second to the last layer output. [...] Choose 10 random "
    "dimensions of interest [...] Explain your observation compared with the results from 1.3. What can "
    "you see? What would have been the ideal situation for this second-to-the-last layer?",
    "1.5": "t-Stochastic Neighbor Embedding (tSNE) or Principal Component Analysis (PCA) are useful tools to "
    "reduce the dimension of your data and visualize.",
    "1.6": "First, take a thousand test samples from your MNIST dataset. Apply tSNE and PCA on the flattend "
    "784-dim pixels. [...] Scatter plot the data samples. [...] Do you think this raw image samples are "
    "easy to classify?",
    "1.7": "Do a feedforward using your classifier. Capture the output of your first hidden layer [...] Scatter "
    "plot and check out if this layer gives you a better representation in terms of classification.",
    "1.8": "Repeat this procedure for all your layers including the last one. Explain your observation.",
}

CAPTIONS = {
    "curves": "Training curves: loss and accuracy per epoch",
    "output_grid": "1.3 — each output unit's most confident images (p = softmax probability, y = true class)",
    "penultimate_grid": "1.4 — ten random units of the last hidden layer, as if they were the output",
    "overview": "t-SNE (top) and PCA (bottom) of every representation, side by side",
    "separability": "k-NN accuracy in the 2-D maps against depth",
}
for _m, _label in (("tsne", "t-SNE"), ("pca", "PCA")):
    for _n, _what in (
        ("raw", "the raw pixels"),
        ("output", "the output logits"),
        ("softmax", "the softmax output"),
        *((f"hidden{i}", f"hidden layer {i}") for i in range(1, 10)),
    ):
        CAPTIONS[f"{_m}_{_n}"] = f"{_label} of {_what}"


def _layer_names(study: Study) -> list[str]:
    listed = [str(l.get("name")) for l in (study.summary or {}).get("layers") or [] if isinstance(l, dict)]
    return listed or ["raw"] + [f"hidden{i}" for i in range(1, 6)] + ["output"]


def _grid_table(key: str, unit_label: str) -> Cell:
    return code(f"""\
mnist = load("mnist")
grid = mnist[{key!r}]
rows = grid.get("rows") or [{{"count": c}} for c in grid.get("counts") or []]
units = grid.get("units") or list(range(len(rows)))
table([{unit_label!r}, "images it wins", "most common class", "share of that class", "share among the ten shown"],
      [[u, r.get("count"), num(r.get("majority_class")), pct(r.get("purity")), pct(r.get("shown_purity"))]
       for u, r in zip(units, rows)])
if grid.get("unassigned"):
    print(f"{{grid['unassigned']}} images have all {{len(units)}} units silent and go to no row.")""")


def cells(study: Study) -> list[Cell]:
    out = opening(study, TITLE, "", text.method, text.DESCRIBED)
    if study.summary is None:
        return out
    s = study.summary
    names = _layer_names(study)

    out += [
        heading("1.1", "The classifier", question=Q["1.1"]),
        *code_that_ran(study, "1.1"),
        *figures(study, ["curves"], CAPTIONS, "training-curve"),
        code("""\
mnist = load("mnist")
table(["measure", "value"], [
    ["test accuracy", pct(mnist.get("test_accuracy"))],
    ["test images", num(mnist.get("test_images"))],
    ["training images", num(mnist.get("train_images"))],
    ["epochs", num(mnist.get("epochs"))],
    ["training time", num(mnist.get("train_seconds"), " s")],
])"""),
        explain(text.classifier, s, study.record, label="Answer."),
    ]

    out += [
        heading("1.2", "Loading MNIST", question=Q["1.2"]),
        md(
            "We read the four standard IDX files directly (no TensorFlow or torchvision needed); the "
            "normalisation is the training set's own, as the assignment allows."
        ),
        *code_that_ran(study, "1.2"),
    ]

    out += [
        heading("1.3", "The softmax layer's most confident images", question=Q["1.3"]),
        *code_that_ran(study, "1.3"),
        *figures(study, ["output_grid"], CAPTIONS, "output-grid"),
        *([_grid_table("output_grid", "output unit")] if isinstance(s.get("output_grid"), dict) else []),
        explain(text.output_grid, s),
    ]

    out += [
        heading("1.4", "The second-to-last layer as if it were the output", question=Q["1.4"]),
        *figures(study, ["penultimate_grid"], CAPTIONS, "penultimate-grid"),
        *(
            [_grid_table("penultimate_grid", "unit of the last hidden layer")]
            if isinstance(s.get("penultimate_grid"), dict)
            else []
        ),
        explain(text.penultimate, s, label="Answer."),
    ]

    out += [heading("1.5", "t-SNE and PCA", question=Q["1.5"]), *code_that_ran(study, "1.5")]

    out += [
        heading("1.6", "The raw pixels", question=Q["1.6"]),
        *gallery(study, ["tsne_raw", "pca_raw"], CAPTIONS),
        explain(text.raw, s, label="Answer."),
    ]

    out += [
        heading("1.7", "The first hidden layer", question=Q["1.7"]),
        *gallery(study, ["tsne_hidden1", "pca_hidden1"], CAPTIONS),
        explain(text.hidden1, s, label="Answer."),
    ]

    last = [n for n in names if n not in ("raw", "hidden1")]
    out += [
        heading("1.8", "Every layer, the last one included", question=Q["1.8"]),
        *figures(study, ["overview", "separability"], CAPTIONS),
        md("Each remaining layer's t-SNE map, then its PCA plane:"),
        *gallery(study, [f"tsne_{n}" for n in last + ["softmax"]], CAPTIONS),
        *gallery(study, [f"pca_{n}" for n in last + ["softmax"]], CAPTIONS),
    ]
    if "softmax" not in names and not any(k.endswith("_softmax") for k in figure_map(study)):
        out.append(
            md(
                "*The last layer is shown as its logits `output` (the softmax's input); this run's summary "
                "lists no map of the softmax probabilities themselves.*"
            )
        )
    out += [
        code("""\
mnist = load("mnist")
table(["representation", "dimensions", "k-NN accuracy, t-SNE map", "k-NN accuracy, PCA plane"],
      [[layer.get("name"), num(layer.get("dims")), pct(layer.get("knn_accuracy_2d_tsne")),
        pct(layer.get("knn_accuracy_2d_pca"))] for layer in mnist.get("layers") or []])"""),
        explain(text.all_layers, s, label="Answer."),
    ]
    return out + other_figures(study, CAPTIONS)
