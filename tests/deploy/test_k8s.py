"""deploy/k8s/ as Kubernetes would read it: the parts that keep calls whole and metrics private."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"


def manifests() -> list[dict[str, Any]]:
    documents = []
    for path in sorted(K8S.glob("*.yaml")):
        documents.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    return documents


def by_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in manifests() if d["kind"] == kind}


def ingress_paths() -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [
        (ingress, path)
        for ingress in by_kind("Ingress").values()
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
    ]


def test_the_call_id_hash_keeps_pods_that_are_full_or_draining() -> None:
    """Readiness is 503 at BRIDGE_MAX_CALLS and while draining; the hashed Service must not
    drop such a pod, or its live calls' later requests land on a pod without the call."""
    services = by_kind("Service")
    hashed = {
        path["backend"]["service"]["name"]
        for ingress, path in ingress_paths()
        if "upstream-hash-by" in " ".join(ingress["metadata"].get("annotations", {}))
    }
    assert hashed == {"kallglot-bridge-calls"}
    assert services["kallglot-bridge-calls"]["spec"]["publishNotReadyAddresses"] is True
    # New calls still go only to pods with room: the plain Service follows readiness.
    assert not services["kallglot-bridge"]["spec"].get("publishNotReadyAddresses", False)
    deployment = by_kind("Deployment")["kallglot-bridge"]
    probe = deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]
    assert probe["httpGet"]["path"] == "/readyz"
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert all(s["spec"]["selector"] == selector for s in services.values())


def test_metrics_are_denied_to_every_source_at_the_ingress() -> None:
    blocked = [(ingress, path) for ingress, path in ingress_paths() if path["path"] == "/metrics"]
    assert len(blocked) == 1
    ingress, path = blocked[0]
    # Exact outranks the `/` prefix (ingress-nginx: `location = /metrics`), regex mode or not.
    assert path["pathType"] == "Exact"
    denied = ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/denylist-source-range"]
    assert set(re.split(r"\s*,\s*", denied)) == {"0.0.0.0/0", "::/0"}
    # ...on every host the Ingresses serve.
    hosts = {rule["host"] for rule in ingress["spec"]["rules"]}
    public = {rule["host"] for i in by_kind("Ingress").values() for rule in i["spec"]["rules"]}
    assert hosts == public
