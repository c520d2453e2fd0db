"""Labels and annotations of the racetrack.io API: what users, tools and every deployable
read from objects (``kubectl get -l racetrack.io/family=adder``), spelled in one place.
"""

from __future__ import annotations

from typing import Final

MANAGED_BY: Final = "racetrack-operator"
LABEL_MANAGED_BY: Final = "app.kubernetes.io/managed-by"

#: On a Job's children (and, for ``-l`` filtering, on audit events): the job family, the
#: version and the Job object.
LABEL_FAMILY: Final = "racetrack.io/family"
LABEL_VERSION: Final = "racetrack.io/version"
LABEL_JOB: Final = "racetrack.io/job"

#: On a build's batch Job and pods: the Job being built, and the hash of the build's inputs.
#: (Not ``racetrack.io/job``: the job's Service selects its pods by that label.)
LABEL_BUILD_OF: Final = "racetrack.io/build-of"
LABEL_BUILD_INPUTS: Final = "racetrack.io/build-inputs"

#: Any new value redeploys an unchanged Job (the original dashboard's Redeploy button).
ANNOTATION_REDEPLOY_AT: Final = "racetrack.io/redeploy-at"
#: Any new value rebuilds the image of a Job built from source, even if nothing changed
#: (a moving branch, a dependency published again).
ANNOTATION_REBUILD_AT: Final = "racetrack.io/rebuild-at"
#: On a JobFamily the operator created: the owner of the Job that made it.
ANNOTATION_OWNER_EMAIL: Final = "racetrack.io/owner-email"

#: Any new value issues a new caller token for a User, ExternalServiceConsumer or JobFamily;
#: the old one stops working at once. On the auth key Secret, a new value rotates the key.
ANNOTATION_RESET_TOKEN_AT: Final = "racetrack.io/reset-token-at"
ANNOTATION_ROTATE_KEY_AT: Final = "racetrack.io/rotate-key-at"

#: On every Secret holding a caller token: whose it is (``user``, ``esc`` or ``job_family``)
#: and the subject's name, so ``kubectl get secrets -l racetrack.io/token`` lists them all.
LABEL_TOKEN: Final = "racetrack.io/token"
LABEL_SUBJECT: Final = "racetrack.io/subject"

#: Keys of a token Secret: the JWT, and for ESCs also the original's legacy caller token.
TOKEN_KEY: Final = "token"
LEGACY_TOKEN_KEY: Final = "caller-token"

#: The operator's record on each token Secret of what it issued there (no secret in them): the
#: sha256 of each key's value, the auth key it was signed with (``auth_key_id``), when, and
#: which value of the subject's ``racetrack.io/reset-token-at`` it answered. A Secret whose
#: values no longer match (edited by hand) or that answers an older reset or key is replaced.
ANNOTATION_TOKEN_HASH: Final = "racetrack.io/token-hash"
ANNOTATION_CALLER_TOKEN_HASH: Final = "racetrack.io/caller-token-hash"
ANNOTATION_AUTH_KEY_ID: Final = "racetrack.io/auth-key-id"
ANNOTATION_ISSUED_AT: Final = "racetrack.io/issued-at"
ANNOTATION_ISSUED_FOR_RESET: Final = "racetrack.io/issued-for-reset"

#: The Secret holding the auth key that signs every token, in the platform namespace; key
#: ``key``. Generated at the operator's first start when absent.
AUTH_KEY_SECRET: Final = "racetrack-auth-key"
AUTH_KEY_KEY: Final = "key"
#: On the auth key Secret, written by the operator: the ``racetrack.io/rotate-key-at`` value
#: its last rotation answered, and when the key was made.
ANNOTATION_ROTATED_FOR: Final = "racetrack.io/rotated-for"
ANNOTATION_KEY_CREATED_AT: Final = "racetrack.io/key-created-at"

#: On a User, written once by the operator after creating its default Permissions, so that
#: an admin who deletes one of them does not see it come back.
ANNOTATION_DEFAULT_PERMISSIONS: Final = "racetrack.io/default-permissions"
#: On the Permissions the operator creates: why (``user-default`` for a new User's defaults,
#: ``deployer`` for the per-job grants of whoever deployed a Job), so
#: ``kubectl get rtperm -l racetrack.io/grant=deployer`` lists them.
LABEL_GRANT: Final = "racetrack.io/grant"
GRANT_USER_DEFAULT: Final = "user-default"
GRANT_DEPLOYER: Final = "deployer"

#: On a Job, set once at creation by the admission webhooks: who deployed it (the racetrack
#: User, or the Kubernetes user name for identities that are not Users). The operator grants
#: a deploying User the original's per-job permissions from it.
ANNOTATION_DEPLOYED_BY: Final = "racetrack.io/deployed-by"
#: ``"true"`` on a Job claims a family and version that was deployed and deleted before.
ANNOTATION_FORCE: Final = "racetrack.io/force"

#: On every object the admission webhooks audit: its last audited change as compact JSON
#: (who, as which racetrack User, when, which actions). Written only by the webhooks (a value
#: in a request is replaced); the audit log is transcribed from it when the change is seen.
ANNOTATION_LAST_CHANGE: Final = "racetrack.io/last-change"
#: On a JobFamily: the versions deployed and deleted before, comma-separated. Creating a Job
#: of one of them again needs ``racetrack.io/force: "true"``.
ANNOTATION_DELETED_VERSIONS: Final = "racetrack.io/deleted-versions"

#: On audit events: who acted (the racetrack User, else the Kubernetes user name made fit for
#: a label value), the namespace of the object concerned, and ``"true"`` while a deletion is
#: recorded but not yet seen to happen.
LABEL_ACTOR: Final = "racetrack.io/actor"
LABEL_NAMESPACE: Final = "racetrack.io/namespace"
LABEL_PENDING: Final = "racetrack.io/pending"
