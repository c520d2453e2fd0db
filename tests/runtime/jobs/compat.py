"""A test job using the original wrapper's API: the request context, chain calls, and
``auxiliary_endpoints_v2`` in the shapes FastAPI users wrote them."""

from __future__ import annotations

from http import HTTPMethod
from typing import Annotated, Any

from racetrack_job_wrapper.call import call_job
from racetrack_job_wrapper.endpoint_config import Body, EndpointConfig, Header, Path, Query
from racetrack_job_wrapper.entrypoint import JobEntrypoint


class Compat(JobEntrypoint):
    def perform(self, note: str = "") -> dict[str, Any]:
        request = self.request_context.get()  # type: ignore[attr-defined]
        extra = self.request_extra.get()  # type: ignore[attr-defined]
        seen_before = dict(extra)
        extra["note"] = note
        return {
            "path": request.url.path,
            "caller": request.headers.get("x-caller-name"),
            "tracing_id": request.headers.get("x-request-tracing-id"),
            "extra_before": seen_before,
            "extra_after": dict(self.request_extra.get()),  # type: ignore[attr-defined]
        }

    def call(self, job: str, path: str = "/api/v1/perform", version: str = "latest") -> Any:
        return call_job(self, job, path, {"note": "chained"}, version=version)

    def auxiliary_endpoints(self) -> dict[str, Any]:
        return {"/call": self.call}

    def old_style(
        self,
        limit: int = Query(5),  # type: ignore[assignment]  # FastAPI's older form
        verbose: bool = Query(False),  # type: ignore[assignment]
    ) -> dict[str, Any]:
        return {"limit": limit, "verbose": verbose}

    def tagged(self, tags: Annotated[list[str], Query(alias="tag")] = []) -> list[str]:  # noqa: B006
        return tags

    def embedded(self, item: Annotated[dict[str, Any], Body(embed=True)]) -> dict[str, Any]:
        return item

    def two_bodies(self, first: list[int], second: list[int]) -> int:
        return sum(first) + sum(second)

    def files(self, rest: str, user_agent: Annotated[str | None, Header()] = None) -> Any:
        return {"rest": rest, "agent": user_agent}

    def item(self, item_id: Annotated[int, Path()], scale: float = 1.0) -> float:
        return item_id * scale

    def remove(self, item_id: int) -> str:
        return f"removed {item_id}"

    def auxiliary_endpoints_v2(self) -> list[EndpointConfig]:
        return [
            EndpointConfig("/old-style", HTTPMethod.GET, self.old_style),
            EndpointConfig("/tagged", "GET", self.tagged),
            EndpointConfig("/embedded", HTTPMethod.POST, self.embedded),
            EndpointConfig("/two-bodies", HTTPMethod.POST, self.two_bodies),
            EndpointConfig("/files/{rest:path}", HTTPMethod.GET, self.files),
            EndpointConfig("/items/{item_id}", HTTPMethod.GET, self.item),
            EndpointConfig("/items/{item_id}", HTTPMethod.DELETE, self.remove),
        ]
