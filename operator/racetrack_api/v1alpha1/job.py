"""``Job`` (short name ``rtjob``): one deployed version of a Racetrack job.

The spec is the Racetrack manifest (``job.yaml``) in Kubernetes spelling: camelCase keys, Secret
references instead of secret env files, and a prebuilt ``image`` as an alternative to a git
source. Every rule the original manifest loader enforced is a CEL rule here, so a bad Job is
refused by ``kubectl apply`` with a message naming the field and what to write instead.

Deliberate differences from the original manifest:

- ``version`` is required and refuses ``+build`` metadata: it becomes a label value, where
  ``+`` is not allowed.
- ``name`` (the family) and ``version`` are immutable: a Job *is* one version of one family;
  another version is another Job object.
- Runtime Secret keys do not override ``runtimeEnv`` or the variables the operator sets. The
  Secret is mounted with ``envFrom`` and Kubernetes gives ``env`` precedence, which also means a
  Secret can never replace ``JOB_NAME`` and friends.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar

from pydantic import Field

from racetrack_api.meta import (
    AGE_COLUMN,
    ApiModel,
    CelRule,
    Check,
    CrdInfo,
    CustomResource,
    Matches,
    PrinterColumn,
    StatusModel,
)
from racetrack_api.semver import SEMVER_REGEX
from racetrack_api.v1alpha1.common import (
    DNS_LABEL_REGEX,
    Conditions,
    QuantityType,
    SecretRef,
    quantity_value,
)

ENV_NAME_REGEX = r"^[A-Za-z_][A-Za-z0-9_]*$"

# Set by the operator on every job container (the original's K8s target refused them too).
RESERVED_ENV_NAMES: tuple[str, ...] = (
    "PUB_URL",
    "JOB_NAME",
    "JOB_VERSION",
    "JOB_MANIFEST_YAML",
    "AUTH_TOKEN",
    "JOB_DEPLOYMENT_TIMESTAMP",
    "REQUEST_TRACING_HEADER",
    "JOB_USER_MODULE_HOSTNAME",
)


def _cel_list(items: tuple[str, ...]) -> str:
    return "[" + ", ".join(f"'{item}'" for item in items) + "]"


def _immutable(field: str) -> Check:
    return Check(
        "self == oldSelf",
        f"{field} cannot be changed: a Job is one version of one job family; "
        "create another Job for another name or version",
    )


def _env_keys(field: str) -> Check:
    return Check(
        f"self.all(k, k.matches('{ENV_NAME_REGEX}'))",
        f"{field} keys must be environment variable names: letters, digits and '_', "
        "not starting with a digit",
        check=lambda env: all(_ENV_NAME.match(k) for k in env),
    )


_ENV_NAME = re.compile(ENV_NAME_REGEX)
EnvValue = Annotated[str, Field(max_length=65536)]
BuildEnv = Annotated[
    dict[str, EnvValue],
    Field(max_length=256),
    _env_keys("spec.buildEnv"),
    Check(
        "!self.exists(k, k.startsWith('RACETRACK_'))",
        "spec.buildEnv must not set RACETRACK_* variables: they configure the builder",
        check=lambda env: not any(k.startswith("RACETRACK_") for k in env),
    ),
]
RuntimeEnv = Annotated[
    dict[str, EnvValue],
    Field(max_length=256),
    _env_keys("spec.runtimeEnv"),
    Check(
        f"!self.exists(k, k in {_cel_list(RESERVED_ENV_NAMES)})",
        "spec.runtimeEnv must not set variables reserved for the operator: "
        + ", ".join(RESERVED_ENV_NAMES),
        check=lambda env: not set(env) & set(RESERVED_ENV_NAMES),
    ),
]


class GitSource(ApiModel):
    """Where to build the job from (the git build path; prebuilt images use spec.image)."""

    cel_rules: ClassVar[tuple[CelRule, ...]] = (
        CelRule(
            "!(has(self.branch) && has(self.ref))",
            "set at most one of spec.git.branch and spec.git.ref",
            check=lambda git: git.branch is None or git.ref is None,
        ),
    )

    remote: Annotated[
        str,
        Field(max_length=2048),
        Matches(
            r"^https://[^\s]+$",
            "spec.git.remote must be an https:// URL such as https://github.com/org/repo "
            "(ssh and git@ remotes are not supported)",
        ),
    ]
    """HTTPS URL of the repository."""
    branch: (
        Annotated[
            str,
            Field(max_length=255),
            Matches(r'^[^\s"~^:?*\[\\]+$', "spec.git.branch must be a valid git branch name"),
        ]
        | None
    ) = None
    """Branch to build; the remote's default branch when neither branch nor ref is set."""
    ref: Annotated[str, Field(max_length=255)] | None = None
    """A tag or commit to build instead of a branch."""
    directory: Annotated[
        str,
        Field(max_length=1024),
        Matches(
            r"^[^/\s][^\s]*$",
            "spec.git.directory must be a path relative to the repository root, such as . "
            "or services/adder",
        ),
        Check(
            "!self.matches('(^|/)[.][.](/|$)')",
            "spec.git.directory must stay inside the repository (no '..')",
            check=lambda d: ".." not in d.split("/"),
        ),
    ] = "."
    """Directory of the job inside the repository (the build context)."""
    credentials: SecretRef | None = None
    """Secret with the keys username and password (a kubernetes.io/basic-auth Secret) for
    the repository; a token goes in password."""


