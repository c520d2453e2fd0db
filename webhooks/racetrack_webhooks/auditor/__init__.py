"""The auditor: writes the AuditEvents of the changes it sees, settles pending ones, prunes.

One replica at a time does it (:mod:`racetrack_kube.lease`, a Lease); events are named by
what they record, so a second writer during a hand-over only meets conflicts.
"""
