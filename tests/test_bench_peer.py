"""The benchmark's side of the peer shop (bench/peer.py, bench/run.py): what it
makes of the peer process's answers, where it looks for django-oscar, and the
ratios against the peer. The peer's own side is tested in oscar_project/."""

import json
import sys
from pathlib import Path

import pytest

if not (Path(__file__).resolve().parent.parent / "bench").is_dir():
    # The suite's run against the built wheel copies tests/ alone.
    pytest.skip("no bench/ beside tests/ here", allow_module_level=True)

from bench import peer

RUN = {
    "orders": 2000,
    "seconds": 40.0,
    "orders_per_s": 50.0,
    "statements_per_order": 20.0,
    "cpu_seconds": 31.2,
    "rows": {"orders_shipped": 2000},
    "rows_ok": True,
}


def test_a_run_answer_is_read_with_its_figures():
    answer = peer.parse_answer(json.dumps(RUN) + "\n", peer.RUN_KEYS)
    assert answer == RUN


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("", "ended without answering"),
        ("Traceback (most recent call last):\n", "answered no JSON"),
        ("[1, 2]\n", "no JSON object"),
        ('{"error": "Traceback: boom"}\n', "failed:\nTraceback: boom"),
    ],
)
def test_a_failed_or_garbled_answer_is_an_error(line, message):
    with pytest.raises(peer.PeerError, match=message):
        peer.parse_answer(line)


def test_a_run_answer_without_a_figure_is_an_error():
    partial = {key: value for key, value in RUN.items() if key != "rows_ok"}
    with pytest.raises(peer.PeerError, match="lacks rows_ok"):
        peer.parse_answer(json.dumps(partial), peer.RUN_KEYS)


def test_without_an_oscar_environment_the_peer_is_skipped_and_says_why(
    monkeypatch, tmp_path
):
    monkeypatch.delenv("BENCH_OSCAR_PYTHON", raising=False)
    monkeypatch.setattr(peer, "ROOT", tmp_path)
    monkeypatch.setattr(
        peer,
        "CANDIDATES",
        (tmp_path / ".venv-oscar/bin/python", tmp_path / ".tox/oscar/bin/python"),
    )
    python, why = peer.find_python()
    assert python is None
    assert ".venv-oscar/bin/python" in why and "make .venv-oscar/.installed" in why


def test_a_python_without_oscar_is_no_candidate(monkeypatch):
    if peer._probe(sys.executable) is not None:
        pytest.skip("this Python has django-oscar")  # the main suite's has not
    monkeypatch.delenv("BENCH_OSCAR_PYTHON", raising=False)
    monkeypatch.setattr(peer, "CANDIDATES", (Path(sys.executable),))
    assert peer.find_python()[0] is None


def test_a_named_python_that_cannot_run_the_peer_fails(monkeypatch, tmp_path):
    monkeypatch.setenv("BENCH_OSCAR_PYTHON", str(tmp_path / "no-such-python"))
    with pytest.raises(peer.PeerError, match="BENCH_OSCAR_PYTHON"):
        peer.find_python()


def _summary(*rates):
    return {
        "median_orders_per_s": sorted(rates)[len(rates) // 2],
        "runs": [{"orders_per_s": rate} for rate in rates],
    }


def test_ratios_to_the_peer_compare_each_run_with_the_peers_run_of_its_round():
    from bench.run import add_ratios, check_targets

    results = {
        "baseline": _summary(200.0, 150.0, 210.0),
        "peer": _summary(50.0, 40.0, 60.0),
        "per_order": _summary(110.0, 100.0, 114.0),
        "end_to_end": _summary(300.0, 280.0, 290.0),
    }
    add_ratios(results, "baseline")
    add_ratios(results, "peer")
    assert results["per_order"]["ratio_to_peer"] == round(110.0 / 50.0, 2)
    assert results["per_order"]["ratio_to_peer_by_round"] == [2.2, 2.5, 1.9]
    assert results["per_order"]["median_ratio_to_peer_by_round"] == 2.2
    assert results["peer"]["ratio_to_peer_by_round"] == [1.0, 1.0, 1.0]
    targets = {target["target"]: target for target in check_targets(results)}
    assert targets["per-order >= 2x peer"]["met"]
    assert targets["per-order >= 2x peer"]["unit"] == "x peer"
    assert not targets["end to end >= 10x peer"]["met"]
    assert not targets["per-order >= 2x baseline"]["met"]


def test_without_the_peer_its_targets_are_not_reported():
    from bench.run import add_ratios, check_targets

    results = {"baseline": _summary(200.0), "per_order": _summary(110.0)}
    add_ratios(results, "baseline")
    labels = [target["target"] for target in check_targets(results)]
    assert labels == ["per-order >= 2x baseline"]
