"""How many scans the JPEGs under a folder hold, as howold counts them (`howold.io.jpeg_scans`):
the measurement behind `howold.io.MAX_JPEG_SCANS`.

    python scripts/jpeg_scans.py ../shared/data

Prints each scan count with the number of files that hold it, and the files above the limit.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from howold.io import MAX_JPEG_SCANS, jpeg_scans


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    args = parser.parse_args()
    counts: Counter[int] = Counter()
    above = []
    for path in sorted(args.folder.rglob("*")):
        if path.suffix.lower() in (".jpg", ".jpeg") and path.is_file():
            scans = jpeg_scans(path.read_bytes())
            counts[scans] += 1
            if scans > MAX_JPEG_SCANS:
                above.append(path)
    for scans, files in sorted(counts.items()):
        print(f"{scans:>5} scans: {files:,} files")
    print(f"{len(above)} above the limit of {MAX_JPEG_SCANS}" + "".join(f"\n  {path}" for path in above))


if __name__ == "__main__":
    main()
