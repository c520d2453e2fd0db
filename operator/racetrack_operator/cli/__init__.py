"""The ``racetrack`` command line."""
