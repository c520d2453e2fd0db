"""Effectful reconciliation: read the world, call the pure renderers, write the difference.

Handlers (``racetrack_operator.handlers``) are a few lines that call into here; everything
decided here is decided by a pure function in ``racetrack_operator.render``.
"""
