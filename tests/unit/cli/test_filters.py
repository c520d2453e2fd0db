"""The portfolio's filter language: the original's operators, errors that point at the
character, and properties that hold for any input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from racetrack_cli.filters import (
    Expression,
    FilterError,
    Term,
    parse,
    parse_column_filter,
)

COLUMNS = ("family", "version", "purge", "last-called", "reasons")


@pytest.mark.parametrize(
    ("expression", "cell", "expected"),
    [
        ("ad", "Adder", True),  # a bare term: contains, ignoring case
        ("*dd", "adder", True),
        ("!dd", "adder", False),
        ("!dd", "scorer", True),
        ("=adder", "ADDER", True),
        ("=adder", "adder-x", False),
        ("{ad", "adder", True),
        ("{dd", "adder", False),
        ("}der", "adder", True),
        (">=20", "20", True),
        (">=20", "5.5", False),  # numbers compare as numbers, not as text
        ("<10", "9", True),
        ("<10", "", False),  # an empty cell never compares
        (">2026-11-01", "2026-11-25T12:00:00Z", True),
        ("<2026-11-01", "2026-11-25T12:00:00Z", False),
        ("[empty]", "", True),
        ("[empty]", None, True),
        ("[nonempty]", "x", True),
        ("[EMPTY]", "", True),
        ("rgx:^1\\.[0-9]+\\.0$", "1.10.0", True),
        ("rgx:^1\\.[0-9]+\\.0$", "1.10.1", False),
        ("rgx:a|b", "b", True),
        ("ad || sc", "scorer", True),
        ("ad && !er", "adder", False),
        ("ad && er || sc", "scorer", True),  # && binds tighter than ||
        (">=10 && <20", "15", True),
        (">=10 && <20", "25", False),
    ],
)
def test_the_originals_operators(expression: str, cell: str | None, expected: bool) -> None:
    assert parse(expression).matches(cell) is expected


@pytest.mark.parametrize(
    ("expression", "message", "position"),
    [
        ("", "the expression is empty", 0),
        ("ad ||", "nothing after '||'", 5),
        ("|| ad", "nothing before '||'", 0),
        ("ad && && sc", "nothing after '&&'", 6),
        (">=", "'>=' needs a value", 2),
        ("[blank]", "unknown '[blank]'", 0),
        ("x || rgx:(ab", "invalid regular expression", 9),
    ],
)
def test_errors_say_what_is_wrong_and_point_at_it(
    expression: str, message: str, position: int
) -> None:
    with pytest.raises(FilterError) as caught:
        parse(expression)
    assert message in str(caught.value)
    assert caught.value.position == position
    assert str(caught.value).endswith(" " * position + "^")


def test_a_column_filter_names_its_column_and_its_expression() -> None:
    assert parse_column_filter("purge>=20", COLUMNS).column == "purge"
    assert parse_column_filter("purge>=20", COLUMNS).expression == parse(">=20")
    assert parse_column_filter("family={ad", COLUMNS).expression == parse("{ad")
    assert parse_column_filter("family==adder", COLUMNS).expression == parse("=adder")
    filt = parse_column_filter("last-called=[empty]", COLUMNS)
    assert filt.matches({"last-called": None}) and not filt.matches({"last-called": "x"})


def test_column_filter_errors_point_into_the_whole_text() -> None:
    with pytest.raises(FilterError, match="unknown column 'owner'; columns: family"):
        parse_column_filter("owner=alice", COLUMNS)
    with pytest.raises(FilterError, match="write family=EXPRESSION") as caught:
        parse_column_filter("family~ad", COLUMNS)
    assert caught.value.position == 6
    with pytest.raises(FilterError, match="needs a value") as caught:
        parse_column_filter("purge>=", COLUMNS)
    assert caught.value.position == 7


# Values that a term can carry unambiguously (no operator characters, no separators).
values = (
    st.text(alphabet=st.sampled_from("abcdefxyz0123456789.-_ "), min_size=1)
    .map(str.strip)
    .filter(bool)
)
cells = st.one_of(st.none(), st.text(alphabet="abcdefxyz0123456789.-_ ", max_size=12))
simple_terms = st.builds(Term, st.sampled_from(["=", "*", "!", "{", "}"]), values) | st.builds(
    Term, st.sampled_from(["empty", "nonempty"])
)
expressions = st.lists(
    st.lists(simple_terms, min_size=1, max_size=3).map(tuple), min_size=1, max_size=3
).map(lambda alternatives: Expression(tuple(alternatives)))


@given(expressions)
def test_rendering_then_parsing_gives_the_same_expression(expression: Expression) -> None:
    assert parse(expression.render()) == expression


@given(simple_terms, simple_terms, cells)
def test_or_and_and_mean_what_they_say(left: Term, right: Term, cell: str | None) -> None:
    either = parse(f"{left.render()} || {right.render()}")
    both = parse(f"{left.render()} && {right.render()}")
    assert either.matches(cell) == (left.matches(cell) or right.matches(cell))
    assert both.matches(cell) == (left.matches(cell) and right.matches(cell))


@given(values, cells)
def test_does_not_contain_is_the_negation_of_contains(value: str, cell: str | None) -> None:
    assert parse(f"!{value}").matches(cell) != parse(f"*{value}").matches(cell)


@given(
    st.decimals(allow_nan=False, allow_infinity=False, places=2),
    st.decimals(allow_nan=False, allow_infinity=False, places=2),
)
def test_comparisons_of_numbers_are_numeric(cell: object, bound: object) -> None:
    assert parse(f">={bound}").matches(str(cell)) == (cell >= bound)  # type: ignore[operator]
    assert parse(f"<{bound}").matches(str(cell)) == (cell < bound)  # type: ignore[operator]


@given(st.text(max_size=30))
def test_any_text_either_parses_or_fails_with_a_position_inside_it(text: str) -> None:
    try:
        parse(text)
    except FilterError as error:
        assert 0 <= error.position <= len(text)
