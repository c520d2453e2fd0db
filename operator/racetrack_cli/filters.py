"""The original dashboard's per-column filter language, as a real parser.

An expression is terms joined by ``&&`` (and) and ``||`` (or); ``&&`` binds tighter, so
``a && b || c`` is ``(a && b) || c``. A term is one of:

==============  ==========================================================
``<`` ``<=``    less than (numbers compare as numbers, ISO dates as dates,
``>`` ``>=``    anything else as text); an empty cell never compares
``=x``          exactly ``x``
``*x``          contains ``x`` (also what a bare ``x`` means)
``!x``          does not contain ``x``
``{x``          starts with ``x``
``}x``          ends with ``x``
``[empty]``     the cell is empty; ``[nonempty]`` it is not
``rgx:p``       the regular expression ``p`` matches somewhere in the cell
==============  ==========================================================

Text comparisons ignore case, as the dashboard's did. A term's value runs to the next
``&&`` or ``||`` (surrounding spaces trimmed), so ``rgx:`` patterns may use ``|`` but not
``||``. Errors say what is wrong and point at the character: ``FilterError.position``.
"""

from __future__ import annotations

import dataclasses
import datetime
import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Literal

Op = Literal["<", "<=", ">", ">=", "=", "*", "!", "{", "}", "empty", "nonempty", "rgx"]
_PREFIX_OPS: tuple[Op, ...] = ("<=", ">=", "<", ">", "=", "*", "!", "{", "}")
_COMPARISONS = frozenset({"<", "<=", ">", ">="})
_BRACKETS: dict[str, Op] = {"[empty]": "empty", "[nonempty]": "nonempty"}


class FilterError(ValueError):
    """A filter that cannot be parsed; ``position`` is the offending character's index."""

    def __init__(self, message: str, text: str, position: int) -> None:
        self.text = text
        self.position = position
        super().__init__(f"{message}\n  {text}\n  {' ' * position}^")


@dataclasses.dataclass(frozen=True)
class Term:
    op: Op
    value: str = ""

    def matches(self, cell: str | None) -> bool:
        text = (cell or "").strip()
        if self.op == "empty":
            return not text
        if self.op == "nonempty":
            return bool(text)
        if self.op == "rgx":
            return re.search(self.value, text, re.IGNORECASE) is not None
        if self.op in _COMPARISONS:
            return bool(text) and _compare(self.op, text, self.value)
        cell_lower, value_lower = text.lower(), self.value.lower()
        if self.op == "=":
            return cell_lower == value_lower
        if self.op == "*":
            return value_lower in cell_lower
        if self.op == "!":
            return value_lower not in cell_lower
        if self.op == "{":
            return cell_lower.startswith(value_lower)
        return cell_lower.endswith(value_lower)  # "}"

    def render(self) -> str:
        if self.op in ("empty", "nonempty"):
            return f"[{self.op}]"
        if self.op == "rgx":
            return f"rgx:{self.value}"
        return f"{self.op}{self.value}"


@dataclasses.dataclass(frozen=True)
class Expression:
    """Alternatives (``||``) of conjunctions (``&&``) of terms."""

    alternatives: tuple[tuple[Term, ...], ...]

    def matches(self, cell: str | None) -> bool:
        return any(all(term.matches(cell) for term in terms) for terms in self.alternatives)

    def render(self) -> str:
        return " || ".join(
            " && ".join(term.render() for term in terms) for terms in self.alternatives
        )


def parse(text: str) -> Expression:
    alternatives = []
    or_parts = _split(text, "||", 0)
    for i, (or_start, or_part) in enumerate(or_parts):
        terms = []
        and_parts = _split(or_part, "&&", or_start)
        for j, (and_start, and_part) in enumerate(and_parts):
            before = "&&" if j > 0 else ("||" if i > 0 else None)
            after = "&&" if j < len(and_parts) - 1 else ("||" if i < len(or_parts) - 1 else None)
            terms.append(_term(text, and_part, and_start, before, after))
        alternatives.append(tuple(terms))
    return Expression(tuple(alternatives))


