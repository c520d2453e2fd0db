"""The smallest useful job: adds two numbers."""


class AdderJob:
    def perform(self, a: float, b: float) -> float:
        """Add two numbers.

        Returns the sum of `a` and `b`.
        """
        return a + b

    def docs_input_example(self) -> dict[str, float]:
        return {"a": 40, "b": 2}
