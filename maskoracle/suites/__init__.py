"""Parametrized pytest suites that check any plugged-in mask implementation.

    pytest --pyargs maskoracle.suites --mask-impl mypkg.masks:make_att_2d_masks [--mask-spec rowwise ...]

The plugin (``maskoracle.suites.plugin``, registered through the ``pytest11`` entry point) adds the
``--mask-*`` options, named like ``maskoracle check``'s options behind a ``--mask-`` prefix.
"""
