"""A test job whose constructor fails."""


class BrokenInit:
    def __init__(self) -> None:
        raise RuntimeError("cannot load model: weights.bin is missing")

    def perform(self) -> int:
        return 1
