"""The job measured by the benchmark: the same trivial ``perform`` as the floor's."""


class Noop:
    def perform(self, x: int = 0) -> int:
        return x
