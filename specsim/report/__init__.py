"""HTML reports built from a run's or a sweep's tables."""
