"""Studies 3 (`optim`: initialisation x activation x optimiser) and 4 (`dropout`), and what they share: the
config base and data (`base`), the jobs they are lists of, trained in batched groups and resumed from their
run files (`jobs`), and where those jobs run (`executor`: this process or a Ray cluster)."""
