"""The howold REST API (the [api] extra): `howold serve`, or `howold.api.app.create_app()`.

Nothing heavy is imported here, so `howold --help` can load `howold.api.cli` cheaply.
"""
