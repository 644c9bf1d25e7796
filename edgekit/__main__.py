"""``python -m edgekit`` == the ``edgekit`` console script."""
import sys

from .cli import main

sys.exit(main())
