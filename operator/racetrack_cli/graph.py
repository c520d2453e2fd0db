"""The permission graph: who may do what to which jobs, as text, Graphviz DOT or Mermaid.

Nodes are Users, ExternalServiceConsumers, JobFamilies, Jobs and, for Permissions that name
no family, "every job" (of one namespace, or of all of them from the platform namespace).
An edge goes from a subject to what its Permissions cover, labelled with their scopes; a
family points at its versions. ``focus`` keeps one node and its neighbours, as clicking a
node on the original dashboard's graph did.
"""

from __future__ import annotations

import dataclasses
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence

from racetrack_api.permissions import Grant, SubjectRef, version_matches
from racetrack_api.v1alpha1.permission import SubjectKind

EVERY_JOB = "every job"


@dataclasses.dataclass(frozen=True, order=True)
class Node:
    kind: str  # User, ESC, Job family, Job, Scope
    name: str
    namespace: str = ""

    @property
    def id(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}"

    @property
    def label(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        if self.kind == "Scope":
            return f"{self.name} in {self.namespace}" if self.namespace else f"{self.name}"
        return f"{self.kind} {where}{self.name}"


@dataclasses.dataclass(frozen=True)
class Edge:
    source: Node
    target: Node
    label: str


@dataclasses.dataclass(frozen=True)
class Graph:
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]


@dataclasses.dataclass(frozen=True)
class JobRef:
    namespace: str
    name: str
    family: str
    version: str


def subject_node(subject: SubjectRef) -> Node:
    kind = {
        SubjectKind.USER: "User",
        SubjectKind.EXTERNAL_SERVICE_CONSUMER: "ESC",
        SubjectKind.JOB_FAMILY: "Job family",
    }[subject.kind]
    return Node(kind, subject.name, subject.namespace or "")


def build(subjects: Iterable[SubjectRef], jobs: Iterable[JobRef], grants: Iterable[Grant]) -> Graph:
    """The graph of ``grants`` over the known subjects and jobs (and what grants name)."""
    nodes: set[Node] = {subject_node(subject) for subject in subjects}
    jobs = list(jobs)
    scopes: dict[tuple[Node, Node], set[str]] = defaultdict(set)
    for job in jobs:
        family, version = (
            Node("Job family", job.family, job.namespace),
            Node("Job", job.name, job.namespace),
        )
        nodes.update((family, version))
        scopes[(family, version)].add(f"version {job.version}")
    for grant in grants:
        source = subject_node(grant.subject)
        nodes.add(source)
        scope = str(grant.scope) + (f" {grant.endpoint}" if grant.endpoint else "")
        for target in _targets(grant, jobs):
            nodes.add(target)
            scopes[(source, target)].add(scope)
    edges = [
        Edge(source, target, ", ".join(sorted(labels)))
        for (source, target), labels in scopes.items()
    ]
    return Graph(tuple(sorted(nodes)), tuple(sorted(edges, key=lambda e: (e.source, e.target))))


def _targets(grant: Grant, jobs: Sequence[JobRef]) -> list[Node]:
    namespace = grant.namespace or ""
    if grant.family is None:
        return [Node("Scope", EVERY_JOB, namespace)]
    if grant.version is None:
        return [Node("Job family", grant.family, namespace)]
    matching = [
        Node("Job", job.name, job.namespace)
        for job in jobs
        if job.family == grant.family
        and grant.namespace in (None, job.namespace)
        and version_matches(grant.version, job.version)
    ]
    # A grant on versions that do not exist (yet) still says something: show it on the family.
    return matching or [Node("Job family", grant.family, namespace)]


def focus(graph: Graph, name: str) -> Graph:
    """The nodes whose name (or namespace/name) is ``name``, with their neighbours."""
    centre = {n for n in graph.nodes if name in (n.name, f"{n.namespace}/{n.name}", n.label)}
    if not centre:
        raise LookupError(f"no node named {name!r} in the graph")
    edges = tuple(e for e in graph.edges if e.source in centre or e.target in centre)
    kept = centre | {e.source for e in edges} | {e.target for e in edges}
    return Graph(tuple(n for n in graph.nodes if n in kept), edges)


def to_text(graph: Graph) -> str:
    lines = []
    by_source: dict[Node, list[Edge]] = defaultdict(list)
    for edge in graph.edges:
        by_source[edge.source].append(edge)
    for node in graph.nodes:
        if node not in by_source:
            continue
        lines.append(node.label)
        lines.extend(f"  {edge.label} -> {edge.target.label}" for edge in by_source[node])
    return "\n".join(lines) + ("\n" if lines else "")


def to_dot(graph: Graph) -> str:
    shapes = {
        "User": "ellipse",
        "ESC": "hexagon",
        "Job family": "box",
        "Job": "note",
        "Scope": "doubleoctagon",
    }
    lines = ["digraph permissions {", "  rankdir=LR;"]
    for node in graph.nodes:
        lines.append(
            f"  {json.dumps(node.id)} [label={json.dumps(node.label)}, shape={shapes[node.kind]}];"
        )
    for edge in graph.edges:
        source, target = json.dumps(edge.source.id), json.dumps(edge.target.id)
        lines.append(f"  {source} -> {target} [label={json.dumps(edge.label)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_mermaid(graph: Graph) -> str:
    ids = {node: f"n{index}" for index, node in enumerate(graph.nodes)}
    lines = ["graph LR"]
    for node, ident in ids.items():
        lines.append(f'  {ident}["{_mermaid_text(node.label)}"]')
    for edge in graph.edges:
        lines.append(f'  {ids[edge.source]} -->|"{_mermaid_text(edge.label)}"| {ids[edge.target]}')
    return "\n".join(lines) + "\n"


def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;")
