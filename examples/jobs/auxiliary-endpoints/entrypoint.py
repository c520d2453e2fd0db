"""A job with auxiliary endpoints, per-endpoint docs examples, static files and metrics.

- ``POST /api/v1/perform``: score a text (counts words and vowels);
- ``POST /api/v1/explain``: explain a score;
- ``GET /api/v1/ui``: a static HTML page, ``GET /api/v1/assets/...``: a static directory,
  ``GET /api/v1/manifest``: the job's own manifest, with the media type given here;
- ``/metrics`` includes ``scored_texts``, a gauge this class reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Score:
    words: int
    vowels: int


class TextScorer:
    def __init__(self) -> None:
        self.scored = 0

    def perform(self, text: str, lowercase: bool = True) -> Score:
        """Score a text.

        Counts the words and the vowels of `text`.
        """
        self.scored += 1
        if lowercase:
            text = text.lower()
        return Score(words=len(text.split()), vowels=sum(text.count(v) for v in "aeiou"))

    def explain(self, words: int, vowels: int) -> dict[str, Any]:
        """Explain a score: the vowels per word."""
        ratio = vowels / words if words else 0.0
        return {"vowels_per_word": ratio, "verdict": "wordy" if ratio > 2 else "terse"}

    def auxiliary_endpoints(self) -> dict[str, Any]:
        return {"/explain": self.explain}

    def docs_input_examples(self) -> dict[str, dict[str, Any]]:
        return {
            "/perform": {"text": "The quick brown fox", "lowercase": True},
            "/explain": {"words": 4, "vowels": 5},
        }

    def static_endpoints(self) -> dict[str, Any]:
        return {
            "/ui": "static/index.html",
            "/assets": "static",
            "/manifest": ("job.yaml", "application/x-yaml"),
        }

    def metrics(self) -> list[dict[str, Any]]:
        return [{"name": "scored_texts", "value": self.scored, "description": "Texts scored"}]
