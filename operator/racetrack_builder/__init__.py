"""The builder: what runs in a build pod, one step per container.

``fetch`` puts the job's source into the pod's workspace (a shallow git clone, or an
artifact pushed by ``racetrack source push``); python3 jobs then get ``dependencies`` (the
requirements layer, cached in the registry by its inputs) and ``image`` (the code layer and
the image, composed on the base image without running anything in it); Dockerfile jobs get
``dockerfile`` (rootless BuildKit). Each step reports through its termination message (see
``report``), which the operator reads from the pod's status.

It runs in the builder image, which has Python and this package but nothing of the
operator's: only the standard library and ``racetrack_images``.
"""
