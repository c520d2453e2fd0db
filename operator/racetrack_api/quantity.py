"""Kubernetes resource quantities (``512Mi``, ``0.5``, ``100m``, ``1e3``), parsed as the API
server parses them.

The grammar is apimachinery's (``resource.Quantity``): a signed decimal number, then one
suffix, binary (``Ki`` ... ``Ei``), decimal SI (``n u m k M G T P E``) or a decimal exponent
(``e3``, ``E-2``). It lives here, not in the Kubernetes client, because the API layer must
not depend on the client, and the client's own parser is laxer than the server (it accepts
``1K``, which ``kubectl apply`` refuses).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)"
_QUANTITY = re.compile(rf"^({_NUMBER})(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d+)?$")

_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}


def parse_quantity(text: str) -> Decimal:
    """The numeric value of ``text`` (``512Mi`` -> 536870912); ``ValueError`` if invalid."""
    match = _QUANTITY.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"{text!r} is not a Kubernetes quantity")
    number, suffix = match.group(1), match.group(2) or ""
    try:
        value = Decimal(number)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a Kubernetes quantity") from None
    if suffix in _BINARY:
        return value * (Decimal(1024) ** _BINARY[suffix])
    if suffix in _DECIMAL:
        return value.scaleb(_DECIMAL[suffix])
    if suffix:
        return value.scaleb(int(suffix[1:]))
    return value
