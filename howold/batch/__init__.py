"""Batch jobs on Ray Data (the `[batch]` extra): `howold batch INPUT... --out results.parquet`.

Import `howold.batch.job` for the job itself (`run_batch`, `list_inputs`); this package and
`howold.batch.cli` import only the standard library, so `howold --help` stays fast.
"""
