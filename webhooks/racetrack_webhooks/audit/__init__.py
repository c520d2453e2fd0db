"""The audit log, pure parts: what a change is, and the AuditEvent that records it.

How a change gets its event (and why): the mutating webhook stamps the actor on the object in
the same request as the change (``racetrack.io/last-change``), and the auditor writes the event
when it sees the stamped object in its watch. A change refused by any later webhook or by the
API server is never stored, so it is never seen and leaves no event; a dry run is never stored
either. No API call happens at admission on that path, which every Job apply takes.

An object cannot carry a stamp of its own deletion (a DELETE has no new object to patch), and
the auth key Secret is never mutated by us. For those two, the validating webhook writes the
event at admission with the label ``racetrack.io/pending: "true"`` (never on a dry run), and the
auditor confirms it (removes the label) once it sees the object go or the key rotate; a
pending event whose change never happened (refused after us) is deleted after a grace period.
"""
