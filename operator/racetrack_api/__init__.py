"""The ``racetrack.io`` API: pydantic models that are the single source of the CRDs.

Shared machinery (the model base class, CRD metadata declared next to each model, CEL
rules that are enforced both by the API server and by pydantic) lives in
:mod:`racetrack_api.meta`; one subpackage per API version holds the kinds.
"""
