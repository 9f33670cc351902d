"""Integration tests: the SDK against real local servers on loopback."""
