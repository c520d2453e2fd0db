"""racetrack-webhooks: the admission webhooks of racetrack.io, and the audit log they feed.

The API server calls them over TLS before it stores a change, which is the only moment that
knows who is making it (``request.userInfo``) and can still refuse it. They refuse Job changes
while a ``Maintenance`` is active, govern deploys by racetrack ``User``s through their
``Permission``s, enforce the rules a schema cannot express (one Job per family and version,
deleted versions, self-registration), stamp the actor on every audited change, and transcribe
those stamps into immutable ``AuditEvent``s once the change is seen (see ``audit``).

Layers (import-linter keeps them): ``rules`` (pure ``validate_<kind>`` functions and the
world they read) < ``audit`` (pure: what a change is, its stamp, its event) < ``admission``
(pure: AdmissionReview in, AdmissionReview out) < ``feed`` (watches that keep the world) <
``server`` (the TLS server) and ``auditor`` (the event writer) < ``__main__``.
"""
