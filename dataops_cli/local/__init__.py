"""The CLI's side of local mode: find or start the emulator, and aim clients at it.

Never imports the emulator's server code (`dataops_cli.emulator`) or moto: it talks to the
emulator over HTTP and through the state file, like any client (tests/unit/test_architecture.py).
"""
