"""Toy-size tests of the default model's training script (run by .ci/run with Debian's PyTorch)."""
import csv
import json
import random
import sys
from pathlib import Path

import onnx
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import train_default_model as tdm  # noqa: E402

TOY = ["--d-model", "32", "--layers", "2", "--heads", "4", "--kv-heads", "2", "--d-ff", "48",
       "--max-positions", "256", "--batch-size", "4", "--warmup", "5", "--log-every", "5"]


def toy_transcripts(n: int, seed: int) -> list[str]:
    """Two-step-like lines in which the rewarded label repeats, so there is something to learn."""
    rng = random.Random(seed)
    texts = []
    for _ in range(n):
        good = rng.choice("AB")
        lines = ["You choose spaceships.\n"]
        for trip in range(1, 9):
            pick = good if rng.random() < 0.8 else rng.choice("AB")
            lines.append(f"Trip {trip}: You took spaceship {pick} and received {int(pick == good)} treasure.\n")
        texts.append("".join(lines))
    return texts


def write_dataset(path: Path, texts: list[str]) -> None:
    with open(path, "w") as f:
        for t in texts:
            f.write(json.dumps({"transcript": {"text": t, "spans": []}}) + "\n")


def train(tmp_path: Path, name: str, steps: int, seed: int = 0, extra: tuple[str, ...] = ()) -> Path:
    data = tmp_path / "data.jsonl"
    if not data.exists():
        write_dataset(data, toy_transcripts(64, 1))
    out = tmp_path / name
    argv = ["train", "--data", str(data), "--out", str(out), "--steps", str(steps), "--seed", str(seed), *TOY, *extra]
    old = sys.argv
    sys.argv = argv
    try:
        tdm.main()
    finally:
        sys.argv = old
    return out


def test_pretokens_rebuild_the_text_and_keep_cells_whole():
    text = "Trip 3: You took spaceship A.\n\nEpisode 2:\nb3 right 0\napple -> chair"
    pieces = tdm.PRETOKEN_PATTERN.findall(text)
    assert "".join(pieces) == text
    assert "b3" in pieces and " right" in pieces and " A" in pieces and " ->" in pieces
    # The byte map is GPT-2's: a space is 'Ġ', a newline 'Ċ', printable ASCII unchanged.
    assert tdm.pretokenize(" A\n") == ["ĠA", "Ċ"]


