"""agorakit's benchmark suite: ``make bench`` or ``python -m bench --help``.

See docs/performance.md for what each case measures and how, docs/performance-results.md for the results.
"""
