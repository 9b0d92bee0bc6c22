"""The restore's scale curve, from the figures ``bench/restore.py`` wrote for several sizes.

Run the restore benchmark at each size first (each run writes ``artifacts/bench-restore-<size>.json``), then:

    .venv/bin/python bench/restore.py --size-mb 256 --repeat 3
    .venv/bin/python bench/restore.py --size-mb 1024 --repeat 5
    .venv/bin/python bench/restore.py --size-mb 4096 --repeat 3
    .venv/bin/python bench/curve.py

For every size it prints the default restore's (c) median and how many times its 1 GB median that is, each ratio
with its ceiling on the machine that measured it and its change from 1 GB, and the peak RSS of the register.dr
restores. Then it checks the targets: each ratio at least its target at 1 GB; at larger sizes no ratio more than
10 % below its 1 GB value; c at 4 GB within 4.4 times its 1 GB time; peak RSS under 300 MB at every size. A
target missed where even the ceiling misses it is marked "beyond this machine": no engine doing the default restore's
work (CPU core-seconds, machine-wide) could meet it on those cores. Exits 1 when a target is missed, 2 without the
1 GB figures.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
TARGETS = {"d/c": 1.3, "a/c": 2.0, "d/e": 1.5, "p/c": 1.3}
BASE_MB = 1024  # the size the ratios' targets are set at and the others are compared with
DRIFT = 0.10  # how far below its 1 GB value a ratio may fall at another size
GROWTH_AT = {4096: 4.4}  # c's time at this size, at most this many times its 1 GB time
RSS_MB = 300
NAME = re.compile(r"bench-restore-(\d+)\.json$")


def load(folder: Path) -> dict[int, dict]:
    """The benchmark's figures by size (MB of SQL asked for), from ``bench-restore-<size>.json`` in ``folder``."""
    figures = {}
    for path in sorted(folder.glob("bench-restore-*.json")):
        match = NAME.search(path.name)
        if match:
            figures[int(match.group(1))] = json.loads(path.read_text())
    return figures


def lowest_time(figures: dict, method: str) -> float | None:
    """The least time ``method`` could take on the machine that measured it: its CPU work spread over every core
    (what each ratio's ceiling divides by: ceiling = top's median / lowest time of the bottom method)."""
    for ratio, ceiling in figures["ceilings"].items():
        top, bottom = ratio.split("/")
        if bottom == method and ceiling:
            return figures["medians"][top] / ceiling
    return None


def assess(figures: dict[int, dict]) -> tuple[list[str], list[str]]:
    """The targets met and missed, each as a sentence with its figures."""
    met, missed = [], []

    def verdict(ok: bool, text: str, possible: bool = True) -> None:
        if ok:
            met.append(text)
        else:
            missed.append(text + ("" if possible else " - beyond this machine"))

    base = figures[BASE_MB]
    for size, fig in sorted(figures.items()):
        ratios, ceilings = fig["ratios"], fig["ceilings"]
        for ratio, target in TARGETS.items():
            if ratio not in ratios:
                continue
            value, ceiling = ratios[ratio], ceilings[ratio]
            if size == BASE_MB:
                verdict(value >= target, f"{size} MB {ratio} {value:.2f} >= {target} (ceiling {ceiling:.3f})",
                        ceiling >= target)
            elif size > BASE_MB and ratio in base["ratios"]:
                floor = base["ratios"][ratio] * (1 - DRIFT)
                verdict(value >= floor, f"{size} MB {ratio} {value:.2f} within {DRIFT:.0%} of its {BASE_MB} MB "
                        f"{base['ratios'][ratio]:.2f} (at least {floor:.3f}; ceiling {ceiling:.3f})", ceiling >= floor)
        for method, info in sorted(fig["details"].items()):
            rss = info["peak_rss_mb"]
            verdict(rss < RSS_MB, f"{size} MB peak RSS of {method} {rss:.0f} MB < {RSS_MB} MB")
        limit = GROWTH_AT.get(size)
        if limit and "c" in fig["medians"] and "c" in base["medians"]:
            growth = fig["medians"]["c"] / base["medians"]["c"]
            text = (f"{size} MB c {fig['medians']['c']:.2f} s = {growth:.2f} x its {BASE_MB} MB "
                    f"{base['medians']['c']:.2f} s, at most {limit} x")
            lowest = lowest_time(fig, "c")
            least = lowest / base["medians"]["c"] if lowest else None
            if least is not None:
                text += f" (its work allows {least:.2f} x)"
            verdict(growth <= limit, text, least is None or least <= limit)
    return met, missed


def show(figures: dict[int, dict]) -> None:
    console = Console(width=120)
    base = figures[BASE_MB]
    table = Table(title="The restore's curve (c: streamed parallel, the default)")
    ratios = [r for r in ("d/c", "a/c", "d/e", "p/c") if r in base["ratios"]]
    for column in ("MB of SQL", "c median s", f"x {BASE_MB} MB", *ratios, "peak RSS MB b/c/e"):
        table.add_column(column)
    for size, fig in sorted(figures.items()):
        c = fig["medians"].get("c")
        growth = f"{c / base['medians']['c']:.2f}" if c and "c" in base["medians"] else "-"
        cells = []
        for ratio in ratios:
            if ratio not in fig["ratios"]:
                cells.append("-")
                continue
            change = fig["ratios"][ratio] / base["ratios"][ratio] - 1
            cells.append(f"{fig['ratios'][ratio]:.2f} ({fig['ceilings'][ratio]:.2f}) {change:+.0%}")
        rss = "/".join(f"{fig['details'][m]['peak_rss_mb']:.0f}" if m in fig["details"] else "-" for m in "bce")
        table.add_row(str(size), f"{c:.2f}" if c else "-", growth, *cells, rss)
    console.print(table)
    console.print("each ratio: value (ceiling on the machine that measured it) change from "
                  f"{BASE_MB} MB")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--artifacts", type=Path, default=REPO / "artifacts",
                        help="where bench/restore.py wrote bench-restore-<size>.json (default artifacts/)")
    args = parser.parse_args(argv)
    figures = load(args.artifacts)
    if BASE_MB not in figures:
        print(f"no {args.artifacts / f'bench-restore-{BASE_MB}.json'}: run "
              f"`.venv/bin/python bench/restore.py --size-mb {BASE_MB}` first (and at the other sizes to compare)",
              file=sys.stderr)
        return 2
    show(figures)
    met, missed = assess(figures)
    for text in met:
        print(f"met     {text}")
    for text in missed:
        print(f"missed  {text}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
