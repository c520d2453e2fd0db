"""Greets its caller, read from the request being served (``self.request_context``).

The gateway sets ``X-Caller-Name`` (a user, an external consumer, or another job's
family); with ``LOG_CALLER_NAME`` the runtime adds it to every log line of the call, this
class's own lines included.
"""

from __future__ import annotations

import logging

logger = logging.getLogger("racetrack")


class Greeter:
    def perform(self, greeting: str = "Hello") -> str:
        """Greet whoever called."""
        caller = self.caller_name() or "stranger"
        logger.debug("Greeting %s", caller)
        return f"{greeting}, {caller}!"

    def caller_name(self) -> str | None:
        request = self.request_context.get()
        return request.headers.get("X-Caller-Name") if request is not None else None
