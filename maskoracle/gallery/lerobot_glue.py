"""Glue for LeRobot's ``make_att_2d_masks`` (pi0, pi0.5, SmolVLA): the installed functions, compiled alone.

Imported only as a TARGET (``maskoracle check maskoracle.gallery.lerobot_glue:pi0``), with LeRobot on the path.
Importing ``lerobot.policies.pi0.modeling_pi0`` runs ``lerobot.policies``' ``__init__``, which imports every
policy's configuration and, through ``lerobot.datasets``, ``datasets``, ``pandas``, ``pyarrow`` and a
``torchvision`` built for the installed torch. ``make_att_2d_masks`` itself needs only ``torch``: each function
below is the installed module's own ``def``, read from the installed file and run alone (``source.py``).
A missing LeRobot, module or function makes this module fail to import, with the reason.
"""

from __future__ import annotations

from typing import Any

import torch

from .source import installed_function

_PI0 = installed_function("lerobot.policies.pi0.modeling_pi0", "make_att_2d_masks", torch=torch)
_PI05 = installed_function("lerobot.policies.pi05.modeling_pi05", "make_att_2d_masks", torch=torch)
_SMOLVLA = installed_function("lerobot.policies.smolvla.modeling_smolvla", "make_att_2d_masks", torch=torch)


def pi0(pad_masks: Any, att_masks: Any) -> Any:
    """``lerobot.policies.pi0.modeling_pi0.make_att_2d_masks``."""
    return _PI0(pad_masks, att_masks)


def pi05(pad_masks: Any, att_masks: Any) -> Any:
    """``lerobot.policies.pi05.modeling_pi05.make_att_2d_masks``."""
    return _PI05(pad_masks, att_masks)


def smolvla(pad_masks: Any, att_masks: Any) -> Any:
    """``lerobot.policies.smolvla.modeling_smolvla.make_att_2d_masks``."""
    return _SMOLVLA(pad_masks, att_masks)
