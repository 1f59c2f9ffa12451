"""A tiny Llama-style decoder for the int4/int8 rows of `cargo xtask interop`.

transformers' `LlamaForCausalLM` with random weights (seeded): vocabulary
512, hidden 64, intermediate 176 (a multiple of 16 but not of 32, so
`--group-size 32` leaves a partial last group), 2 layers, grouped-query
attention with 4 query and 2 key/value heads, tied input/output embeddings.
Exported by `torch.onnx.export(dynamo=True)` with the weights inside the
file. Writes `llama.onnx`, the token ids `input_ids.npy` ([1, 16], int64)
and torch's own logits `logits.npy` into OUT_DIR.

Usage: python make_tiny_llama.py OUT_DIR   (needs torch, transformers, onnxscript)
"""
import os
import sys

import numpy as np
import torch
from transformers import LlamaConfig, LlamaForCausalLM


class Logits(torch.nn.Module):
    """input_ids -> logits, without the cache (a plain function of the ids)."""

    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids):
        return self.m(input_ids=input_ids, use_cache=False).logits


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=512, hidden_size=64, intermediate_size=176, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True,
                      max_position_embeddings=128)
    model = Logits(LlamaForCausalLM(cfg).eval()).eval()
    ids = torch.randint(0, cfg.vocab_size, (1, 16))
    with torch.no_grad():
        ref = model(ids)
    torch.onnx.export(model, (ids,), os.path.join(out, "llama.onnx"), dynamo=True, input_names=["input_ids"],
                      output_names=["logits"], external_data=False)
    np.save(os.path.join(out, "input_ids.npy"), ids.numpy())
    np.save(os.path.join(out, "logits.npy"), ref.numpy())
    print("ok")


if __name__ == "__main__":
    main()
