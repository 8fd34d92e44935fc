"""The four studies. The one list of them is `denselab.registry`.

| command                  | package or module                  | assignment problem |
|--------------------------|------------------------------------|--------------------|
| `denselab mnist`         | `denselab.studies.mnist`           | 1: MNIST introspection |
| `denselab denoise train` | `denselab.studies.denoise`         | 2: speech denoising |
| `denselab optim`         | `denselab.studies.sweeps.optim`    | 3: init x activation x optimiser |
| `denselab dropout`       | `denselab.studies.sweeps.dropout`  | 4: dropout |

Studies 3 and 4 are sweeps of independent training runs; `sweeps/` holds them with what they share.
"""
