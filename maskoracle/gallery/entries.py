"""The gallery's rows: real public mask functions, the package that ships each, and how to check it.

Each ``GalleryEntry`` names the real function, the ``Install`` that provides it (pinned, installed on request into
a cache folder of its own), the TARGET ``maskoracle check`` runs (the real function itself, or a small adapter in
``transformers_glue.py`` / ``lerobot_glue.py`` that imports it from the installed package at run time), the
check options its convention needs, and the verdict expected. Nothing of those packages is copied here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

VERDICTS = ("passed", "failed", "could not import")


@dataclass(frozen=True)
class Install:
    """Public packages pip installs, together, into one cache folder (``NAME-VERSION``)."""

    name: str  # the distribution whose version the table shows
    version: str  # pinned: a gallery row is a fact about one release
    pip_calls: tuple[tuple[str, ...], ...] = ()  # each: the arguments of one `pip install --target FOLDER`
    note: str = ""

    @property
    def folder(self) -> str:
        return f"{self.name}-{self.version}"

    def calls(self) -> tuple[tuple[str, ...], ...]:
        """The pip calls (default: ``NAME==VERSION`` with its dependencies)."""
        return self.pip_calls or ((f"{self.name}=={self.version}",),)


@dataclass(frozen=True)
class GalleryEntry:
    """One real function and how to check it."""

    name: str  # short, unique: what --only selects
    function: str  # the real function, as the table shows it (module:function)
    install: Install
    target: str  # what `maskoracle check` runs
    options: Mapping[str, Any] = field(default_factory=dict)  # check options (maskoracle.options.CHECK_OPTIONS)
    glue: str = ""  # what the adapter does, in a line; "" when TARGET is the real function itself
    expect: str = "passed"  # one of VERDICTS: a known failure is a row too, and does not fail the gallery
    note: str = ""

    def options_text(self) -> str:
        """The options as ``maskoracle check`` spells them (``--inputs paligemma --pad-queries free``)."""
        words = []
        for name, value in self.options.items():
            flag = "--" + name.replace("_", "-")
            words.append(flag if value is True else f"{flag} {value}")
        return " ".join(words)


TRANSFORMERS = Install("transformers", "5.24.0")
TRANSFORMERS_4 = Install("transformers", "4.57.6")  # the last 4.x: cache_position tensors, the older model code
LEROBOT = Install(
    "lerobot", "0.4.4",
    # The wheel alone (its own requirements pin torch<2.11 and pull datasets, diffusers, wandb, opencv, ...), and
    # what `lerobot.policies` needs before it reaches `datasets`: the direct import then fails on `datasets`,
    # which is the point of its row.
    (("--no-deps", "lerobot==0.4.4"), ("draccus==0.10.0", "huggingface-hub<0.36", "safetensors")),
    note="installed without its dependencies (they pin torch<2.11 and pull datasets, pandas, pyarrow, "
         "torchvision, diffusers, wandb, opencv)")

_TRANSFORMERS_GLUE = "maskoracle.gallery.transformers_glue"
_TRANSFORMERS_4_GLUE = "maskoracle.gallery.transformers4_glue"
_LEROBOT_GLUE = "maskoracle.gallery.lerobot_glue"
_KEYS_ONLY_CAUSAL = {"layout": "causal", "pad_queries": "free"}

GALLERY: tuple[GalleryEntry, ...] = (
    GalleryEntry("sdpa_mask", "transformers.masking_utils:sdpa_mask", TRANSFORMERS,
                 f"{_TRANSFORMERS_GLUE}:sdpa_mask", {**_KEYS_ONLY_CAUSAL, "none_means": "causal"},
                 glue="sizes from pad_masks; attention_mask=pad_masks"),
    GalleryEntry("create_causal_mask", "transformers.masking_utils:create_causal_mask", TRANSFORMERS,
                 f"{_TRANSFORMERS_GLUE}:create_causal_mask", {**_KEYS_ONLY_CAUSAL, "none_means": "causal"},
                 glue="a default config (sdpa), inputs_embeds of the inputs' shape, no cache"),
    GalleryEntry("create_causal_mask_eager", "transformers.masking_utils:create_causal_mask", TRANSFORMERS,
                 f"{_TRANSFORMERS_GLUE}:create_causal_mask_eager", dict(_KEYS_ONLY_CAUSAL),
                 glue="the same with eager attention: additive finfo(float32).min"),
    GalleryEntry("create_causal_mask_blocks", "transformers.masking_utils:create_causal_mask", TRANSFORMERS,
                 f"{_TRANSFORMERS_GLUE}:create_causal_mask_blocks", {"pad_queries": "free"},
                 glue="block_sequence_ids = cumsum(att): the blockwise overlay on every att pattern"),
    GalleryEntry("sdpa_mask_kv_cache", "transformers.masking_utils:sdpa_mask", TRANSFORMERS,
                 f"{_TRANSFORMERS_GLUE}:sdpa_mask_kv_cache",
                 {"kind": "kv_cache", **_KEYS_ONLY_CAUSAL, "none_means": "causal"},
                 glue="q_offset=P (the cache position), kv_length=P+S, attention_mask=prefix ++ suffix pad"),
    GalleryEntry("sdpa_mask_decoding", "transformers.masking_utils:sdpa_mask", TRANSFORMERS,
                 f"{_TRANSFORMERS_GLUE}:sdpa_mask_decoding",
                 {"kind": "incremental", **_KEYS_ONLY_CAUSAL, "none_means": "causal"},
                 glue="q_length=1, q_offset=T-1: one decoding step"),
    GalleryEntry("paligemma", "transformers.models.paligemma.modeling_paligemma:"
                 "PaliGemmaForConditionalGeneration.create_masks_for_generate", TRANSFORMERS,
                 f"{_TRANSFORMERS_GLUE}:paligemma_mask", {"inputs": "paligemma"},
                 glue="a default PaliGemmaConfig (sdpa), inputs_embeds of the inputs' shape"),
    GalleryEntry("paligemma_eager", "transformers.models.paligemma.modeling_paligemma:"
                 "PaliGemmaForConditionalGeneration.create_masks_for_generate", TRANSFORMERS,
                 f"{_TRANSFORMERS_GLUE}:paligemma_mask_eager", {"inputs": "paligemma"},
                 glue="the same with eager attention: additive finfo(float32).min"),
    GalleryEntry("gemma3", "transformers.models.gemma3.modeling_gemma3:"
                 "Gemma3ForConditionalGeneration.create_masks_for_generate", TRANSFORMERS,
                 f"{_TRANSFORMERS_GLUE}:gemma3_mask", {"inputs": "gemma3"},
                 glue="a default Gemma3Config (sdpa); the full-attention layers' mask"),
    GalleryEntry("create_causal_mask_v4", "transformers.masking_utils:create_causal_mask", TRANSFORMERS_4,
                 f"{_TRANSFORMERS_4_GLUE}:create_causal_mask", {**_KEYS_ONLY_CAUSAL, "none_means": "causal"},
                 glue="a default config (sdpa), inputs_embeds of the inputs' shape, cache_position=arange(L)"),
    GalleryEntry("sdpa_mask_kv_cache_v4", "transformers.masking_utils:sdpa_mask", TRANSFORMERS_4,
                 f"{_TRANSFORMERS_4_GLUE}:sdpa_mask_kv_cache",
                 {"kind": "kv_cache", **_KEYS_ONLY_CAUSAL, "none_means": "causal"},
                 glue="cache_position=arange(P, P+S), kv_length=P+S, attention_mask=prefix ++ suffix pad"),
    GalleryEntry("sdpa_mask_decoding_v4", "transformers.masking_utils:sdpa_mask", TRANSFORMERS_4,
                 f"{_TRANSFORMERS_4_GLUE}:sdpa_mask_decoding",
                 {"kind": "incremental", **_KEYS_ONLY_CAUSAL, "none_means": "causal"},
                 glue="cache_position=[T-1]: one decoding step"),
    GalleryEntry("paligemma_training_v4", "transformers.models.paligemma.modeling_paligemma:"
                 "PaliGemmaModel._update_causal_mask", TRANSFORMERS_4,
                 f"{_TRANSFORMERS_4_GLUE}:paligemma_training", {"inputs": "paligemma"},
                 glue="is_training=True; a stand-in self with the config and dtype it reads (no model built)"),
    GalleryEntry("paligemma_prefill_v4", "transformers.models.paligemma.modeling_paligemma:"
                 "PaliGemmaModel._update_causal_mask", TRANSFORMERS_4,
                 f"{_TRANSFORMERS_4_GLUE}:paligemma_prefill", {"inputs": "paligemma", "layout": "bidirectional"},
                 glue="is_training=False: the prompt (all prefix) attends bidirectionally"),
    GalleryEntry("gemma3_v4", "transformers.models.gemma3.modeling_gemma3:"
                 "Gemma3ForConditionalGeneration.create_masks_for_generate", TRANSFORMERS_4,
                 f"{_TRANSFORMERS_4_GLUE}:gemma3_mask", {"inputs": "gemma3", "none_means": "causal"},
                 glue="causal or'ed with token_type_ids_mask_function; a default Gemma3Config (sdpa)",
                 note="for one token it skips the image mask and returns None (SDPA's is_causal)"),
    GalleryEntry("lerobot_pi0_import", "lerobot.policies.pi0.modeling_pi0:make_att_2d_masks", LEROBOT,
                 "lerobot.policies.pi0.modeling_pi0:make_att_2d_masks", {"layout": "pi0"},
                 expect="could not import",
                 note="the module's import runs lerobot.policies' __init__, which needs datasets, pandas, pyarrow "
                      "and a torchvision built for this torch; the rows below check the same function compiled "
                      "alone"),
    GalleryEntry("lerobot_pi0", "lerobot.policies.pi0.modeling_pi0:make_att_2d_masks", LEROBOT,
                 f"{_LEROBOT_GLUE}:pi0", {},
                 glue="the installed def, compiled alone with torch (lerobot.policies cannot be imported light)"),
    GalleryEntry("lerobot_pi0_layout", "lerobot.policies.pi0.modeling_pi0:make_att_2d_masks", LEROBOT,
                 f"{_LEROBOT_GLUE}:pi0", {"layout": "pi0"}, glue="the same"),
    GalleryEntry("lerobot_pi05_bfloat16", "lerobot.policies.pi05.modeling_pi05:make_att_2d_masks", LEROBOT,
                 f"{_LEROBOT_GLUE}:pi05", {"layout": "pi05", "att_dtype": "bfloat16"},
                 glue="the same; att in bfloat16, as pi0.5 concatenates a bool prefix and a bfloat16 suffix"),
    GalleryEntry("lerobot_pi05_bfloat16_any", "lerobot.policies.pi05.modeling_pi05:make_att_2d_masks", LEROBOT,
                 f"{_LEROBOT_GLUE}:pi05", {"att_dtype": "bfloat16"}, expect="failed",
                 glue="the same; any att pattern in bfloat16",
                 note="a bfloat16 cumsum is exact up to 256 blocks (SPEC §7): right for pi0.5's two blocks, wrong "
                      "past 256"),
    GalleryEntry("lerobot_smolvla", "lerobot.policies.smolvla.modeling_smolvla:make_att_2d_masks", LEROBOT,
                 f"{_LEROBOT_GLUE}:smolvla", {"layout": "smolvla"}, glue="the installed def, compiled alone"),
)
