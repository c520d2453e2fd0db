"""Call permissions as prefix keys: one ``map_beg`` lookup answers most calls.

For a call by subject ``S`` to version ``v`` of family ``F`` (in namespace ``N``) at path
``/p`` (normalised to ``/p/``, see ``keys.endpoint_key``), HAProxy asks whether any key is
a prefix of these strings, in turn, until one is:

1. ``S|N|F|v|/p/``  (family, version and endpoint grants, and everything broader)
2. ``S|N|F|/p/``    (a family and an endpoint, any version)
3. ``S|N|/p/``      (a namespace and an endpoint, any family)
4. ``S|*|/p/``      (an endpoint in every namespace)

A grant becomes exactly one key, except a version pattern (``1.x``), which becomes one key
per known version of the family it matches: the tables grow with grants and versions,
never with users times jobs. A grant for a family from the platform namespace is keyed
under the namespace the gateway routes the family to. A grant's fields that a key cannot
hold make no key, and then grant nothing, as ``racetrack_api.permissions.allowed`` would
for a call (a version without a family is refused by the CRD anyway).

Strings of different shapes cannot prefix each other wrongly: a version or a family never
starts with ``/``, and ``|`` ends every name. Keys of broader grants are prefixes of the
narrower strings too (``S|N|F|`` of string 2), which is exactly right.
"""

from __future__ import annotations

from collections.abc import Mapping

from racetrack_api.permissions import Grant, version_matches
from racetrack_gateway.model import Family
from racetrack_gateway.render.keys import ANY_NAMESPACE, endpoint_key, subject_key

#: The strings a call is looked up as, in order: each is its fields joined by ``|``, a field
#: being a value of the call or, for ``ANY_NAMESPACE``, itself (``render.config`` builds them
#: from the request's variables; ``lookups`` from values).
LOOKUPS: tuple[tuple[str, ...], ...] = (
    ("subject", "namespace", "family", "version", "endpoint"),
    ("subject", "namespace", "family", "endpoint"),
    ("subject", "namespace", "endpoint"),
    ("subject", ANY_NAMESPACE, "endpoint"),
)


def lookups(subject: str, namespace: str, family: str, version: str, endpoint: str) -> list[str]:
    """What HAProxy looks up for a call; ``endpoint`` as ``keys.endpoint_key`` gives it."""
    values = {
        "subject": subject,
        "namespace": namespace,
        "family": family,
        "version": version,
        "endpoint": endpoint,
        ANY_NAMESPACE: ANY_NAMESPACE,
    }
    return ["|".join(values[field] for field in fields) for fields in LOOKUPS]


def grant_keys(grant: Grant, families: Mapping[str, Family]) -> list[str]:
    subject = subject_key(grant.subject)
    endpoint = endpoint_key(grant.endpoint) if grant.endpoint is not None else None
    if grant.family is None:
        if grant.version is not None:
            return []
        namespace = grant.namespace if grant.namespace is not None else None
        if endpoint is None:
            return [f"{subject}|" if namespace is None else f"{subject}|{namespace}|"]
        return [f"{subject}|{namespace if namespace is not None else ANY_NAMESPACE}|{endpoint}"]
    family = families.get(grant.family)
    if family is None or grant.namespace not in (None, family.namespace):
        return []
    base = f"{subject}|{family.namespace}|{family.name}|"
    if grant.version is None:
        return [base if endpoint is None else base + endpoint]
    return [
        f"{base}{v.version}|{endpoint or ''}"
        for v in family.versions
        if version_matches(grant.version, v.version)
    ]