def _split(part: str, separator: str, offset: int) -> list[tuple[int, str]]:
    """``part`` split on ``separator``, each piece with its index in the whole text."""
    pieces, start = [], 0
    while True:
        found = part.find(separator, start)
        end = len(part) if found < 0 else found
        pieces.append((offset + start, part[start:end]))
        if found < 0:
            return pieces
        start = found + len(separator)


def _term(text: str, raw: str, start: int, before: str | None, after: str | None) -> Term:
    stripped = raw.strip()
    at = start + (len(raw) - len(raw.lstrip()))
    if not stripped:
        if before is not None:
            what = f"nothing after {before!r}"
        elif after is not None:
            what = f"nothing before {after!r}"
        else:
            what = "the expression is empty"
        raise FilterError(f"a term is missing: {what}", text, min(at, len(text)))
    if stripped.startswith("["):
        op = _BRACKETS.get(stripped.lower())
        if op is None:
            raise FilterError(f"unknown {stripped!r}: write [empty] or [nonempty]", text, at)
        return Term(op)
    if stripped.lower().startswith("rgx:"):
        pattern = stripped[4:]
        try:
            re.compile(pattern)
        except re.error as error:
            position = at + 4 + (error.pos or 0)
            raise FilterError(f"invalid regular expression: {error.msg}", text, position) from None
        return Term("rgx", pattern)
    for op in _PREFIX_OPS:
        if stripped.startswith(op):
            value = stripped[len(op) :].strip()
            if not value:
                raise FilterError(f"{op!r} needs a value after it", text, at + len(op))
            return Term(op, value)
    return Term("*", stripped)


def _compare(op: str, cell: str, value: str) -> bool:
    left: object
    right: object
    numbers = _number(cell), _number(value)
    dates = _date(cell), _date(value)
    if numbers[0] is not None and numbers[1] is not None:
        left, right = numbers
    elif dates[0] is not None and dates[1] is not None:
        left, right = dates
    else:
        left, right = cell.lower(), value.lower()
    if op == "<":
        return left < right  # type: ignore[operator]
    if op == "<=":
        return left <= right  # type: ignore[operator]
    if op == ">":
        return left > right  # type: ignore[operator]
    return left >= right  # type: ignore[operator]


def _number(text: str) -> Decimal | None:
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def _date(text: str) -> datetime.datetime | None:
    try:
        parsed = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)


@dataclasses.dataclass(frozen=True)
class ColumnFilter:
    column: str
    expression: Expression

    def matches(self, row: dict[str, str | None]) -> bool:
        return self.expression.matches(row.get(self.column))


def parse_column_filter(text: str, columns: Sequence[str]) -> ColumnFilter:
    """``COLUMN=EXPRESSION``, or ``COLUMN`` directly followed by ``<``/``>`` (``purge>=20``).

    ``family=ad`` filters the family column by the expression ``ad`` (contains);
    ``family==adder`` by ``=adder`` (exactly).
    """
    match = re.match(r"\s*([A-Za-z][A-Za-z0-9_-]*)\s*", text)
    if match is None:
        raise FilterError("a filter starts with a column name, e.g. purge>=20", text, 0)
    column = match.group(1).lower()
    if column not in columns:
        raise FilterError(
            f"unknown column {match.group(1)!r}; columns: {', '.join(columns)}", text, 0
        )
    rest_at = match.end()
    rest = text[rest_at:]
    if rest.startswith("="):
        rest_at += 1
    elif not rest.startswith(("<", ">")):
        raise FilterError(
            f"write {column}=EXPRESSION (or {column}<..., {column}>...)", text, rest_at
        )
    expression_text = text[rest_at:]
    try:
        expression = parse(expression_text)
    except FilterError as error:
        raise FilterError(str(error).split("\n", 1)[0], text, rest_at + error.position) from None
    return ColumnFilter(column, expression)
