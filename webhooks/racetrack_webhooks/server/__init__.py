"""The TLS server the API server calls: a small Starlette app on uvicorn.

Why not kopf's admission support: kopf serves webhooks from inside an operator (its handler
registry, its own aiohttp server, and it manages the webhook configurations itself), while
these webhooks are their own deployable with two replicas and configurations shipped in
``manifests/``. A plain ASGI app on uvicorn, which the project already ships for the job
runtime, gives what this needs and no more: direct control of the TLS context (so a renewed
certificate is loaded into it without a restart), a per-request cost of a few hundred
microseconds, and nothing between the AdmissionReview and the rules.
"""
