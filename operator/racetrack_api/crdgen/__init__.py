"""Generate the CRD YAML in ``crds/`` from the pydantic models in ``racetrack_api``.

Run ``python -m racetrack_api.crdgen --output crds/`` after changing a model, and
``--check crds/`` in CI (a unit test does the same). :mod:`.schema` turns pydantic's JSON Schema
into a Kubernetes structural schema; :mod:`.crd` wraps it into CustomResourceDefinitions.
"""
