r"""``python -m mdmlab``: the same command line as the ``mdmlab`` script."""
import sys

from mdmlab.analysis.cli import main

sys.exit(main())
