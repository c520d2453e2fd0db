"""Typed job types: pydantic models of ``jobtypes.yaml`` entries (frozen, strict keys)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

import pydantic


class JobTypeError(ValueError):
    """A job type cannot be used as asked (bad reference, missing ``jobtype_extra`` key)."""


class UnknownJobTypeError(JobTypeError, LookupError):
    """No installed job type matches the reference; the message lists the supported ones."""


class MissingExtraError(JobTypeError):
    """A ``jobtype_extra`` key the job type needs is absent."""


class _Frozen(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(frozen=True, extra="forbid")


class Probe(_Frozen):
    """One Kubernetes probe; ``path`` ``None`` means a TCP socket probe on the job port."""

    path: str | None
    period_seconds: int = pydantic.Field(gt=0)
    timeout_seconds: int = pydantic.Field(gt=0)
    failure_threshold: int = pydantic.Field(gt=0)
    initial_delay_seconds: int = pydantic.Field(default=0, ge=0)


class Probes(_Frozen):
    startup: Probe
    liveness: Probe
    readiness: Probe


class BuildRecipe(_Frozen):
    """How an image of this type is built from a Job's source.

    ``compose``: the base image plus a requirements layer and a code layer, written by the
    builder without running anything (python3); a Job with ``systemDependencies`` is built
    from ``dockerfile_template`` instead (see ``render_dockerfile``). ``user-dockerfile``:
    the user's ``user_dockerfile`` at the root of the job's folder, built with BuildKit.
    """

    kind: Literal["compose", "user-dockerfile"]
    dockerfile_template: str | None = None
    user_dockerfile: str | None = None
    inputs: tuple[str, ...] = ()
    """``jobtype_extra`` keys that change the image (a change rebuilds it)."""

    @pydantic.model_validator(mode="after")
    def _kind_fields(self) -> BuildRecipe:
        if self.kind == "user-dockerfile" and not self.user_dockerfile:
            raise ValueError("a user-dockerfile build needs user_dockerfile")
        return self


class Proxy(_Frozen):
    """The job's pod runs the type's proxy in front of the user's own image.

    The first container runs ``command`` from the job runtime's image (an operator setting)
    on the type's ``port``; the user's image runs beside it in the same pod and serves on
    ``user_module_port`` (or the ``jobtype_extra`` key ``user_module_port_extra``).
    """

    command: tuple[str, ...] = pydantic.Field(min_length=1)
    user_module_port: int = pydantic.Field(gt=0, lt=65536)
    user_module_port_extra: str | None = None


_VERSION = r"^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$"


class JobType(_Frozen):
    """One published version of one job type."""

    name: str = pydantic.Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    version: str = pydantic.Field(pattern=_VERSION)
    compatible_versions: tuple[Annotated[str, pydantic.Field(pattern=_VERSION)], ...] = ()
    """Further versions this type is published under, served by the same implementation
    (the data file's entries only; ``load_job_types`` turns each into a ``JobType``)."""
    implementation: str | None = None
    """For a version published through ``compatible_versions``: the entry's own version."""
    description: str
    port: int = pydantic.Field(gt=0, lt=65536)
    port_env: str | None = None
    """The environment variable that tells the container ``port``."""
    probes: Probes
    metrics_path: str | None
    docs_path: str | None
    env: Mapping[str, str]
    extra_env: Mapping[str, str]
    required_extra: tuple[str, ...]
    extra_choices: Mapping[str, tuple[str, ...]] = pydantic.Field(default_factory=dict)
    """``jobtype_extra`` keys that only take these values (when present)."""
    proxy: Proxy | None = None
    build: BuildRecipe

    @property
    def reference(self) -> str:
        """``name:version``, e.g. ``python3:1.0.0``."""
        return f"{self.name}:{self.version}"

    def runtime_env(self, jobtype_extra: Mapping[str, Any] | None = None) -> dict[str, str]:
        """Container environment: the type's defaults plus the mapped ``jobtype_extra`` keys.

        Keys of ``jobtype_extra`` that the type does not map are build-time options (for
        example ``requirements_path``) and are left out. ``None`` values are skipped.
        """
        extra = dict(jobtype_extra or {})
        missing = [key for key in self.required_extra if extra.get(key) in (None, "")]
        if missing:
            raise MissingExtraError(
                f"job type {self.reference} needs jobtype_extra." + ", jobtype_extra.".join(missing)
            )
        for key, allowed in self.extra_choices.items():
            value = extra.get(key)
            if value is not None and str(value) not in allowed:
                raise JobTypeError(
                    f"job type {self.reference} supports jobtype_extra.{key} "
                    + " or ".join(allowed)
                    + f", not {value!r}; set one of those or leave it out"
                )
        self.user_module_port(extra)  # raises for a bad port
        env = dict(self.env)
        if self.port_env:
            env[self.port_env] = str(self.port)
        for key, variable in self.extra_env.items():
            value = extra.get(key)
            if value is None:
                continue
            env[variable] = _env_value(value)
        return env

    def user_module_port(self, jobtype_extra: Mapping[str, Any] | None = None) -> int | None:
        """The port of the user's container behind the proxy; ``None`` without a proxy."""
        if self.proxy is None:
            return None
        key = self.proxy.user_module_port_extra
        value = (jobtype_extra or {}).get(key) if key else None
        if value is None:
            return self.proxy.user_module_port
        try:
            port = int(str(value))
        except ValueError:
            port = 0
        if not 0 < port < 65536 or port == self.port:
            raise JobTypeError(
                f"jobtype_extra.{key} must be a port number other than {self.port} "
                f"(the proxy's), not {value!r}"
            )
        return port


def _env_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
