"""Pure functions from models to desired objects and status: no I/O, unit-tested.

The reconciler (``racetrack_operator.reconcile``) feeds them what it read from the API server
and writes what they return; keeping them pure is what makes "restart and converge to the same
objects" easy to reason about: the same inputs always render the same objects (and hashes).
"""
