"""Pure admission rules: ``validate_<kind>(new, old, world, actor) -> list[FieldError]``.

No I/O: everything a rule needs is in its arguments. ``world`` is the webhooks' watch-fed view
of Users, Permissions, Maintenances, Jobs and JobFamilies (:mod:`.world`); ``actor`` is the
requester with the racetrack User its Kubernetes identity maps to (:mod:`.identity`).
"""
