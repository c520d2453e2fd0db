"""A test job that cannot be imported."""

import not_a_real_module_for_racetrack_tests  # type: ignore[import-not-found]  # noqa: F401


class Never:
    def perform(self) -> int:
        return 1
