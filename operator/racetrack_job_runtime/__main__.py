"""``python -m racetrack_job_runtime run ...``: the form used in job images.

Job images copy the package rather than installing the distribution's console script, so
the image's command runs the module.
"""

from racetrack_job_runtime.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
