"""Problem 3's section: five init x activation arms under plain SGD and Adam."""

from __future__ import annotations

from denselab.report import optim_text as text
from denselab.report.cells import (
    Cell,
    Study,
    code,
    code_that_ran,
    explain,
    failed_runs,
    figures,
    heading,
    md,
    opening,
    other_figures,
)

TITLE = "Problem 3 — Adult optimization: initialisation × activation × optimiser"

Q = {
    "3.1": "Use the same network architecture and train five different network instances in five different "
    "setups. The architecture has to be a fully connected network [...] with five hidden layers, 512 hidden "
    "units per layer.\n\n(a) sigmoid, N(0, 0.01); (b) sigmoid, Xavier; (c) ReLU, N(0, 0.01); (d) ReLU, "
    "Xavier; (e) ReLU, Kaiming He's initializer.",
    "3.4": "When you train them you have two optimizer options: the traditional SGD and Adam. Do not improve SGD "
    "by introducing momentum or any other advanced stuff. [...] In practice, you will need to investigate "
    "different learning rate as for SGD [...] Let's fix it to 1.0 for this homework. As for Adam, the "
    "default setup usually works just fine.",
    "3.6": "Don't worry if your graphs are slightly different from mine. We will give a full mark if your graphs "
    "show the same trend.",
}

CAPTIONS = {
    "optim_sgd": "Plain SGD: training loss and test accuracy per epoch, every arm (mean over seeds, min–max band)",
    "optim_adam": "Adam: training loss and test accuracy per epoch, every arm",
    "optim_probes_sgd": "Plain SGD: per-layer gradient norms and activation statistics at a few steps",
    "optim_probes_adam": "Adam: per-layer gradient norms and activation statistics at a few steps",
    "optim_first_steps": "Loss at each of the first steps (a cross marks the first non-finite loss)",
    "optim_lr_sweep": "Beyond the assignment: every arm under plain SGD at several learning rates",
    "optim_scaling": "Beyond the assignment: the SGD arms with standardised pixels and with pixels in [0, 1]",
}

RUNS_TABLE = """\
optim = load("optim")
table(["optimizer", "lr", "arm", "seeds", "verdict (the study's)", "final test accuracy", "diverged seeds",
       "expected"],
      [[a.get("optimizer"), num(a.get("lr")) if a.get("lr") else "default", a.get("label") or
        f'{a.get("activation")} + {a.get("init")}', len(a.get("seeds") or []), a.get("outcome"),
        pct((a.get("final_test_accuracy") or {}).get("mean")), a.get("diverged_seeds"), a.get("expected")]
       for a in optim.get("arms") or []])"""

SCALING_TABLE = """\
optim = load("optim")
pixels = {"standardise": "standardised", "unit": "[0, 1]"}
table(["arm (plain SGD)", "pixels", "seeds", "verdict (the study's)", "final test accuracy", "diverged seeds"],
      [[(a.get("label") or "").split(", ", 1)[-1], pixels.get(a.get("input_scaling"), a.get("input_scaling")),
        len(a.get("seeds") or []),
        a.get("outcome"), pct((a.get("final_test_accuracy") or {}).get("mean")), a.get("diverged_seeds")]
       for a in sorted(optim["scaling"]["arms"], key=lambda a: (a.get("activation"), a.get("init")))])"""


def cells(study: Study) -> list[Cell]:
    out = opening(study, TITLE, text.INIT_FORMULAS, text.method, text.DESCRIBED)
    if study.summary is None:
        return out
    s = study.summary
    out += [
        heading("3.1–3.3", "Five networks, one architecture", question=Q["3.1"]),
        *code_that_ran(study, "3.1"),
    ]
    out += [
        heading("3.4–3.5", "Plain SGD at learning rate 1.0, and Adam", question=Q["3.4"]),
        *code_that_ran(study, "3.4"),
        *figures(study, ["optim_sgd", "optim_adam"], CAPTIONS, "training-curve"),
        md("Every arm under every optimiser (the verdict is the one the study wrote into `summary.json`):"),
        code(RUNS_TABLE),
        *failed_runs(study),
        explain(text.outcomes, s, study.record, label="Which arm trains, and what theory predicts."),
    ]
    out += [
        heading("3.6", "The trend, and why", question=Q["3.6"]),
        *figures(
            study, ["optim_probes_sgd", "optim_probes_adam", "optim_first_steps"], CAPTIONS, "statistics"
        ),
        explain(text.why, s, study.dir, label="Why."),
    ]
    if (s.get("lr_sweep") or {}).get("arms"):
        out += [
            heading("", "Beyond the assignment: the same arms under SGD at other learning rates", level=3),
            *figures(study, ["optim_lr_sweep"], CAPTIONS),
            explain(text.sweep, s, label=""),
        ]
    if (s.get("scaling") or {}).get("arms"):
        out += [
            heading("", "Beyond the assignment: the SGD arms under both input scalings", level=3),
            *figures(study, ["optim_scaling"], CAPTIONS),
            code(SCALING_TABLE),
            explain(text.scaling, s, label=""),
        ]
    return out + other_figures(study, CAPTIONS)
