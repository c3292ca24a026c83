"""``block_causal`` in JAX (SPEC §2), jit-compatible: shapes are static, no Python control flow on values."""

from __future__ import annotations

import jax
import jax.numpy as jnp


@jax.jit
def block_causal(pad_masks: jax.Array, att_masks: jax.Array) -> jax.Array:
    """``[B, L]`` pad and att masks (att in any dtype holding 0/1) -> bool ``[B, L, L]`` on their device.

    Block ids are int32 cumsums of ``att != 0``, never the input dtype (a bfloat16 cumsum drifts past 256
    blocks). Padding is folded into the ids, as in the torch and numpy built-ins, so one broadcast comparison
    writes the mask: a padded key gets an id above every query's, a padded query one below every key's.

    >>> import numpy as np
    >>> block_causal(jnp.array([[1, 0, 1]], bool), jnp.array([[0, 1, 0]], bool)).astype(int).tolist()
    [[[1, 0, 0], [0, 0, 0], [1, 0, 1]]]
    """
    pad = pad_masks.astype(jnp.bool_)
    blocks = jnp.cumsum(att_masks != 0, axis=-1, dtype=jnp.int32)
    key_blocks = jnp.where(pad, blocks, jnp.iinfo(jnp.int32).max)
    query_blocks = jnp.where(pad, blocks, -1)
    return key_blocks[..., None, :] <= query_blocks[..., :, None]


@jax.jit
def kv_cache(prefix_pad: jax.Array, suffix_pad: jax.Array, suffix_att: jax.Array) -> jax.Array:
    """SPEC §5: ``[B, P]`` cached prefix padding, ``[B, S]`` suffix pad and att -> bool ``[B, S, P+S]``."""
    suffix_mask = block_causal(suffix_pad, suffix_att)
    B, S = suffix_mask.shape[:2]
    prefix = jnp.broadcast_to(prefix_pad.astype(jnp.bool_)[:, None, :], (B, S, prefix_pad.shape[-1]))
    return jnp.concatenate([prefix, suffix_mask], axis=-1)


@jax.jit
def incremental(pad_masks: jax.Array, att_masks: jax.Array) -> jax.Array:
    """SPEC §5, one decoding step: the sequence so far ``[B, T]`` -> the last token's row ``[B, 1, T]``."""
    pad = pad_masks.astype(jnp.bool_)
    return (pad & pad[:, -1:])[:, None, :]
