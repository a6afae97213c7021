"""Pure metric functions: rank agreement, privacy tests, statistics, intervals, entity matching."""
