"""Orders: declarative processes, transitions, timers, proofs."""
