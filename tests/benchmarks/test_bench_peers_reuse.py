"""bench_peers.py --reuse: an earlier run's peer results, read back, summarise as they did when run."""

from __future__ import annotations

import json

import pytest
from repo_scripts import load_script


@pytest.fixture(scope="module")
def bench():
    return load_script("benchmarks/bench_peers.py")


def test_reused_peer_summarises_like_the_run_that_wrote_it(bench, tmp_path):
    data = tmp_path / "data"
    samples = {"utkface": [bench.Sample("utkface", data / "utkface" / f"{age}.jpg", age=age) for age in (10, 30, 50)]}
    peer = [
        bench.Outcome([{"box": (0, 0, 50, 50), "age": 14.0}, {"box": (0, 0, 9, 9), "age": 70.0}], 8.0),
        bench.Outcome([], 5.0),
        bench.Outcome([{"box": (5, 5, 60, 60), "age": 47.0}], 3.0, None),
    ]
    record = [
        {
            "path": str(s.path.relative_to(data)),
            "age": s.age,
            "peer": {"age": o.age, "faces": len(o.faces), "ms": o.ms, "error": o.error},
            "howold": {"age": 1.0, "faces": 1, "ms": 1.0, "error": None},
        }
        for s, o in zip(samples["utkface"], peer)
    ]
    earlier = tmp_path / "earlier.json"
    earlier.write_text(json.dumps({"versions": {"howold": "old", "peer": "1.0"}, "photos": {"utkface": record}}))

    outcomes, versions = bench.reuse(earlier, samples, data, skip={"howold"})
    assert versions == {"peer": "1.0"} and list(outcomes) == ["peer"]
    assert bench.summarise(samples["utkface"], {"peer": outcomes["peer"]["utkface"]}) == bench.summarise(
        samples["utkface"], {"peer": peer}
    )

    samples["utkface"].append(bench.Sample("utkface", data / "utkface" / "70.jpg", age=70))
    with pytest.raises(SystemExit, match="no peer result for every utkface photo"):
        bench.reuse(earlier, samples, data, skip={"howold"})
