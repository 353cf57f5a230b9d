#!/usr/bin/env python3
"""Export a Hugging Face causal language model to a folder ICRL Lens loads.

Reads a checkpoint from a local folder (Llama 3.x, Qwen2.5, GPT-2 and other
decoder-only models that transformers loads with AutoModelForCausalLM) and writes:

    OUT/model.onnx (+ model.onnx_data when the weights pass 2 GB)
    OUT/tokenizer.json, tokenizer_config.json   (the fast tokenizer)
    OUT/config.json

The graph is an ordinary export: inputs input_ids, attention_mask and position_ids
([batch, sequence], int64), output logits ([batch, sequence, vocab]). ICRL Lens
finds the residual stream in it by structure, so nothing here is specific to the
tool. For a KV-cache export, use `optimum-cli export onnx --task
text-generation-with-past` instead; ICRL Lens loads those folders too.

Needs torch and transformers (and onnx for large models):
    python3 python/export_hf_model.py /path/to/checkpoint --out models/my-model [--dtype float16]
    icrl-lens model inspect models/my-model
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch


class LogitsOnly(torch.nn.Module):
    """input_ids, attention_mask, position_ids -> logits, with the cache turned off."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask, position_ids):
        out = self.model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                         use_cache=False, return_dict=True)
        return out.logits


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint", help="local folder with config.json, the weights and the tokenizer")
    p.add_argument("--out", required=True, help="model folder to write")
    p.add_argument("--dtype", choices=["float32", "float16", "bfloat16"], default="float32",
                   help="weights' precision in the export (float16 halves the size; ICRL Lens reads float32 residuals either way)")
    p.add_argument("--opset", type=int, default=17)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                   help="where to trace the model (a GPU makes large models faster to export)")
    args = p.parse_args()

    from transformers import AutoModelForCausalLM, AutoTokenizer

    src = Path(args.checkpoint)
    if not (src / "config.json").exists():
        raise SystemExit(f"{src} has no config.json: point at a folder saved with save_pretrained()")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    dtype = getattr(torch, args.dtype)
    model = AutoModelForCausalLM.from_pretrained(str(src), torch_dtype=dtype, local_files_only=True)
    model.config.use_cache = False
    # The eager attention path exports to plain MatMul/Softmax nodes, which every ONNX runtime runs.
    if hasattr(model.config, "_attn_implementation"):
        model.config._attn_implementation = "eager"
    model = model.to(args.device).eval()

    tokenizer = AutoTokenizer.from_pretrained(str(src), local_files_only=True)
    if not tokenizer.is_fast:
        raise SystemExit("the checkpoint has no fast tokenizer (tokenizer.json); convert it with transformers first")
    tokenizer.save_pretrained(str(out))
    model.config.save_pretrained(str(out))

    ids = torch.tensor([[1, 2, 3, 4], [5, 6, 7, 8]], device=args.device)
    mask = torch.ones_like(ids)
    positions = torch.arange(ids.shape[1], device=args.device)[None].expand_as(ids).contiguous()
    onnx_path = out / "model.onnx"
    with torch.no_grad():
        torch.onnx.export(
            LogitsOnly(model), (ids, mask, positions), str(onnx_path),
            input_names=["input_ids", "attention_mask", "position_ids"], output_names=["logits"],
            dynamic_axes={
                "input_ids": {0: "batch_size", 1: "sequence_length"},
                "attention_mask": {0: "batch_size", 1: "sequence_length"},
                "position_ids": {0: "batch_size", 1: "sequence_length"},
                "logits": {0: "batch_size", 1: "sequence_length"},
            },
            opset_version=args.opset, do_constant_folding=True,
        )
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    if weights > 1_800_000_000:
        import onnx

        graph = onnx.load(str(onnx_path), load_external_data=True)
        for stale in out.glob("*.onnx_data"):
            stale.unlink()
        onnx.save_model(graph, str(onnx_path), save_as_external_data=True, all_tensors_to_one_file=True,
                        location="model.onnx_data", size_threshold=1024)
    print(f"wrote {out}; check it with: icrl-lens model inspect {out}")


if __name__ == "__main__":
    main()
