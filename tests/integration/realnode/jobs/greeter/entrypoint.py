"""A python3 job with one requirement, installed by its build from the dev wheel folder."""

from racetrack_test_greeting import greet  # type: ignore[import-not-found]


class Greeter:
    def perform(self, name: str = "world") -> str:
        greeting: str = greet(name)
        return greeting
