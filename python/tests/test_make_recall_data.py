"""Tests of the recall-transcript writer (run by .ci/run)."""
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import make_recall_data as mrd  # noqa: E402

SCRIPT = Path(__file__).resolve().parents[1] / "make_recall_data.py"
WORDS = ["apple", "chair", "lamp", "kettle", "sofa", "drum"]


def write_graphs(path: Path) -> None:
    records = [
        {"task": "graph", "env": {"words": ["lamp", "apple", "chair"]}, "transcript": {"text": "..."}},
        {"task": "two-step", "env": {}, "transcript": {"text": "..."}},
        {"task": "graph", "env": {"words": ["chair", "drum"]}, "transcript": {"text": "..."}},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def body_lines(text: str) -> list[list[str]]:
    assert text.startswith(mrd.RECALL_INSTRUCTION)
    return [line.split(" -> ") for line in text[len(mrd.RECALL_INSTRUCTION):].split("\n")]


def test_graph_words_are_the_union_of_the_graph_experiments_names(tmp_path):
    path = tmp_path / "graphs.jsonl"
    write_graphs(path)
    assert mrd.graph_words([str(path)]) == ["apple", "chair", "drum", "lamp"]


def test_a_file_without_graph_experiments_is_refused_with_the_fix(tmp_path):
    path = tmp_path / "two-step.jsonl"
    path.write_text(json.dumps({"task": "two-step", "transcript": {"text": "..."}}) + "\n")
    with pytest.raises(SystemExit, match="icrl-lens dataset --task graph"):
        mrd.graph_words([str(path)])


def test_lines_layout_repeats_one_list_line_by_line():
    rng = random.Random(1)
    for _ in range(200):
        lines = body_lines(mrd.recall_text(WORDS, "lines", rng))
        assert 2 <= len(lines) <= 3
        assert 8 <= len(lines[0]) <= 40
        assert all(line == lines[0] for line in lines)
        assert set(lines[0]) <= set(WORDS)


def test_chain_layout_is_a_repeated_list_laid_out_as_a_walk():
    rng = random.Random(2)
    for _ in range(200):
        lines = body_lines(mrd.recall_text(WORDS, "chain", rng))
        # Each line starts where the line before ended and takes at most ten steps.
        for before, line in zip(lines, lines[1:]):
            assert line[0] == before[-1]
        assert all(2 <= len(line) <= mrd.STEPS_PER_LINE + 1 for line in lines)
        chain = lines[0] + [name for line in lines[1:] for name in line[1:]]
        # The chain is a list of 5-30 names said at least twice over.
        periods = [k for k in range(5, 31) if len(chain) % k == 0 and len(chain) >= 2 * k and chain == chain[:k] * (len(chain) // k)]
        assert periods
        assert set(chain) <= set(WORDS)


def test_an_unknown_layout_is_refused():
    with pytest.raises(ValueError, match="lines, chain"):
        mrd.recall_text(WORDS, "spiral", random.Random(0))


def test_the_script_is_deterministic_given_its_seed(tmp_path):
    graphs = tmp_path / "graphs.jsonl"
    write_graphs(graphs)
    outs = []
    for name in ("a.jsonl", "b.jsonl"):
        out = tmp_path / name
        subprocess.run([sys.executable, str(SCRIPT), "--words-from", str(graphs), "--layout", "chain",
                        "--n", "20", "--seed", "9", "--out", str(out)], check=True, capture_output=True)
        outs.append(out.read_text())
    assert outs[0] == outs[1]
    records = [json.loads(line) for line in outs[0].splitlines()]
    assert len(records) == 20
    assert all(r["task"] == "recall" and r["layout"] == "chain" for r in records)
    assert all(r["transcript"]["text"].startswith(mrd.RECALL_INSTRUCTION) for r in records)
