"""The four studies, one module each. Which command runs which study (and how) is `denselab.runner`'s
registry; this package only names them, in the order `denselab all` runs them and the report shows them.

| command                  | module                      | assignment problem |
|--------------------------|-----------------------------|--------------------|
| `denselab mnist`         | `denselab.studies.mnist`    | 1: MNIST introspection |
| `denselab denoise train` | `denselab.studies.denoise`  | 2: speech denoising |
| `denselab optim`         | `denselab.studies.optim`    | 3: init x activation x optimiser |
| `denselab dropout`       | `denselab.studies.dropout`  | 4: dropout |
"""

# study names = module names = the folders `denselab all` writes under OUT/
STUDIES: tuple[str, ...] = ("mnist", "denoise", "optim", "dropout")
