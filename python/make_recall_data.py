"""Writes recall transcripts: a random list of object names, then the same list again.

The community graph can only be learned in context by looking back: where was the
walk the last time it stood on this node, and where did it go next? That lookup
(an induction head) did not form in the default model from graph walks alone,
whose next node is one of four, so the signal for it is weak. In a recall
transcript the next name after a repeat is certain, so the signal is strong; the
default model's card gives what training on them did (the lookup formed slowly,
and the model drifted from the tasks). The names are the graph's own: the union
of the node names in the graph experiments given with --words-from. Instruction
words a model's vocabulary lacks are read as <unk>.

Two layouts:
  lines   the list on one line, then repeated on the next lines (2-3 copies of
          8-40 names)
  chain   the list repeated 2-4 times as one chain of 5-30 names, laid out as a
          graph walk is: lines of ten steps, each starting from the last name of
          the line before, so a repeat starts anywhere in a line

Each line of the output is a JSON object with the dataset's fields the training
script reads: {"task": "recall", "layout": ..., "transcript": {"text": ...}}.

    /usr/bin/python3 python/make_recall_data.py --words-from graph.jsonl \\
        --layout chain --n 40000 --seed 3 --out recall-chain.jsonl
"""
from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

RECALL_INSTRUCTION = "You will see a list of objects, then the same list again.\n\n"
LAYOUTS = ("lines", "chain")
STEPS_PER_LINE = 10


def graph_words(paths: list[str]) -> list[str]:
    """The node names of every graph experiment in the files, sorted."""
    words: set[str] = set()
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                record = json.loads(line)
                if record.get("task") != "graph":
                    continue
                names = record.get("env", {}).get("words")
                if not isinstance(names, list) or not all(isinstance(w, str) for w in names):
                    raise SystemExit(f"{path}:{number}: a graph experiment without env.words; "
                                     "write it with `icrl-lens dataset --task graph`")
                words.update(names)
    if len(words) < 2:
        raise SystemExit(f"found {len(words)} node names in {', '.join(paths)}: "
                         "give graph experiments from `icrl-lens dataset --task graph`")
    return sorted(words)


def recall_text(words: list[str], layout: str, rng: random.Random) -> str:
    if layout == "lines":
        names = [rng.choice(words) for _ in range(rng.randint(8, 40))]
        lines = [" -> ".join(names)] * rng.randint(2, 3)
    elif layout == "chain":
        names = [rng.choice(words) for _ in range(rng.randint(5, 30))]
        chain = names * rng.randint(2, 4)
        lines = [" -> ".join(chain[s:s + STEPS_PER_LINE + 1]) for s in range(0, len(chain) - 1, STEPS_PER_LINE)]
    else:
        raise ValueError(f"layout {layout!r}: use one of {', '.join(LAYOUTS)}")
    return RECALL_INSTRUCTION + "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--words-from", nargs="+", required=True, help="graph experiments (JSONL from `icrl-lens dataset --task graph`)")
    p.add_argument("--layout", choices=LAYOUTS, required=True)
    p.add_argument("--n", type=int, required=True, help="transcripts to write")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    args = p.parse_args()
    if args.n < 1:
        raise SystemExit(f"--n {args.n}: write at least one transcript")
    words = graph_words(args.words_from)
    rng = random.Random(args.seed)
    out = Path(args.out)
    with open(out, "w", encoding="utf-8") as f:
        for _ in range(args.n):
            text = recall_text(words, args.layout, rng)
            f.write(json.dumps({"task": "recall", "layout": args.layout, "transcript": {"text": text}}) + "\n")
    print(f"wrote {args.n} recall transcripts ({args.layout}, {len(words)} names) to {out}", flush=True)


if __name__ == "__main__":
    main()
