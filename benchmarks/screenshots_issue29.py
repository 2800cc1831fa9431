"""Issue 29's before/after screenshots, taken in a real browser (Debian's Chromium, Playwright).

    python benchmarks/screenshots_issue29.py --tree /work/wt/before --name before   # commit 1ff6e1b
    python benchmarks/screenshots_issue29.py --tree . --name after

For the howold checkout at --tree (its code put first on PYTHONPATH; the installed packages are
shared), writes into --out (default docs/screenshots/issue29/):

- NAME_group.png: the page at laptop width (1280 px) with the 1927 group photo uploaded (29 faces):
  the annotated photo, then the gallery below it (1600 px of the page);
- NAME_video.png: the page's result for a clip (3900 px of the page, down to its downloads, shrunk
  to 2800 px tall): a 1280x720 camera panning and zooming over the group photo (2 s, 5 frames/s,
  built as tests/video does), its person table with thumbnails, the annotated video, downloads;
- NAME_frame.png: one frame (the 6th) of `howold predict clip.mp4 --annotate DIR`'s annotated MP4.

Each PNG is quantised to 256 colours (fewer while it is over 400 KB). The clip is built with this
checkout's tests/video_clips.py, so both trees see the same clip.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
GROUP_PHOTO = ROOT.parent / "shared" / "data" / "group-photos" / "Solvay_conference_1927.jpg"
CHROMIUM = "/usr/bin/chromium"
TIMEOUT_MS = 240_000


def build_clip(path: Path) -> Path:
    sys.path.insert(0, str(ROOT / "tests"))
    from video_clips import camera, write_clip

    from howold import load_image

    scene = load_image(GROUP_PHOTO)
    return write_clip(path, camera(scene, 2.0, 5, (1280, 720), pan=0.3, zoom=0.1, noise=2), fps=5)


def start_app(tree: Path, env: dict, log: Path) -> tuple[subprocess.Popen, str]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "howold.cli", "app", "--port", str(port), "--host", "127.0.0.1"],
            cwd=tree, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return process, url
        except OSError:
            time.sleep(0.5)
    process.terminate()
    raise SystemExit(f"the app did not start: {log.read_text(errors='replace')[-2000:]}")


def save_small(source: Path, target: Path, max_height: int | None = None, limit_kb: int = 400) -> None:
    """The screenshot as a palette PNG: 256 colours, fewer while it is over `limit_kb`."""
    image = Image.open(source).convert("RGB")
    if max_height and image.height > max_height:
        image = image.resize((round(image.width * max_height / image.height), max_height), Image.Resampling.LANCZOS)
    for colours in (256, 128, 64, 32):
        image.quantize(colours, method=Image.Quantize.MEDIANCUT).save(target, optimize=True)
        if target.stat().st_size <= limit_kb * 1024:
            break
    print(f"{target}: {image.width}x{image.height}, {target.stat().st_size // 1024} KB")


def page_shots(url: str, clip: Path, name: str, out: Path, work: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(url)
        page.get_by_role("heading", name="howold").wait_for()
        page.locator('[data-testid="stFileUploader"]').first.locator('input[type="file"]').set_input_files(GROUP_PHOTO)
        page.get_by_text("29 faces found").wait_for()
        page.wait_for_timeout(2500)
        heading = page.get_by_role("heading", name=GROUP_PHOTO.name)
        heading.evaluate("e => e.scrollIntoView({block: 'start'})")
        page.set_viewport_size({"width": 1280, "height": 1600})
        page.wait_for_timeout(1500)
        heading.evaluate("e => e.scrollIntoView({block: 'start'})")
        page.wait_for_timeout(800)
        page.screenshot(path=work / "group.png")
        save_small(work / "group.png", out / f"{name}_group.png")

        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(url)
        page.get_by_role("heading", name="Video").wait_for()
        page.locator('[data-testid="stFileUploader"]').nth(1).locator('input[type="file"]').set_input_files(clip)
        page.get_by_text("persons found").first.wait_for()
        page.locator('[data-testid="stVideo"]').wait_for()
        page.wait_for_timeout(2500)
        page.set_viewport_size({"width": 1280, "height": 3900})
        page.get_by_role("heading", name="Video").evaluate("e => e.scrollIntoView({block: 'start'})")
        page.wait_for_timeout(1000)
        page.screenshot(path=work / "video.png", full_page=True)
        save_small(work / "video.png", out / f"{name}_video.png", max_height=2800)
        browser.close()


def frame_shot(tree: Path, env: dict, clip: Path, name: str, out: Path, work: Path, index: int = 5) -> None:
    import av

    folder = work / "annotated"
    run = subprocess.run(
        [sys.executable, "-m", "howold", "predict", str(clip), "--annotate", str(folder), "-q"],
        cwd=tree, env=env, capture_output=True, text=True,
    )  # fmt: skip
    if run.returncode:
        print(run.stderr[-1000:])
    annotated = next(folder.rglob("*.mp4"))
    print(f"python -m howold predict {clip.name} --annotate DIR -> {annotated.relative_to(folder)}")
    with av.open(str(annotated)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i == index:
                frame.to_image().save(work / "frame.png")
                break
    save_small(work / "frame.png", out / f"{name}_frame.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, default=ROOT, help="the howold checkout to show (default: this one)")
    parser.add_argument("--name", required=True, help="file name prefix: before or after")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots" / "issue29")
    args = parser.parse_args()
    tree = args.tree.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(tree)}
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        clip = build_clip(work / "pan.mp4")
        frame_shot(tree, env, clip, args.name, args.out, work)
        process, url = start_app(tree, env, work / "app.log")
        try:
            page_shots(url, clip, args.name, args.out, work)
        finally:
            process.terminate()
            process.wait(20)


if __name__ == "__main__":
    main()
