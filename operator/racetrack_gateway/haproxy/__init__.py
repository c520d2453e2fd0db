"""Talking to HAProxy: its runtime socket, and running it (``supervisor``)."""
