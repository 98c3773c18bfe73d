"""Static checks of the deployment files: Dockerfiles, k8s/, skaffold.yaml.

Nothing here needs Docker, a cluster or Django: the kustomizations are rendered
with ``kubectl kustomize`` and checked against the Kubernetes schemas
(kubernetes-validate), the Dockerfiles with hadolint, skaffold.yaml against its
JSON schema, and all of them against each other and the repository. The
shared helpers are in :mod:`tests.deploy.manifests`.
"""

# tests/progress validates the Jobs it builds against the same Kubernetes versions.
from tests.deploy.manifests import KUBERNETES_VERSIONS  # noqa: F401
