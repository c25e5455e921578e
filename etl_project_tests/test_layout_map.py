"""The map of where things live exists once, in the README's Layout section, and this test keeps it true.

The map is the first code block of that section. A line of it that starts before the description column names a
path (its first word); two spaces of indentation per level nest it under the folder above it. Lines indented to
the description column continue a description. Every folder of the repository (each folder holding a tracked or
new, not ignored, file) must be named, and every path named must exist.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DESCRIPTION_COLUMN = 24


def layout_block() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = re.search(r"^## Layout\n(.*?)(?=^## |\Z)", text, flags=re.MULTILINE | re.DOTALL)
    assert section, "README.md has no '## Layout' section"
    block = re.search(r"^```[a-z]*\n(.*?)^```$", section.group(1), flags=re.MULTILINE | re.DOTALL)
    assert block, "README.md's Layout section has no code block (the map)"
    return block.group(1).splitlines()


def mapped_paths() -> list[str]:
    """The paths the map names, relative to the repository root (folders end with '/')."""
    paths: list[str] = []
    parents: list[str] = []  # the folder named at each depth so far
    for number, line in enumerate(layout_block(), start=1):
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip(" "))
        if indent >= DESCRIPTION_COLUMN:
            continue  # a description continued
        assert indent % 2 == 0, f"map line {number}: indent by two spaces per level: {line!r}"
        depth = indent // 2
        assert depth <= len(parents), f"map line {number}: nested under no folder: {line!r}"
        name = line.split()[0]
        parent = "".join(parents[:depth])
        assert depth == 0 or parent.endswith("/"), f"map line {number}: nested under a file: {line!r}"
        path = parent + name
        paths.append(path)
        parents[depth:] = [name if name.endswith("/") else name + " "]
    return paths


def repository_folders() -> set[str]:
    """Every folder holding a file that git tracks or would track (new, not ignored), as 'a/b/'."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: the repository's folders are the files git tracks")
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.decode("utf-8", "surrogateescape")
    folders: set[str] = set()
    for file in filter(None, listed.split("\0")):
        if not (ROOT / file).exists():
            continue  # deleted in the working tree, not yet committed
        parts = file.split("/")[:-1]
        for end in range(1, len(parts) + 1):
            folders.add("/".join(parts[:end]) + "/")
    return folders


def test_the_map_parses_into_paths():
    paths = mapped_paths()
    assert "etl_project/" in paths and "etl_project/defs/ingestion/" in paths
    assert len(paths) == len(set(paths)), "the map names a path twice"


def test_every_path_the_map_names_exists():
    missing = [path for path in mapped_paths() if not (ROOT / path.rstrip("/")).exists()]
    assert not missing, f"README's Layout names paths that do not exist: {missing}"
    not_folders = [p for p in mapped_paths() if p.endswith("/") and not (ROOT / p.rstrip("/")).is_dir()]
    assert not not_folders, f"README's Layout names as folders what are not folders: {not_folders}"


def test_every_folder_of_the_repository_is_on_the_map():
    named = {path for path in mapped_paths() if path.endswith("/")}
    unnamed = sorted(repository_folders() - named)
    assert not unnamed, (
        f"folders missing from README's Layout (add a line for each, nested under its parent): {unnamed}"
    )


def test_the_readme_has_one_map():
    """Other sections of the README must not keep maps of their own (they drift)."""
    text = README.read_text(encoding="utf-8")
    outside = re.sub(r"^## Layout\n.*?(?=^## |\Z)", "", text, flags=re.MULTILINE | re.DOTALL)
    blocks = re.findall(r"^```[a-z]*\n(.*?)^```$", outside, flags=re.MULTILINE | re.DOTALL)
    maps = [block for block in blocks if re.search(r"^\s*etl_project/\S*\s{2,}\S", block, flags=re.MULTILINE)]
    assert not maps, "README.md keeps a map of the repository outside its Layout section"
