"""The four studies, one module each. The one list of studies is `denselab.registry`.

| command                  | module                      | assignment problem |
|--------------------------|-----------------------------|--------------------|
| `denselab mnist`         | `denselab.studies.mnist`    | 1: MNIST introspection |
| `denselab denoise train` | `denselab.studies.denoise`  | 2: speech denoising |
| `denselab optim`         | `denselab.studies.optim`    | 3: init x activation x optimiser |
| `denselab dropout`       | `denselab.studies.dropout`  | 4: dropout |
"""