class SourceArtifact(ApiModel):
    """A job's folder pushed to a registry as an OCI artifact (``racetrack source push``)."""

    artifact: Annotated[
        str,
        Field(max_length=512),
        Matches(
            r"^[^\s@]+/[^\s@]+@sha256:[0-9a-f]{64}$",
            "spec.source.artifact must be REGISTRY/REPOSITORY@sha256:DIGEST (what `racetrack "
            "source push DIR` prints): a digest names one immutable folder",
        ),
    ]
    """The artifact by digest, e.g. registry.example.org/racetrack/sources/adder@sha256:..."""


SYSTEM_PACKAGE_REGEX = r"^[a-z0-9][a-z0-9+.-]*(=[A-Za-z0-9.+:~-]+)?$"
SystemDependencies = Annotated[
    list[
        Annotated[
            str,
            Field(max_length=128),
            Matches(
                SYSTEM_PACKAGE_REGEX,
                "each spec.systemDependencies entry must be a Debian package name such as "
                "libgomp1, optionally with =VERSION",
            ),
        ]
    ],
    Field(max_length=64),
]


MemoryMin = Annotated[str, QuantityType("spec.resources.memoryMin")]
MemoryMax = Annotated[str, QuantityType("spec.resources.memoryMax")]
CpuMin = Annotated[str, QuantityType("spec.resources.cpuMin")]
CpuMax = Annotated[str, QuantityType("spec.resources.cpuMax")]


def _min_le_max(low: str, high: str, kind: str) -> CelRule:
    # Guarded by isQuantity so a malformed value reports only its own, clearer, error.
    lo, hi = f"string(self.{low})", f"string(self.{high})"
    return CelRule(
        f"!has(self.{low}) || !has(self.{high}) || !isQuantity({lo}) || !isQuantity({hi}) "
        f"|| quantity({lo}).compareTo(quantity({hi})) <= 0",
        f"spec.resources.{low} must not be greater than spec.resources.{high} "
        f"(the {kind} request cannot exceed the {kind} limit)",
        field_path=f".{low}",
        check=lambda r: (
            getattr(r, _snake(low)) is None
            or getattr(r, _snake(high)) is None
            or quantity_value(getattr(r, _snake(low))) <= quantity_value(getattr(r, _snake(high)))
        ),
    )


def _snake(camel: str) -> str:
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), camel)


class Resources(ApiModel):
    """Container requests (min) and limits (max); operator defaults fill what is missing."""

    cel_rules: ClassVar[tuple[CelRule, ...]] = (
        _min_le_max("memoryMin", "memoryMax", "memory"),
        _min_le_max("cpuMin", "cpuMax", "CPU"),
    )

    memory_min: MemoryMin | None = None
    """Memory request, e.g. 256Mi."""
    memory_max: MemoryMax | None = None
    """Memory limit, e.g. 1Gi."""
    cpu_min: CpuMin | None = None
    """CPU request, e.g. 10m."""
    cpu_max: CpuMax | None = None
    """CPU limit, e.g. 1000m."""


