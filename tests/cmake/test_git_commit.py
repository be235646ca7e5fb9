"""ncclkit_tree_commit() (cmake/NcclkitGit.cmake): the commit of a tree is its own repository's,
never that of a repository the tree merely sits in."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(
    shutil.which("git") is None or shutil.which("cmake") is None, reason="needs git and cmake"
)


def commit_of(tree: Path, tmp_path: Path, *flags: str) -> str:
    script = tmp_path / "commit.cmake"
    script.write_text(
        f'list(APPEND CMAKE_MODULE_PATH "{REPO / "cmake"}")\ninclude(NcclkitGit)\n'
        f'ncclkit_tree_commit("{tree}" commit {" ".join(flags)})\nmessage(NOTICE "commit=${{commit}}")\n'
    )
    proc = subprocess.run(["cmake", "-P", str(script)], capture_output=True, text=True, check=True)
    return proc.stderr.strip().removeprefix("commit=")


def git(repo: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    return subprocess.run(
        ["git", "-C", str(repo), *args],
        capture_output=True,
        text=True,
        check=True,
        env={**env, "PATH": "/usr/bin:/bin"},
    ).stdout.strip()


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    repo = tmp_path / "outer"
    (repo / "inner").mkdir(parents=True)
    (repo / "inner" / "file").write_text("one\n")
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "one")
    return repo


def test_the_root_of_a_repository_has_its_commit(repository: Path, tmp_path: Path) -> None:
    head = git(repository, "rev-parse", "HEAD")
    assert commit_of(repository, tmp_path) == head
    (repository / "inner" / "file").write_text("two\n")
    assert commit_of(repository, tmp_path, "MARK_DIRTY") == head + "-dirty"
    assert commit_of(repository, tmp_path) == head


def test_a_tree_inside_another_repository_is_unknown(repository: Path, tmp_path: Path) -> None:
    assert commit_of(repository / "inner", tmp_path) == "unknown"
    assert commit_of(tmp_path / "nowhere", tmp_path) == "unknown"
