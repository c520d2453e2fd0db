"""What a packed job folder leaves out: git's .gitignore rules, as git documents them."""

from __future__ import annotations

import pytest

from racetrack_images import gitignore


@pytest.mark.parametrize(
    ("rules", "path", "is_dir", "ignored"),
    [
        ("*.pyc", "a/b/c.pyc", False, True),
        ("*.pyc", "a/b/c.py", False, False),
        ("build/", "build", True, True),
        ("build/", "build", False, False),  # a file named build is kept
        ("build/", "src/build", True, True),  # no slash before the end: any depth
        ("/build", "src/build", True, False),  # anchored to the .gitignore's folder
        ("/build", "build", True, True),
        ("docs/*.md", "docs/a.md", False, True),
        ("docs/*.md", "docs/sub/a.md", False, False),  # * does not cross a slash
        ("docs/*.md", "x/docs/a.md", False, False),  # a slash inside anchors it
        ("**/cache", "a/b/cache", True, True),
        ("**/cache", "cache", True, True),
        ("logs/**", "logs/a/b.txt", False, True),
        ("a/**/z", "a/z", False, True),
        ("a/**/z", "a/b/c/z", False, True),
        ("file?.txt", "file1.txt", False, True),
        ("file?.txt", "file10.txt", False, False),
        ("[ab].txt", "b.txt", False, True),
        ("[!ab].txt", "b.txt", False, False),
        ("*.log\n!keep.log", "keep.log", False, False),
        ("!keep.log\n*.log", "keep.log", False, True),  # the last matching rule decides
        ("# *.py\n\n", "a.py", False, False),  # comments and blank lines
        ("\\#notes", "#notes", False, True),
        ("trailing   ", "trailing", False, True),
        ("secret.env", ".git", True, True),  # .git always goes
    ],
)
def test_rules_as_git_applies_them(rules: str, path: str, is_dir: bool, ignored: bool) -> None:
    assert gitignore.ignored(gitignore.parse(rules), path, is_dir) is ignored


def test_a_nested_gitignore_applies_to_its_own_folder_only() -> None:
    rules = gitignore.parse("/out\n*.tmp", base="service")
    assert gitignore.ignored(rules, "service/out", is_dir=True)
    assert gitignore.ignored(rules, "service/deep/x.tmp", is_dir=False)
    assert not gitignore.ignored(rules, "out", is_dir=True)
    assert not gitignore.ignored(rules, "other/x.tmp", is_dir=False)