def test_training_writes_a_model_folder_and_learns(tmp_path):
    out = train(tmp_path, "model", steps=60)
    assert {p.name for p in out.iterdir()} >= {"model.onnx", "tokenizer.json", "config.json", "training_log.csv"}
    with open(out / "training_log.csv") as f:
        losses = [float(r["loss"]) for r in csv.DictReader(f)]
    assert losses[-1] < 0.6 * losses[0], losses
    tok = json.loads((out / "tokenizer.json").read_text())
    assert tok["model"]["type"] == "WordLevel" and tok["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] == tdm.PRETOKEN_REGEX
    config = json.loads((out / "config.json").read_text())
    assert config["vocab_size"] == len(tok["model"]["vocab"]) and config["training"]["steps"] == 60


def test_the_same_seed_gives_the_same_model(tmp_path):
    a = train(tmp_path, "a", steps=10, seed=3)
    b = train(tmp_path, "b", steps=10, seed=3)
    c = train(tmp_path, "c", steps=10, seed=4)
    def losses(m: Path) -> list[tuple[str, str, str]]:
        with open(m / "training_log.csv") as f:
            return [(r["step"], r["loss"], r["tokens"]) for r in csv.DictReader(f)]  # wall time aside

    assert losses(a) == losses(b)
    assert losses(a) != losses(c)
    assert (a / "tokenizer.json").read_bytes() == (b / "tokenizer.json").read_bytes()


def test_the_export_is_an_ordinary_onnx_model_with_a_kv_cache(tmp_path):
    out = train(tmp_path, "model", steps=2)
    model = onnx.load(str(out / "model.onnx"))
    onnx.checker.check_model(model)
    inputs = [i.name for i in model.graph.input]
    outputs = [o.name for o in model.graph.output]
    assert inputs[:3] == ["input_ids", "attention_mask", "position_ids"]
    assert "past_key_values.0.key" in inputs and "present.1.value" in outputs and outputs[0] == "logits"
    assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= 14


def test_incremental_decoding_with_the_cache_equals_the_full_pass():
    torch.manual_seed(0)
    cfg = tdm.ModelConfig(vocab_size=40, d_model=32, n_layers=2, n_heads=4, n_kv_heads=2, d_ff=48, max_positions=64)
    model = tdm.Decoder(cfg).eval()
    ids = torch.randint(3, 40, (1, 12))
    with torch.no_grad():
        full, _ = model(ids, torch.ones_like(ids), torch.arange(12)[None])
        head, past = model(ids[:, :7], torch.ones(1, 7, dtype=torch.long), torch.arange(7)[None])
        tail, _ = model(ids[:, 7:], torch.ones(1, 12, dtype=torch.long), torch.arange(7, 12)[None], past)
    assert torch.allclose(torch.cat([head, tail], dim=1), full, atol=1e-5)


def test_a_transcript_longer_than_the_context_is_refused(tmp_path):
    data = tmp_path / "long.jsonl"
    write_dataset(data, ["word " * 400])
    sys.argv = ["train", "--data", str(data), "--out", str(tmp_path / "m"), "--steps", "1", *TOY]
    with pytest.raises(SystemExit, match="more than --max-positions 256"):
        tdm.main()


def test_training_continues_from_an_export_with_its_weights_and_vocabulary(tmp_path):
    first = train(tmp_path, "first", steps=30)
    cfg = json.loads((first / "config.json").read_text())
    model = tdm.Decoder(tdm.ModelConfig(vocab_size=cfg["vocab_size"], d_model=32, n_layers=2, n_heads=4, n_kv_heads=2,
                                        d_ff=48, max_positions=256))
    tdm.load_exported_weights(model, first / "model.onnx")
    vocab = json.loads((first / "tokenizer.json").read_text())["model"]["vocab"]
    ids = torch.tensor([tdm.encode(toy_transcripts(1, 9)[0], vocab)])
    model.eval()
    with torch.no_grad():
        loss = tdm.lm_loss(model, ids, torch.ones_like(ids)).item()
    with open(first / "training_log.csv") as f:
        trained = float(list(csv.DictReader(f))[-1]["loss"])
    fresh = tdm.Decoder(model.cfg).eval()
    with torch.no_grad():
        untrained = tdm.lm_loss(fresh, ids, torch.ones_like(ids)).item()
    # The loaded weights predict like the trained model, not like a fresh one.
    assert abs(loss - trained) < 0.2 and loss < untrained - 1, (loss, trained, untrained)


def test_a_batch_whose_attention_would_not_fit_is_refused_with_a_size_that_fits():
    cfg = tdm.ModelConfig(vocab_size=10, d_model=32, n_layers=2, n_heads=4, n_kv_heads=2, d_ff=48, max_positions=64)
    # Closed form: three float32 [batch, heads, length, length] tensors per block.
    assert tdm.attention_bytes(cfg, 2, 10) == 3 * 2 * 2 * 4 * 10 * 10 * 4
    need = tdm.attention_bytes(cfg, 16, 2000)
    tdm.check_memory(cfg, 16, 2000, None)
    tdm.check_memory(cfg, 16, 2000, 2 * need)
    with pytest.raises(SystemExit, match=r"lower --batch-size to (\d+)") as refused:
        tdm.check_memory(cfg, 16, 2000, need)
    fits = int(str(refused.value).split("--batch-size to ")[1].split()[0])
    assert 1 <= fits < 16
    assert tdm.attention_bytes(cfg, fits, 2000) <= 0.7 * need < tdm.attention_bytes(cfg, fits + 1, 2000)


def test_a_run_over_its_memory_limit_stops_and_exports_what_it_learned(tmp_path, capsys):
    if tdm.resident_bytes() is None:
        pytest.skip("no /proc/self/statm on this system to read the process's memory from")
    out = train(tmp_path, "capped", 50, extra=("--max-memory-gb", "0.001"))
    assert "stopping at step 1: the process holds" in capsys.readouterr().out
    rows = list(csv.DictReader(open(out / "training_log.csv")))
    assert [r["step"] for r in rows] == ["1"]
    config = json.loads((out / "config.json").read_text())
    assert config["training"]["steps"] == 1 and config["training"]["planned_steps"] == 50
    assert (out / "model.onnx").stat().st_size > 0


def test_resident_memory_is_read_in_bytes():
    resident = tdm.resident_bytes()
    if resident is None:
        pytest.skip("no /proc/self/statm on this system")
    # This process holds PyTorch: far more than a megabyte, far less than a terabyte.
    assert 2**20 < resident < 2**40


def test_new_blocks_are_spread_among_the_old_in_order():
    assert tdm.grown_layer_positions(4, 6) == [0, 1, 3, 4]
    assert tdm.grown_layer_positions(4, 8) == [0, 2, 4, 6]
    assert tdm.grown_layer_positions(3, 3) == [0, 1, 2]
    assert tdm.grown_layer_positions(2, 5) == [0, 2]
    with pytest.raises(ValueError):
        tdm.grown_layer_positions(5, 4)


def test_a_model_grown_in_depth_computes_what_the_export_did_and_then_learns(tmp_path):
    first = train(tmp_path, "first", steps=30)
    cfg = json.loads((first / "config.json").read_text())
    shape = dict(vocab_size=cfg["vocab_size"], d_model=32, n_heads=4, n_kv_heads=2, d_ff=48, max_positions=256)
    vocab = json.loads((first / "tokenizer.json").read_text())["model"]["vocab"]
    ids = torch.tensor([tdm.encode(toy_transcripts(1, 9)[0], vocab)])
    positions = torch.arange(ids.shape[1])[None]

    def logits(layers: int) -> torch.Tensor:
        model = tdm.Decoder(tdm.ModelConfig(n_layers=layers, **shape))
        tdm.load_exported_weights(model, first / "model.onnx", exported_layers=2)
        with torch.no_grad():
            return model.eval()(ids, torch.ones_like(ids), positions)[0]

    same = logits(2)
    grown = logits(3)
    assert torch.allclose(grown, same, atol=1e-5), (grown - same).abs().max()
    # A block cannot be dropped on the way.
    with pytest.raises(SystemExit, match="--layers 2 or more"):
        tdm.load_exported_weights(tdm.Decoder(tdm.ModelConfig(n_layers=1, **shape)), first / "model.onnx", exported_layers=2)
    # Through the script: the grown folder has three blocks and trains on from the export's loss.
    grown_dir = train(tmp_path, "grown", steps=20, extra=("--init-from", str(first), "--layers", "3"))
    grown_cfg = json.loads((grown_dir / "config.json").read_text())
    assert grown_cfg["n_layers"] == 3
    with open(first / "training_log.csv") as f:
        before = float(list(csv.DictReader(f))[-1]["loss"])
    with open(grown_dir / "training_log.csv") as f:
        rows = list(csv.DictReader(f))
    assert float(rows[0]["loss"]) < before + 0.5, (rows[0], before)


def toy_record(seed: int, opening: int = 2) -> dict:
    """A two-step-like record as `icrl-lens dataset` writes one: a Q-learning agent's choices,
    their spans, and the policy each was drawn from (uniform in the first `opening` trips)."""
    rng = random.Random(seed)
    good = rng.choice("AB")
    text, spans, latents, scored = "You choose spaceships.\n", [], [], []
    for trip in range(8):
        p_good = 0.5 if trip < opening else 0.8
        probs = [p_good, 1 - p_good] if good == "A" else [1 - p_good, p_good]
        action = 0 if rng.random() < probs[0] else 1
        pick = "AB"[action]
        text += f"Trip {trip + 1}: You took spaceship "
        spans.append({"start": len(text), "end": len(text) + 1, "answer": pick, "allowed": ["A", "B"], "kind": "choice"})
        text += f"{pick} and received {int(pick == good)} treasure.\n"
        latents.append({"action": action, "probs": [0.9, 0.1] if trip < opening else probs})
        scored.append(trip >= opening)
    return {"task": "two-step", "index": seed, "agent": {"model": "q-learning"}, "scored": scored,
            "transcript": {"text": text, "spans": spans}, "latents": latents}


def test_a_choice_learns_from_the_distribution_its_agent_drew_it_from():
    record = toy_record(5)
    [transcript] = [tdm.Transcript(record["transcript"]["text"], tdm.known_choice_distributions(record))]
    vocab = tdm.build_vocab([transcript.text])
    ids = tdm.encode(transcript.text, vocab)
    targets = tdm.choice_targets(transcript, ids, vocab)
    assert len(targets) == 8
    for (token, answers, probs), span, latent, own in zip(targets, record["transcript"]["spans"], record["latents"],
                                                          record["scored"]):
        # The token at the choice is the answer with the space before it; the alternatives are the allowed answers.
        assert ids[token] == vocab["Ġ" + span["answer"]] and answers == [vocab["ĠA"], vocab["ĠB"]]
        # The random opening was drawn uniformly, whatever the learner's own policy then was.
        assert probs == (latent["probs"] if own else [0.5, 0.5])
    # A walk on a graph gives none: its latents are a fitted learner's, not what drew the walk.
    assert tdm.known_choice_distributions({**record, "agent": {"model": "successor-representation"}}) == []
    wrong = json.loads(json.dumps(record))
    wrong["latents"][3]["action"] = 1 - wrong["latents"][3]["action"]
    with pytest.raises(SystemExit, match="not its latent's action"):
        tdm.known_choice_distributions(wrong)


def test_the_policy_target_is_the_expected_cross_entropy_over_the_choice():
    torch.manual_seed(0)
    record = toy_record(6)
    transcript = tdm.Transcript(record["transcript"]["text"], tdm.known_choice_distributions(record))
    vocab = tdm.build_vocab([transcript.text, " A B"])
    ids = tdm.encode(transcript.text, vocab)
    cfg = tdm.ModelConfig(vocab_size=len(vocab), d_model=32, n_layers=2, n_heads=4, n_kv_heads=2, d_ff=48, max_positions=256)
    model = tdm.Decoder(cfg).eval()
    batch = torch.tensor([ids])
    mask = torch.ones_like(batch)
    token, answers, _ = tdm.choice_targets(transcript, ids, vocab)[4]

    def loss(probs: list[float]) -> float:
        with torch.no_grad():
            return tdm.lm_loss(model, batch, mask, tdm.choice_batch([[(token, answers, probs)]])).item()

    with torch.no_grad():
        sampled = tdm.lm_loss(model, batch, mask).item()
    drawn = answers.index(ids[token])
    one_hot = [1.0 if i == drawn else 0.0 for i in range(2)]
    # All the probability on the token drawn is the ordinary next-token loss (F.cross_entropy's own path) ...
    assert loss(one_hot) == pytest.approx(sampled, abs=1e-6)
    # ... and a distribution gives the loss expected over it: linear in the probabilities between the two answers.
    other = loss(one_hot[::-1])
    assert abs(other - sampled) > 1e-4
    assert loss([0.3, 0.7]) == pytest.approx(0.3 * loss([1.0, 0.0]) + 0.7 * loss([0.0, 1.0]), abs=1e-6)


def test_training_on_policy_targets_learns_and_says_so(tmp_path, capsys):
    data = tmp_path / "records.jsonl"
    with open(data, "w") as f:
        for seed in range(64):
            f.write(json.dumps(toy_record(seed)) + "\n")
    out = tmp_path / "policy"
    sys.argv = ["train", "--data", str(data), "--out", str(out), "--steps", "60", "--choice-targets", "policy", *TOY]
    tdm.main()
    assert "512 choices learnt from their policy" in capsys.readouterr().out
    with open(out / "training_log.csv") as f:
        losses = [float(r["loss"]) for r in csv.DictReader(f)]
    assert losses[-1] < 0.6 * losses[0], losses
    assert json.loads((out / "config.json").read_text())["training"]["choice_targets"] == "policy"
