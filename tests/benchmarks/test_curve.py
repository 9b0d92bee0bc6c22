"""bench/curve.py: the restore's scale curve and its targets, from the figures bench/restore.py writes."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

CURVE = Path(__file__).resolve().parents[2] / "bench" / "curve.py"


@pytest.fixture(scope="module")
def curve():
    spec = importlib.util.spec_from_file_location("bench_curve", CURVE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def figures(medians: dict, work: dict, rss: float = 200.0, cores: int = 2) -> dict:
    """What bench/restore.py writes: medians, ratios, and ceilings = top's median / (bottom's work / cores)."""
    ratios, ceilings = {}, {}
    for top, bottom in (("d", "c"), ("a", "c"), ("d", "e"), ("p", "c")):
        ratios[f"{top}/{bottom}"] = medians[top] / medians[bottom]
        ceilings[f"{top}/{bottom}"] = medians[top] / (work[bottom] / cores)
    return {"medians": medians, "ratios": ratios, "ceilings": ceilings,
            "busy": {m: [w] for m, w in work.items()},
            "details": {m: {"peak_rss_mb": rss} for m in "bce"}}


def write(folder: Path, size: int, fig: dict) -> None:
    (folder / f"bench-restore-{size}.json").write_text(json.dumps(fig))


ONE_GB = figures({"a": 21.0, "c": 10.0, "d": 15.5, "e": 9.0, "p": 13.5}, {"c": 18.0, "e": 16.0})


def test_scale_within_targets_passes(curve, tmp_path, capsys):
    write(tmp_path, 1024, ONE_GB)
    write(tmp_path, 4096, figures({"a": 86.0, "c": 42.0, "d": 64.0, "e": 37.0, "p": 55.0}, {"c": 76.0, "e": 68.0}))
    assert curve.main(["--artifacts", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "missed" not in out
    assert "4096 MB c 42.00 s = 4.20 x its 1024 MB 10.00 s, at most 4.4 x" in out


def test_superlinear_growth_and_ratio_drift_are_missed(curve, tmp_path, capsys):
    """c growing 4.8 x from 1 GB to 4 GB, with work that would allow 4.0 x, is missed but not beyond the machine;
    d/c falling from 1.55 to 1.29 (17 %) is a drift past 10 %."""
    write(tmp_path, 1024, ONE_GB)
    write(tmp_path, 4096, figures({"a": 90.0, "c": 48.0, "d": 62.0, "e": 40.0, "p": 50.0}, {"c": 80.0, "e": 70.0}))
    assert curve.main(["--artifacts", str(tmp_path)]) == 1
    missed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("missed")]
    growth = [line for line in missed if "4096 MB c 48.00 s = 4.80 x" in line]
    assert growth and "its work allows 4.00 x" in growth[0] and "beyond this machine" not in growth[0]
    drift = [line for line in missed if "4096 MB d/c 1.29 within 10% of its 1024 MB 1.55" in line]
    assert drift and "beyond this machine" not in drift[0]


def test_a_target_above_the_ceiling_is_beyond_this_machine(curve, tmp_path, capsys):
    """p/c needs p at least 1.3 x c; with c's work filling both cores for 45 s and p taking 50 s, no engine doing
    that work could reach it on two cores."""
    write(tmp_path, 1024, ONE_GB)
    write(tmp_path, 4096, figures({"a": 95.0, "c": 49.0, "d": 70.0, "e": 43.0, "p": 50.0}, {"c": 90.0, "e": 80.0}))
    assert curve.main(["--artifacts", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "missed  4096 MB p/c 1.02 within 10% of its 1024 MB 1.35 (at least 1.215; ceiling 1.111) " \
           "- beyond this machine" in out
    assert "its work allows 4.50 x) - beyond this machine" in out


def test_memory_over_the_limit_is_missed(curve, tmp_path, capsys):
    write(tmp_path, 1024, figures({"a": 21.0, "c": 10.0, "d": 15.5, "e": 9.0, "p": 13.5}, {"c": 18.0, "e": 16.0},
                                  rss=310.0))
    assert curve.main(["--artifacts", str(tmp_path)]) == 1
    assert "missed  1024 MB peak RSS of c 310 MB < 300 MB" in capsys.readouterr().out


def test_without_the_1_gb_figures_it_says_what_to_run(curve, tmp_path, capsys):
    write(tmp_path, 4096, ONE_GB)
    assert curve.main(["--artifacts", str(tmp_path)]) == 2
    assert "bench/restore.py --size-mb 1024" in capsys.readouterr().err


def test_growth_without_ratios_is_judged_on_time_alone(curve, tmp_path, capsys):
    """Run with ``--methods c`` only, the figures hold no ratio and no ceiling to bound c's time by."""
    for size, c in ((1024, 10.0), (4096, 46.0)):
        write(tmp_path, size, {"medians": {"c": c}, "ratios": {}, "ceilings": {}, "details": {}})
    assert curve.main(["--artifacts", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "missed  4096 MB c 46.00 s = 4.60 x its 1024 MB 10.00 s, at most 4.4 x\n" in out
