"""``python -m converters.aus``: see ``converters.aus.calibrate`` and ``converters.aus.validate``."""
import sys

print("use: python -m converters.aus.calibrate | python -m converters.aus.validate", file=sys.stderr)
raise SystemExit(2)
