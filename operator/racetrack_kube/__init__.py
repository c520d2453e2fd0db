"""Talking to the Kubernetes API: a small async JSON client and the paths of our objects.

Shared by every deployable that reads or writes objects (the operator today); it knows no
deployable and no kopf. Request bodies and answers are plain dicts; the models of
``racetrack_api`` turn them into typed objects where a caller wants that.
"""
