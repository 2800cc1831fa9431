"""Input discovery shared by `howold predict` and `howold batch`: files, folders, patterns, lists."""

from __future__ import annotations

from pathlib import Path

import pytest

from howold.inputs import InputError, find_inputs


@pytest.fixture()
def tree(tmp_path) -> Path:
    for name in ("a.jpg", "b.PNG", "clip.MP4", "notes.txt.md", "sub/c.jpg", "sub/deeper/d.webp", "sub/e.webm"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    return tmp_path


def test_folder_gives_its_photos_and_videos_sorted(tree):
    assert find_inputs([tree]) == [str(tree / "a.jpg"), str(tree / "b.PNG"), str(tree / "clip.MP4")]


def test_recursive_folder_gives_subfolders_too(tree):
    assert len(find_inputs([str(tree)], recursive=True)) == 6


def test_glob_pattern(tree):
    assert find_inputs([f"{tree}/**/*.jpg"]) == [str(tree / "a.jpg"), str(tree / "sub/c.jpg")]


def test_text_list_relative_to_its_folder(tree):
    listing = tree / "sub" / "list.txt"
    listing.write_text(f"# photos\nc.jpg\n\n  deeper/d.webp \n{tree / 'a.jpg'}\ne.webm\n")
    assert find_inputs([str(listing)]) == [
        str(tree / "sub" / "c.jpg"), str(tree / "sub" / "deeper" / "d.webp"), str(tree / "a.jpg"),
        str(tree / "sub" / "e.webm"),
    ]  # fmt: skip


def test_each_file_once_and_missing_files_kept(tree):
    found = find_inputs([str(tree / "a.jpg"), str(tree), str(tree / "gone.jpg")])
    assert found == [str(tree / "a.jpg"), str(tree / "b.PNG"), str(tree / "clip.MP4"), str(tree / "gone.jpg")]


@pytest.mark.parametrize(
    ("make", "recursive", "match"),
    [
        (lambda tree: [f"{tree}/*.heic"], False, "matches no files"),
        (lambda tree: [tree / "sub"], False, r"sub has sub-folders that hold some: add -r \(--recursive\)"),
        (lambda tree: [tree / "empty"], True, r"^no image or video files found in the given paths\.$"),
        (lambda tree: [tree / "empty"], False, r"^no image or video files found in the given paths\.$"),
    ],
)
def test_nothing_to_analyse_is_one_sentence(tree, make, recursive, match):
    (tree / "sub" / "c.jpg").unlink()
    (tree / "sub" / "e.webm").unlink()
    (tree / "empty").mkdir()
    with pytest.raises(InputError, match=match):
        find_inputs(make(tree), recursive=recursive)
