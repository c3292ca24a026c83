"""``python -m maskoracle.cli``: the same as the ``maskoracle`` command."""

from .main import main

raise SystemExit(main())
