"""The python3 job runtime: serves a user's Python class with a ``perform`` method over HTTP.

This package is installed into every python3 job image, so it stays small on purpose: it
imports nothing from ``racetrack_operator`` and nothing heavy (no kopf, no kubernetes, no
pydantic). Its dependencies are Starlette and uvicorn (the HTTP stack), prometheus-client
(metrics) and swagger-ui-bundle (the offline interactive docs assets).

Module map, one concern each:

- ``cli``: the ``racetrack-job run`` command; loads the class (fails fast) and starts uvicorn.
- ``config``: ``RuntimeConfig`` from command-line flags and environment variables.
- ``loader``: imports the entrypoint file and discovers the job class.
- ``endpoints``: what can be called (``perform``, auxiliary methods) and argument checks.
- ``job``: the job's lifecycle (starting, ready, failed) and the background construction.
- ``concurrency``: the ``max_concurrency`` / queue limiter and the call timeout.
- ``handlers``: the HTTP handlers; ``app`` assembles them into one ASGI application.
- ``middleware``: request tracing id, ``/pub/job/<name>/<version>`` prefixes, access log.
- ``openapi`` and ``docs``: the OpenAPI document and the offline Swagger UI page.
- ``metrics``: Prometheus metrics, including user-defined gauges.
- ``serialize``: turning results into JSON.
- ``logs``: log format (plain or structured) with the tracing id on every line.
"""

__version__ = "1.0.0"
