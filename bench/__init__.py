"""fifo-gate's benchmark: the seed article's producer pattern and fifo-gate side by side.

``python -m bench [--quick] [--out FILE]`` (or ``make bench`` / ``make bench-quick``);
see :mod:`bench.run`. Kept free of imports: :mod:`bench.child` starts fresh
interpreters whose start-up is being measured.
"""