class JobSpec(ApiModel):
    """The Racetrack manifest of one job version."""

    cel_rules: ClassVar[tuple[CelRule, ...]] = (
        CelRule(
            "(has(self.git) ? 1 : 0) + (has(self.source) ? 1 : 0) + (has(self.image) ? 1 : 0) == 1",
            "set exactly one of spec.git (build from a git repository), spec.source (build "
            "from a folder pushed with `racetrack source push`) and spec.image (a prebuilt image)",
            check=lambda s: [s.git, s.source, s.image].count(None) == 2,
        ),
        CelRule(
            "!has(self.image) || !has(self.systemDependencies) "
            "|| size(self.systemDependencies) == 0",
            "spec.systemDependencies are installed by a build: they need spec.git or "
            "spec.source, not a prebuilt spec.image",
            field_path=".systemDependencies",
            check=lambda s: s.image is None or not s.system_dependencies,
        ),
    )

    name: Annotated[
        str,
        Field(max_length=63),
        Matches(
            DNS_LABEL_REGEX,
            "spec.name must be lowercase letters, digits and '-' (no underscores), starting "
            "with a letter and ending with a letter or digit, e.g. invoice-scorer",
        ),
        _immutable("spec.name"),
    ]
    """Job family name; all versions of a job share it."""
    version: Annotated[
        str,
        Field(max_length=63),
        Matches(
            SEMVER_REGEX,
            "spec.version must be a semantic version such as 1.2.3 or 1.2.3-rc.1 "
            "(semver.org, without +build metadata)",
        ),
        _immutable("spec.version"),
    ]
    """Semantic version of this Job."""
    owner_email: Annotated[
        str,
        Field(max_length=254),
        Matches(
            r"^[^@\s]+@[^@\s]+$",
            "spec.ownerEmail must be an email address such as team@example.org",
        ),
    ]
    """Who to contact about this job."""
    jobtype: Annotated[
        str,
        Field(max_length=128),
        Matches(
            r"^[a-z0-9][-a-z0-9_.]*:[^:\s]+$",
            "spec.jobtype must be NAME:VERSION with one colon, such as python3:2.15.1 or "
            "docker-http:latest",
        ),
    ]
    """Job type and its version, e.g. python3:2.15.1."""
    git: GitSource | None = None
    """Build the image from this git source (exclusive with source and image)."""
    source: SourceArtifact | None = None
    """Build the image from a folder pushed to a registry (exclusive with git and image)."""
    image: (
        Annotated[
            str,
            Field(max_length=512),
            Matches(r"^[^\s]+$", "spec.image must be an image reference without spaces"),
        ]
        | None
    ) = None
    """Run this prebuilt image instead of building one (exclusive with git and source)."""
    system_dependencies: SystemDependencies = Field(default_factory=list)
    """Debian packages the job needs, installed by a Dockerfile build of the image."""
    build_env: BuildEnv = Field(default_factory=dict)
    """Plain environment variables for the image build (pip's settings, build arguments)."""
    runtime_env: RuntimeEnv = Field(default_factory=dict)
    """Plain environment variables for the running job."""
    secret_build_env: SecretRef | None = None
    """Secret whose keys are environment variables of the build (never baked into the image)."""
    secret_runtime_env: SecretRef | None = None
    """Secret whose keys are environment variables of the running job."""
    replicas: Annotated[int, Field(ge=0, le=50)] = 1
    """Number of pods, 0 to 50."""
    resources: Resources | None = None
    """Memory and CPU requests (min) and limits (max)."""
    labels: Annotated[dict[str, Annotated[str, Field(max_length=1024)]], Field(max_length=64)] = (
        Field(default_factory=dict)
    )
    """Free-form metadata for people (not copied to Kubernetes labels)."""
    public_endpoints: Annotated[
        list[
            Annotated[
                str,
                Field(max_length=1024),
                Matches(
                    r"^/",
                    "each spec.publicEndpoints entry must be a path starting with '/', "
                    "such as /api/v1/perform",
                ),
            ]
        ],
        Field(max_length=64),
    ] = Field(default_factory=list)
    """Paths the gateway serves without a token (each a prefix at segment boundaries:
    /api/v1/perform also opens /api/v1/perform/x)."""
    infrastructure_target: Annotated[str, Field(max_length=253)] | None = None
    """Infrastructure to deploy to, when several are installed."""
    jobtype_extra: dict[str, Any] | None = None
    """Job-type specific settings, e.g. entrypoint_path for python3 (free-form)."""


class UnhealthyPod(StatusModel):
    """A pod of the Job that is not ready, with what its container last printed."""

    name: str
    """The pod."""
    reason: str
    """Why it is not ready, e.g. CrashLoopBackOff or ReadinessProbeFailing."""
    message: str = ""
    """Kubernetes' own words about it, when it has some."""
    restarts: int = 0
    """How often the job container restarted."""
    log_tail: Annotated[list[str], Field(max_length=20)] = Field(default_factory=list)
    """The container's last log lines (of its previous run after a crash)."""


