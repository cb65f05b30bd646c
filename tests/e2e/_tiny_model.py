"""A tiny llama-architecture model written with the `gguf` package: random weights, a
byte-level SentencePiece vocabulary and a chat template, a few hundred KiB.

It produces gibberish, which is the point: the end-to-end tests prove the wire format,
streaming and fallback through a real inference server, not what a model says. Made by
the tests, so no weights are downloaded from anywhere. Run by `.venv-e2e`'s Python
(where gguf is): `python -m tests.e2e._tiny_model OUT.gguf`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import gguf
import numpy as np

EMBEDDING = 64
LAYERS = 2
HEADS = 4
KV_HEADS = 2
FEED_FORWARD = 128
CONTEXT = 2048
# ChatML, which llama.cpp's server renders with its Jinja engine from the file itself.
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
_WORDS = ("the", "a", "of", "to", "and", "in", "is", "it", "you", "that", "he", "was", "on")


def _vocabulary() -> tuple[list[str], list[float], list[int]]:
    """<unk> <s> </s>, the ChatML markers, every byte (for byte fallback), then words."""
    tokens = ["<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"]
    kinds = [
        gguf.TokenType.UNKNOWN,
        gguf.TokenType.CONTROL,
        gguf.TokenType.CONTROL,
        gguf.TokenType.CONTROL,
        gguf.TokenType.CONTROL,
    ]
    tokens += [f"<0x{byte:02X}>" for byte in range(256)]
    kinds += [gguf.TokenType.BYTE] * 256
    for word in _WORDS:
        tokens.append("\u2581" + word)
        kinds.append(gguf.TokenType.NORMAL)
    scores = [0.0] * 261 + [-float(i) for i in range(len(_WORDS))]
    return tokens, scores, [int(kind) for kind in kinds]


def write_tiny_model(path: Path, seed: int = 7) -> Path:
    tokens, scores, kinds = _vocabulary()
    rng = np.random.default_rng(seed)

    def weights(*shape: int) -> np.ndarray:  # type: ignore[type-arg]
        return (rng.standard_normal(shape) * 0.02).astype(np.float32)

    head_size = EMBEDDING // HEADS
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("policy-engine tiny test model")
    writer.add_context_length(CONTEXT)
    writer.add_embedding_length(EMBEDDING)
    writer.add_block_count(LAYERS)
    writer.add_feed_forward_length(FEED_FORWARD)
    writer.add_head_count(HEADS)
    writer.add_head_count_kv(KV_HEADS)
    writer.add_rope_dimension_count(head_size)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_vocab_size(len(tokens))
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(kinds)
    writer.add_unk_token_id(0)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(4)  # <|im_end|> ends an answer, as ChatML models do
    writer.add_add_bos_token(True)
    writer.add_chat_template(CHAT_TEMPLATE)
    # numpy shapes are (rows, columns): ggml's dimensions reversed.
    writer.add_tensor("token_embd.weight", weights(len(tokens), EMBEDDING))
    writer.add_tensor("output_norm.weight", np.ones(EMBEDDING, dtype=np.float32))
    writer.add_tensor("output.weight", weights(len(tokens), EMBEDDING))
    for layer in range(LAYERS):
        block = f"blk.{layer}"
        writer.add_tensor(f"{block}.attn_norm.weight", np.ones(EMBEDDING, dtype=np.float32))
        writer.add_tensor(f"{block}.attn_q.weight", weights(EMBEDDING, EMBEDDING))
        writer.add_tensor(f"{block}.attn_k.weight", weights(KV_HEADS * head_size, EMBEDDING))
        writer.add_tensor(f"{block}.attn_v.weight", weights(KV_HEADS * head_size, EMBEDDING))
        writer.add_tensor(f"{block}.attn_output.weight", weights(EMBEDDING, EMBEDDING))
        writer.add_tensor(f"{block}.ffn_norm.weight", np.ones(EMBEDDING, dtype=np.float32))
        writer.add_tensor(f"{block}.ffn_gate.weight", weights(FEED_FORWARD, EMBEDDING))
        writer.add_tensor(f"{block}.ffn_up.weight", weights(FEED_FORWARD, EMBEDDING))
        writer.add_tensor(f"{block}.ffn_down.weight", weights(EMBEDDING, FEED_FORWARD))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


if __name__ == "__main__":
    write_tiny_model(Path(sys.argv[1]))
