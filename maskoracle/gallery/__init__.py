"""A gallery of real public mask functions (transformers, LeRobot), checked by ``maskoracle gallery``.

The rows (``entries.py``) name each real function, the pinned package that ships it and the check options its
convention needs; ``run.py`` installs them on request into a cache and checks them; the glue modules
(``transformers_glue.py``, ``lerobot_glue.py``) are TARGETs that import the real code from the installed package at
run time. This package's own modules import neither transformers nor LeRobot.
"""

from .entries import GALLERY, GalleryEntry, Install
from .run import GalleryResult, default_cache, install, installed_version, run_entry, run_gallery, unexpected

__all__ = ["GALLERY", "GalleryEntry", "GalleryResult", "Install", "default_cache", "install", "installed_version",
           "run_entry", "run_gallery", "unexpected"]
