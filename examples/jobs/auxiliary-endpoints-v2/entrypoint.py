"""Unit conversions, with endpoints declared by ``auxiliary_endpoints_v2``.

- ``POST /api/v1/perform``: metres to feet;
- ``GET /api/v1/units``: the known units (no body);
- ``GET /api/v1/convert/{unit}?value=3``: one value, from the path and the query string;
- ``POST /api/v1/convert-many/{unit}``: a JSON list of values as the body, the precision
  from the ``X-Precision`` header.
"""

from __future__ import annotations

from http import HTTPMethod
from typing import Annotated

from racetrack_job_wrapper.endpoint_config import Body, EndpointConfig, Header

TO_METRES = {"m": 1.0, "ft": 0.3048, "in": 0.0254, "mi": 1609.344}


class UnitConverter:
    def perform(self, metres: float) -> float:
        """Metres to feet."""
        return metres / TO_METRES["ft"]

    def units(self) -> list[str]:
        """The units this job knows."""
        return sorted(TO_METRES)

    def convert(self, unit: str, value: float) -> float:
        """Convert one value in `unit` to metres."""
        if unit not in TO_METRES:
            raise KeyError(f"unknown unit {unit}")
        return value * TO_METRES[unit]

    def convert_many(
        self,
        unit: str,
        values: Annotated[list[float], Body()],
        precision: Annotated[int, Header(alias="X-Precision")] = 3,
    ) -> list[float]:
        """Convert many values in `unit` to metres, rounded."""
        return [round(self.convert(unit, v), precision) for v in values]

    def auxiliary_endpoints_v2(self) -> list[EndpointConfig]:
        return [
            EndpointConfig("/units", HTTPMethod.GET, self.units),
            EndpointConfig("/convert/{unit}", HTTPMethod.GET, self.convert),
            EndpointConfig(
                "/convert-many/{unit}",
                HTTPMethod.POST,
                self.convert_many,
                other_options={"tags": ["batch"]},
            ),
        ]

    def docs_input_examples(self) -> dict[str, object]:
        return {"/perform": {"metres": 100}}
