"""The original Racetrack's API for job code, so python3 jobs move in unchanged.

Job code imports these modules by the names it always used:

- ``racetrack_job_wrapper.call``: ``call_job``, ``call_job_coroutine`` (also
  ``call_job_async``) and ``async_job_call``, calls to other jobs through the gateway;
- ``racetrack_job_wrapper.endpoint_config``: ``EndpointConfig`` for
  ``auxiliary_endpoints_v2``, and the ``Body``/``Query``/``Path``/``Header`` markers;
- ``racetrack_job_wrapper.entrypoint``: ``JobEntrypoint``, the optional base class.

It is shipped with the job runtime (``racetrack_job_runtime``) in every python3 job image
but imports nothing of it, nor anything else of ours, and needs only the standard library:
the runtime hands job code what these functions read (``request_context``, the
environment) by plain attributes and variables.
"""
