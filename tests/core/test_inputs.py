"""Input discovery shared by `howold predict` and `howold batch`: files, folders, patterns, lists."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from howold.inputs import InputError, check_outputs, find_inputs


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


def test_a_folder_or_pattern_in_a_list_gives_its_photos(tree):
    listing = tree / "list.txt"
    listing.write_text("sub\nsub/deeper/*.webp\na.jpg\n")
    assert find_inputs([listing]) == [str(tree / "sub" / "c.jpg"), str(tree / "sub" / "e.webm"),
                                      str(tree / "sub" / "deeper" / "d.webp"), str(tree / "a.jpg")]  # fmt: skip
    assert len(find_inputs([listing], recursive=True)) == 4  # d.webp once, though named twice


def test_lists_that_name_each_other_are_read_once(tree):
    (tree / "one.txt").write_text("two.txt\na.jpg\n")
    (tree / "two.txt").write_text("one.txt\nb.PNG\n")
    assert find_inputs([tree / "one.txt"]) == [str(tree / "b.PNG"), str(tree / "a.jpg")]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_named_as_a_list_is_kept_as_given_not_read(tree):
    fifo = tree / "names.txt"
    os.mkfifo(fifo)
    assert find_inputs([fifo]) == [str(fifo)]  # kept as a path; reading it is refused where it is opened


def test_folders_skip_fifos_and_devices(tree):
    if hasattr(os, "mkfifo"):
        os.mkfifo(tree / "pipe.jpg")
    (tree / "zero.jpg").symlink_to("/dev/zero")
    assert find_inputs([tree]) == [str(tree / "a.jpg"), str(tree / "b.PNG"), str(tree / "clip.MP4")]


def test_a_symlink_loop_in_a_folder_is_walked_once(tree):
    (tree / "sub" / "back").symlink_to(tree)
    assert len(find_inputs([tree], recursive=True)) == 6


@pytest.mark.parametrize(
    ("output", "match"),
    [
        (lambda tree: tree / "a.jpg", r"^--json .*a\.jpg is the input .*a\.jpg; writing there would destroy it"),
        (lambda tree: tree / "sub" / ".." / "a.jpg", "is the input"),
        (lambda tree: _link(tree, "results.json", "a.jpg", hard=True), r"results\.json is the input .*a\.jpg"),
        (lambda tree: _link(tree, "results.json", "a.jpg", hard=False), r"results\.json is the input .*a\.jpg"),
        (lambda tree: tree / "list.txt", "is the input"),
        (lambda tree: tree / "new.jpg", r"must not be named like a photo, video or list \(as the shell does with "
                                        r"--json \*\.jpg"),
        (lambda tree: tree / "new.lst", "must not be named like a photo, video or list; name another file"),
    ],
)  # fmt: skip
def test_an_output_onto_an_input_is_refused(tree, output, match):
    (tree / "list.txt").write_text("a.jpg\n")
    with pytest.raises(InputError, match=match):
        check_outputs([("--json", output(tree))], [*find_inputs([tree / "list.txt"]), tree / "list.txt"])


def test_outputs_beside_the_inputs_are_fine(tree):
    check_outputs([("--json", tree / "a.json"), ("--csv", "-"), ("--annotate out", tree / "out" / "a.jpg")],
                  find_inputs([tree]))  # fmt: skip


def _link(tree: Path, name: str, target: str, hard: bool) -> Path:
    link = tree / name
    if hard:
        link.hardlink_to(tree / target)
    else:
        link.symlink_to(tree / target)
    return link
