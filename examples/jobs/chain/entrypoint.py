"""Rounds what the adder job answers: a job calling another job through the gateway.

``call_job`` sends ``POST $PUB_URL/job/adder/latest/api/v1/perform`` with the job family's
token and passes on the tracing id and caller name of the request being served, so one
id follows the call from job to job in the logs.
"""

from __future__ import annotations

from typing import Any

from racetrack_job_wrapper.call import async_job_call, call_job, call_job_coroutine

ADDER = "adder"


class RoundedSum:
    def perform(self, a: float, b: float) -> int:
        """Add two numbers with the adder job, then round the sum."""
        return round(call_job(self, ADDER, "/api/v1/perform", {"a": a, "b": b}))

    async def sum_from_async_code(self, a: float, b: float) -> int:
        """The same call made from a coroutine."""
        total = await call_job_coroutine(self, ADDER, payload={"a": a, "b": b})
        return round(total)

    def sum_in_background(self, a: float, b: float) -> int:
        """The same call through the gateway's asynchronous calls (start, then poll)."""
        return round(async_job_call(self, ADDER, payload={"a": a, "b": b}))

    def auxiliary_endpoints(self) -> dict[str, Any]:
        return {
            "/from-async-code": self.sum_from_async_code,
            "/in-background": self.sum_in_background,
        }

    def docs_input_examples(self) -> dict[str, dict[str, float]]:
        example = {"a": 0.2, "b": 0.9}
        return {"/perform": example, "/from-async-code": example, "/in-background": example}