class BuildStatus(StatusModel):
    """The newest build of the Job's image: in progress, failed or succeeded."""

    inputs: str
    """Hash of what the build was made from (source, build env, job type, rebuild-at)."""
    job: str
    """The batch Job running the build: `kubectl logs job/NAME --all-containers`."""
    step: str | None = None
    """The step running now, or the one that failed (fetch, dependencies, image, dockerfile)."""
    attempts: int = 0
    """Build pods started so far (failed attempts are retried with backoff)."""
    revision: str | None = None
    """What was built: the git commit, or the source artifact's digest."""
    image: str | None = None
    """The pushed image, by digest; set once the build succeeded."""
    started_at: str | None = None
    """When the build started (RFC 3339)."""
    finished_at: str | None = None
    """When it succeeded or failed for good (RFC 3339)."""
    durations: Annotated[dict[str, float], Field(max_length=16)] = Field(default_factory=dict)
    """Seconds spent in each phase (clone, dependencies, layers, push, build)."""
    log_tail: Annotated[list[str], Field(max_length=20)] = Field(default_factory=list)
    """The failed step's last log lines."""


class PurgeStatus(StatusModel):
    """How good a candidate for removal the Job is: the original portfolio's purge score."""

    score: float = 0.0
    """Penalty points, 0 to 65: lost +50, failing +20, unused up to +10, newer versions up
    to +5. Higher means a better candidate for removal."""
    reasons: Annotated[list[str], Field(max_length=8)] = Field(default_factory=list)
    """One sentence per penalty, saying what to do about it."""


class JobStatus(StatusModel):
    """What the operator observed; conditions explain every state."""

    observed_generation: int = 0
    """metadata.generation the status was computed from."""
    conditions: Conditions = Field(default_factory=list)
    """Ready, Built (built Jobs), Deployed and Available; Reconciling and Stalled only while
    True."""
    image: str | None = None
    """Image the Deployment runs (a built image by digest)."""
    build: BuildStatus | None = None
    """The newest build, for Jobs built from spec.git or spec.source."""
    url: str | None = None
    """In-cluster URL of the job's Service."""
    replicas: int = 0
    """Pods wanted by the current Deployment."""
    ready_replicas: int = 0
    """Pods passing the readiness probe."""
    available_replicas: int = 0
    """Pods available for at least minReadySeconds."""
    updated_replicas: int = 0
    """Pods already running the current template."""
    unhealthy_pod: UnhealthyPod | None = None
    """While the Job is not available: a pod that is not ready, and its last log lines."""
    last_call_time: Annotated[str, Field(json_schema_extra={"format": "date-time"})] | None = None
    """When the job was last called through the gateway (written by the gateway, at most
    once a minute); what the purge score reads."""
    purge: PurgeStatus | None = None
    """The purge score and its reasons, scored again with every status change of the Job
    and refreshed by the operator on a timer."""


#: Status fields another component writes; the operator's status writes leave them alone.
GATEWAY_STATUS_FIELDS: tuple[str, ...] = ("lastCallTime",)
#: Status fields of the purge score: the reconciliation's status diff leaves them out, and a
#: status write carries them only freshly scored (the purge timer writes them too).
PURGE_STATUS_FIELDS: tuple[str, ...] = ("purge",)


_READY = '.status.conditions[?(@.type=="Ready")]'

NAME_RULE = CelRule(
    f"self.metadata.name.matches('{DNS_LABEL_REGEX}') && size(self.metadata.name) <= 63",
    "metadata.name of a Job names its Deployment and Service, so it must be a DNS label: at "
    "most 63 lowercase letters, digits or '-', starting with a letter, e.g. adder-v1-2-3",
)


class Job(CustomResource):
    crd: ClassVar[CrdInfo] = CrdInfo(
        kind="Job",
        plural="jobs",
        scope="Namespaced",
        short_names=("rtjob", "rtjobs"),
        printer_columns=(
            PrinterColumn("Family", ".spec.name", description="Job family name"),
            PrinterColumn("Version", ".spec.version"),
            PrinterColumn("Ready", f"{_READY}.status"),
            PrinterColumn("Reason", f"{_READY}.reason"),
            PrinterColumn(
                "Purge",
                ".status.purge.score",
                "number",
                description="Purge score: higher is a better candidate for removal",
            ),
            AGE_COLUMN,
            PrinterColumn("Built", '.status.conditions[?(@.type=="Built")].status', priority=1),
            PrinterColumn("Revision", ".status.build.revision", priority=1),
            PrinterColumn("Image", ".status.image", priority=1),
            PrinterColumn("URL", ".status.url", priority=1),
            PrinterColumn("Last Call", ".status.lastCallTime", "date", priority=1),
        ),
        selectable_fields=(".spec.name", ".spec.version"),
        root_rules=(NAME_RULE,),
    )

    spec: JobSpec
    status: JobStatus = Field(default_factory=JobStatus)
