"""The local emulator's server: moto's HTTP server plus Lambda runs, schedules, logs and metrics.

Runs in its own process (`python -m dataops_cli.emulator.server`), started by the CLI's
`local/process.py`. `moto_internals.py` is the only module that reads moto's private API.
"""
