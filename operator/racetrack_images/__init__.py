"""OCI images and artifacts with the standard library: shared by the builder, the CLI and the
dev cluster.

- ``oci``: write layers, configs and manifests into an OCI image layout, reproducibly;
- ``registry``: the distribution API (blobs, cross-repository mounts, manifests);
- ``sources``: a job's folder packed as an OCI artifact (respecting ``.gitignore``), and
  unpacked again in a build pod.

Build pods run this code, so it imports nothing outside the standard library.
"""
