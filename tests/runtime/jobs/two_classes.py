"""A test job file with two candidate classes."""


class First:
    def perform(self) -> str:
        return "first"


class Second:
    def perform(self) -> str:
        return "second"
