"""Glue for transformers' mask functions: a few lines each, the real function imported from the installed package.

Imported only as a TARGET (``maskoracle check maskoracle.gallery.transformers_glue:NAME``, and by ``maskoracle
gallery``), in the worker process, with transformers on its path: importing this module imports transformers, so a
missing or broken transformers reads as "cannot be imported", not as a failed check. Written for transformers 5.x
(``masking_utils`` with ``q_offset`` and ``block_sequence_ids``; PaliGemma and Gemma 3's ``create_masks_for_generate``).

The glue builds only what the real function wants besides the mask inputs: a config naming the attention
implementation (``sdpa``: a bool mask; ``eager``: an additive ``finfo(dtype).min`` mask) and ``inputs_embeds``, of
which transformers reads only the shape, dtype and device.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import torch
from transformers import Gemma3Config, PaliGemmaConfig, PreTrainedConfig, masking_utils
from transformers.models.gemma3.modeling_gemma3 import Gemma3ForConditionalGeneration
from transformers.models.paligemma.modeling_paligemma import PaliGemmaForConditionalGeneration


@cache
def _config(kind: str, attention: str) -> Any:
    """A default config of ``kind`` whose (text) attention implementation is ``attention``."""
    config = {"plain": PreTrainedConfig, "paligemma": PaliGemmaConfig, "gemma3": Gemma3Config}[kind]()
    config.get_text_config()._attn_implementation = attention
    config._attn_implementation = attention
    return config


def _embeddings(mask: torch.Tensor) -> torch.Tensor:
    """What transformers reads from ``inputs_embeds``: batch, length, dtype (float32) and device."""
    return torch.zeros(*mask.shape, 1, device=mask.device)


def _full_attention(masks: Any) -> Any:
    """The mask of the full-attention layers, where a model builds one mask per layer type."""
    return masks["full_attention"] if isinstance(masks, dict) else masks


# --- masking_utils: the causal + padding masks of every decoder --------------------------------------------------

def sdpa_mask(pad_masks: torch.Tensor, att_masks: torch.Tensor) -> Any:
    """``masking_utils.sdpa_mask`` with the 2D padding mask: causal, padded keys masked (``None`` where SDPA's
    ``is_causal`` suffices)."""
    B, L = pad_masks.shape
    return masking_utils.sdpa_mask(batch_size=B, q_length=L, kv_length=L, attention_mask=pad_masks.bool(),
                                   device=pad_masks.device)


def create_causal_mask(pad_masks: torch.Tensor, att_masks: torch.Tensor) -> Any:
    """``masking_utils.create_causal_mask`` as a decoder's forward calls it, SDPA attention, no cache."""
    return masking_utils.create_causal_mask(_config("plain", "sdpa"), _embeddings(pad_masks), pad_masks, None)


def create_causal_mask_eager(pad_masks: torch.Tensor, att_masks: torch.Tensor) -> Any:
    """The same for eager attention: an additive float32 mask, ``finfo(float32).min`` where masked."""
    return masking_utils.create_causal_mask(_config("plain", "eager"), _embeddings(pad_masks), pad_masks, None)


def create_causal_mask_blocks(pad_masks: torch.Tensor, att_masks: torch.Tensor) -> Any:
    """``create_causal_mask`` with ``block_sequence_ids`` (its ``blockwise_overlay``: a block sees itself whole, and
    causally the past), given each token's block id ``cumsum(att)`` (SPEC §2): block_causal with padded keys."""
    blocks = torch.cumsum(att_masks.long(), dim=1)
    return masking_utils.create_causal_mask(_config("plain", "sdpa"), _embeddings(pad_masks), pad_masks, None,
                                            block_sequence_ids=blocks)


def sdpa_mask_kv_cache(prefix_pad: torch.Tensor, suffix_pad: torch.Tensor, suffix_att: torch.Tensor) -> Any:
    """``sdpa_mask`` for S new queries after P cached tokens (``q_offset=P``, the cache position), keys the cached
    prefix and the new tokens, with their 2D padding mask: ``--kind kv_cache``."""
    (B, P), S = prefix_pad.shape, suffix_pad.shape[1]
    return masking_utils.sdpa_mask(batch_size=B, q_length=S, kv_length=P + S, q_offset=P,
                                   attention_mask=torch.cat([prefix_pad, suffix_pad], dim=1).bool(),
                                   device=prefix_pad.device)


def sdpa_mask_decoding(pad_masks: torch.Tensor, att_masks: torch.Tensor) -> Any:
    """``sdpa_mask`` for one decoding step: the last of T tokens queries all T (``q_offset=T-1``): ``--kind
    incremental``."""
    B, T = pad_masks.shape
    return masking_utils.sdpa_mask(batch_size=B, q_length=1, kv_length=T, q_offset=T - 1,
                                   attention_mask=pad_masks.bool(), device=pad_masks.device)


# --- vision-language models: prefix-LM and image groups from token_type_ids -------------------------------------

def paligemma_mask(attention_mask: torch.Tensor, token_type_ids: torch.Tensor) -> Any:
    """PaliGemma's mask, as its ``create_masks_for_generate`` (and its forward) builds it from ``attention_mask`` and
    ``token_type_ids`` (0 = prefix: one bidirectional block; 1 = suffix: causal): ``--inputs paligemma``."""
    return _full_attention(PaliGemmaForConditionalGeneration.create_masks_for_generate(
        _config("paligemma", "sdpa"), _embeddings(attention_mask), attention_mask, None, None,
        token_type_ids=token_type_ids))


def paligemma_mask_eager(attention_mask: torch.Tensor, token_type_ids: torch.Tensor) -> Any:
    """The same for eager attention: an additive float32 mask."""
    return _full_attention(PaliGemmaForConditionalGeneration.create_masks_for_generate(
        _config("paligemma", "eager"), _embeddings(attention_mask), attention_mask, None, None,
        token_type_ids=token_type_ids))


def gemma3_mask(attention_mask: torch.Tensor, token_type_ids: torch.Tensor) -> Any:
    """Gemma 3's full-attention mask, as its ``create_masks_for_generate`` builds it from ``attention_mask`` and
    ``token_type_ids`` (1 = image token: each run of them one bidirectional group; text causal): ``--inputs
    gemma3``."""
    return _full_attention(Gemma3ForConditionalGeneration.create_masks_for_generate(
        _config("gemma3", "sdpa"), _embeddings(attention_mask), attention_mask, None, None,
        token_type_ids=token_type_ids))
