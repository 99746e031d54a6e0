"""The embedded emulator: moto server, scheduled runs, and the Lambda runner."""
