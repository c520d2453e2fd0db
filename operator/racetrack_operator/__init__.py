"""racetrack-operator: Racetrack jobs as Kubernetes custom resources.

The package lives in the plain folder ``operator/`` (which has no ``__init__.py``) so the
standard library's ``operator`` module is never shadowed.
"""
