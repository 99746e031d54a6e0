"""Observing a deployed stack: status sources and health, metrics, run logs, logs, runs, data quality."""
