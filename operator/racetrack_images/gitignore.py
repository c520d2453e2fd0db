"""Which files of a folder git would leave out, from its ``.gitignore`` files (pure).

A job's folder is packed the way ``git add .`` would see it, so what a local build gets is
what a git build of the same folder would get. Supported, as git documents it: comments and
blank lines; ``!`` re-including; a trailing ``/`` for folders only; a pattern with a ``/``
before its end anchored to its ``.gitignore``'s folder, one without matching a name at any
depth; ``*``, ``?``, ``[...]`` and ``**`` (leading ``**/``, trailing ``/**``, inner
``/**/``); ``.gitignore`` files in subfolders for their own subtree; and, as in git, a file
inside an ignored folder stays ignored whatever a later rule says. ``.git`` is always left
out. Not read: ``.git/info/exclude`` and the user's global excludes (another machine's
settings must not change what a Job is built from).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

ALWAYS_IGNORED = (".git",)


@dataclass(frozen=True)
class Rule:
    regex: re.Pattern[str]
    negated: bool
    directory_only: bool
    anchored: bool
    #: Folder of the ``.gitignore`` the rule comes from, relative to the root ("" for it).
    base: str

    def matches(self, path: str, is_dir: bool) -> bool:
        if self.directory_only and not is_dir:
            return False
        if self.base:
            if not path.startswith(self.base + "/"):
                return False
            path = path[len(self.base) + 1 :]
        subject = path if self.anchored else path.rsplit("/", 1)[-1]
        return self.regex.fullmatch(subject) is not None


def parse(text: str, base: str = "") -> list[Rule]:
    """The rules of one ``.gitignore`` whose folder is ``base`` (relative to the root)."""
    rules = []
    for raw in text.splitlines():
        line = raw.rstrip("\n")
        if not line.strip() or line.startswith("#"):
            continue
        # Trailing spaces are ignored unless escaped with a backslash.
        line = re.sub(r"(?<!\\) +$", "", line)
        negated = line.startswith("!")
        if negated or line.startswith("\\!") or line.startswith("\\#"):
            line = line[1:]
        directory_only = line.endswith("/")
        line = line.rstrip("/")
        if not line:
            continue
        anchored = "/" in line
        rules.append(
            Rule(re.compile(_translate(line.lstrip("/"))), negated, directory_only, anchored, base)
        )
    return rules


def _translate(pattern: str) -> str:
    """A gitignore glob as a regular expression over a slash-separated path."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        if pattern.startswith("**/", i) and (i == 0 or pattern[i - 1] == "/"):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i) and i + 2 == n and (i == 0 or pattern[i - 1] == "/"):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and (end := pattern.find("]", i + 2)) != -1:
            inner = pattern[i + 1 : end]
            if inner.startswith("!"):
                inner = "^" + inner[1:]
            out.append("[" + inner.replace("\\", "\\\\") + "]")
            i = end + 1
        elif pattern[i] == "\\" and i + 1 < n:
            out.append(re.escape(pattern[i + 1]))
            i += 2
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return "".join(out)


def ignored(rules: Iterable[Rule], path: str, is_dir: bool) -> bool:
    """Whether the last rule matching ``path`` ignores it (``path`` relative to the root).

    The caller never asks about what lies inside an ignored folder: it does not descend.
    """
    if path.rsplit("/", 1)[-1] in ALWAYS_IGNORED:
        return True
    verdict = False
    for rule in rules:
        if rule.matches(path, is_dir):
            verdict = not rule.negated
    return verdict
