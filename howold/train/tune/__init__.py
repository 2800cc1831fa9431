"""Hyper-parameter search with Optuna: the search space (`space`), the study (`study`), its report
(`report`) and the `howold tune` command (`cli`)."""
