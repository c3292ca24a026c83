"""``python -m maskoracle``: the same as the ``maskoracle`` command."""

from .cli import main

raise SystemExit(main())
