"""Glue for transformers 4.57's mask functions (the last 4.x API): ``cache_position`` tensors, PaliGemma's
``_update_causal_mask``, Gemma 3's ``token_type_ids_mask_function`` through its ``create_masks_for_generate``.

Imported only as a TARGET, in the worker process, with transformers 4.57 on its path (see
``transformers_glue.py`` for 5.x). ``cache_position`` is what 4.x passes instead of 5.x's ``q_offset``: the
positions of the queries in the whole sequence, ``arange(P, P + S)`` after ``P`` cached tokens.
"""

from __future__ import annotations

from functools import cache
from types import SimpleNamespace
from typing import Any

import torch
from transformers import Gemma3Config, PaliGemmaConfig, PretrainedConfig, masking_utils
from transformers.models.gemma3.modeling_gemma3 import Gemma3ForConditionalGeneration
from transformers.models.paligemma.modeling_paligemma import PaliGemmaModel


@cache
def _config(kind: str) -> Any:
    """A default config of ``kind``, SDPA attention."""
    config = {"plain": PretrainedConfig, "paligemma": PaliGemmaConfig, "gemma3": Gemma3Config}[kind]()
    config.get_text_config()._attn_implementation = "sdpa"
    config._attn_implementation = "sdpa"
    return config


def _embeddings(mask: torch.Tensor) -> torch.Tensor:
    return torch.zeros(*mask.shape, 1, device=mask.device)


def _positions(start: int, stop: int, like: torch.Tensor) -> torch.Tensor:
    return torch.arange(start, stop, device=like.device)


def create_causal_mask(pad_masks: torch.Tensor, att_masks: torch.Tensor) -> Any:
    """``masking_utils.create_causal_mask`` as a 4.57 decoder's forward calls it: no cache, ``cache_position``
    ``arange(L)``."""
    return masking_utils.create_causal_mask(_config("plain"), _embeddings(pad_masks), pad_masks,
                                            _positions(0, pad_masks.shape[1], pad_masks), None)


def sdpa_mask_kv_cache(prefix_pad: torch.Tensor, suffix_pad: torch.Tensor, suffix_att: torch.Tensor) -> Any:
    """``sdpa_mask`` for S new queries at ``cache_position`` ``arange(P, P+S)``, keys prefix ++ suffix."""
    (B, P), S = prefix_pad.shape, suffix_pad.shape[1]
    return masking_utils.sdpa_mask(batch_size=B, cache_position=_positions(P, P + S, prefix_pad), kv_length=P + S,
                                   attention_mask=torch.cat([prefix_pad, suffix_pad], dim=1).bool())


def sdpa_mask_decoding(pad_masks: torch.Tensor, att_masks: torch.Tensor) -> Any:
    """``sdpa_mask`` for one decoding step: ``cache_position`` ``[T-1]``, keys all T tokens."""
    B, T = pad_masks.shape
    return masking_utils.sdpa_mask(batch_size=B, cache_position=_positions(T - 1, T, pad_masks), kv_length=T,
                                   attention_mask=pad_masks.bool())


def _paligemma(attention_mask: torch.Tensor, token_type_ids: torch.Tensor, training: bool) -> Any:
    # _update_causal_mask reads only these attributes of the model: no 3-billion-parameter model is built.
    model = SimpleNamespace(config=_config("paligemma"), text_config_dtype=torch.float32, training=training)
    return PaliGemmaModel._update_causal_mask(model, attention_mask, token_type_ids, None,
                                              _positions(0, attention_mask.shape[1], attention_mask),
                                              is_training=training)


def paligemma_training(attention_mask: torch.Tensor, token_type_ids: torch.Tensor) -> Any:
    """``PaliGemmaModel._update_causal_mask`` in training: prefix (token type 0) bidirectional, suffix causal."""
    return _paligemma(attention_mask, token_type_ids, training=True)


def paligemma_prefill(attention_mask: torch.Tensor, token_type_ids: torch.Tensor) -> Any:
    """The same at inference (``is_training=False``): the prompt, all prefix, attends bidirectionally."""
    return _paligemma(attention_mask, token_type_ids, training=False)


def gemma3_mask(attention_mask: torch.Tensor, token_type_ids: torch.Tensor) -> Any:
    """Gemma 3's full-attention mask from ``create_masks_for_generate``: causal or'ed with
    ``token_type_ids_mask_function`` (each image group bidirectional)."""
    masks = Gemma3ForConditionalGeneration.create_masks_for_generate(
        _config("gemma3"), _embeddings(attention_mask), attention_mask,
        _positions(0, attention_mask.shape[1], attention_mask), None, None, token_type_ids=token_type_ids)
    return masks["full_attention"] if isinstance(masks, dict) else masks
