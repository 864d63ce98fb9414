"""deploy/kubernetes/: valid against Kubernetes' own schemas, and timed so
that a pod leaves its Service without failing a request.

The schemas come with kubernetes-validate (inside the package, so this runs
offline). The ServiceMonitor is the Prometheus Operator's custom resource,
which is not in those schemas: it is checked against the Service instead.
"""

from __future__ import annotations

import math
import re

import kubernetes_validate
import pytest
import yaml
from support.deploy import (
    DOCS_DIR,
    KUBERNETES_DIR,
    STOP_MARGIN,
    glade_config,
    workers_from_auto,
)

from glade.addresses import parse_address

# A release whose schemas kubernetes-validate ships (it ships several).
KUBERNETES_VERSION = "1.33"
# Custom resources: not in Kubernetes' schemas.
CUSTOM_RESOURCES = {("monitoring.coreos.com/v1", "ServiceMonitor")}
# After the readiness probe has failed enough times, the time for the
# endpoints' change to reach kube-proxy and the ingress controllers.
PROPAGATION_ALLOWANCE = 5
# ingress-nginx's upstream keep-alive timeout: Glade's must be longer.
PROXY_IDLE_TIMEOUT = 60
# Kubernetes' defaults for a probe and a pod.
PROBE_DEFAULTS = {"periodSeconds": 10, "failureThreshold": 3}
DEFAULT_GRACE_PERIOD = 30


def load_documents(path) -> list:
    with open(path) as file:
        return [doc for doc in yaml.safe_load_all(file) if doc is not None]


def manifests() -> list[tuple[str, dict]]:
    """Every Kubernetes object in deploy/kubernetes/, with its file's name."""
    found = []
    for path in sorted(KUBERNETES_DIR.glob("*.yaml")):
        for doc in load_documents(path):
            if isinstance(doc, dict) and "apiVersion" in doc and "kind" in doc:
                found.append((path.name, doc))
    return found


def the(kind: str) -> dict:
    (found,) = [doc for _, doc in manifests() if doc["kind"] == kind]
    return found


def validate(doc: dict) -> None:
    if (doc["apiVersion"], doc["kind"]) in CUSTOM_RESOURCES:
        pytest.skip(f"{doc['kind']} is a custom resource, not in Kubernetes' schemas")
    # strict: an unknown field (a misspelt key) is an error too.
    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def glade_container(deployment: dict) -> dict:
    (container,) = [
        c
        for c in deployment["spec"]["template"]["spec"]["containers"]
        if c.get("command", [None])[0] == "glade"
    ]
    return container


def container_port(container: dict, port) -> int:
    """A probe's or a Service's port, by number or by the container port's name."""
    if isinstance(port, int):
        return port
    (number,) = [p["containerPort"] for p in container["ports"] if p.get("name") == port]
    return number


def cpus(quantity) -> float:
    text = str(quantity)
    return int(text[:-1]) / 1000 if text.endswith("m") else float(text)


def mebibytes(quantity) -> float:
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024, "K": 1e3 / 2**20, "M": 1e6 / 2**20}
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([KMG]i?)?", str(quantity))
    assert match, f"unexpected memory quantity {quantity!r}"
    number, unit = match.groups()
    return float(number) * units[unit] if unit else float(number) / 2**20


def matches(selector: dict, labels: dict) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


# -- the schemas ---------------------------------------------------------------


def test_kubernetes_validate_ships_the_schemas_of_the_version_used():
    assert KUBERNETES_VERSION in {
        ".".join(v.split(".")[:2]) for v in kubernetes_validate.utils.all_versions()
    }


def test_the_expected_objects_are_shipped():
    kinds = sorted(doc["kind"] for _, doc in manifests())
    assert kinds == [
        "Deployment",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "Service",
        "ServiceMonitor",
    ]


@pytest.mark.parametrize(
    "doc",
    [doc for _, doc in manifests()],
    ids=[f"{name}:{doc['kind']}" for name, doc in manifests()],
)
def test_manifest_is_valid(doc):
    validate(doc)


def kubernetes_objects_in_docs() -> list[dict]:
    text = (DOCS_DIR / "deploy.md").read_text()
    found = []
    for block in re.findall(r"```yaml\n(.*?)```", text, re.S):
        for doc in yaml.safe_load_all(block):
            if isinstance(doc, dict) and "apiVersion" in doc and "kind" in doc:
                found.append(doc)
    return found


@pytest.mark.parametrize(
    "doc",
    kubernetes_objects_in_docs(),
    ids=[f"{doc['kind']}:{doc['metadata']['name']}" for doc in kubernetes_objects_in_docs()],
)
def test_the_examples_in_docs_deploy_md_are_valid(doc):
    validate(doc)


# -- the timing of a stop --------------------------------------------------------


def test_the_shutdown_delay_outlasts_the_readiness_probe_and_the_propagation():
    """On SIGTERM /readyz answers 503 at once; the pod is marked unready after
    failureThreshold probes, periodSeconds apart, and the change still has to
    reach every load balancer. Glade serves on until then."""
    container = glade_container(the("Deployment"))
    probe = {**PROBE_DEFAULTS, **container["readinessProbe"]}
    cfg = glade_config(container["args"])
    unready_after = probe["periodSeconds"] * probe["failureThreshold"]
    assert cfg.shutdown_delay >= unready_after + PROPAGATION_ALLOWANCE


def test_the_grace_period_outlasts_the_shutdown_delay_and_the_drain():
    deployment = the("Deployment")
    cfg = glade_config(glade_container(deployment)["args"])
    grace = deployment["spec"]["template"]["spec"].get(
        "terminationGracePeriodSeconds", DEFAULT_GRACE_PERIOD
    )
    assert grace >= cfg.shutdown_delay + cfg.graceful_timeout + STOP_MARGIN


def test_the_probes_ask_the_master_on_the_metrics_port():
    container = glade_container(the("Deployment"))
    cfg = glade_config(container["args"])
    metrics = parse_address(cfg.metrics_bind)
    assert metrics.host == "0.0.0.0"  # the kubelet probes the pod's IP
    app_ports = {parse_address(bind).port for bind in cfg.bind}
    assert metrics.port not in app_ports
    for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/livez")):
        http_get = container[probe]["httpGet"]
        assert http_get["path"] == path
        assert container_port(container, http_get["port"]) == metrics.port


def test_keep_alive_outlasts_the_proxy_idle_timeout():
    """The proxy, not Glade, must close an idle connection: one closed by
    Glade while the proxy sends a request on it becomes a 502."""
    cfg = glade_config(glade_container(the("Deployment"))["args"])
    assert cfg.keepalive > PROXY_IDLE_TIMEOUT


# -- workers and resources ---------------------------------------------------------


def test_workers_auto_with_a_cpu_limit():
    """-w auto counts the CPU limit (the container's cgroup quota); without a
    limit it would count every core of the node."""
    container = glade_container(the("Deployment"))
    assert workers_from_auto(glade_config(container["args"]))
    resources = container["resources"]
    assert cpus(resources["limits"]["cpu"]) >= 1
    # The HorizontalPodAutoscaler measures CPU against the request.
    assert cpus(resources["requests"]["cpu"]) == cpus(resources["limits"]["cpu"])


def test_the_memory_limit_holds_every_worker_at_its_memory_limit():
    container = glade_container(the("Deployment"))
    cfg = glade_config(container["args"])
    limits = container["resources"]["limits"]
    workers = math.ceil(cpus(limits["cpu"]))  # what -w auto gives under this limit
    master = 50  # MiB, with room to spare
    assert cfg.max_worker_memory * workers + master <= mebibytes(limits["memory"])


# -- the objects fit together -----------------------------------------------------


def test_service_pdb_and_hpa_select_the_deployment_pods():
    deployment = the("Deployment")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert matches(deployment["spec"]["selector"]["matchLabels"], pod_labels)
    assert matches(the("Service")["spec"]["selector"], pod_labels)
    pdb = the("PodDisruptionBudget")
    assert matches(pdb["spec"]["selector"]["matchLabels"], pod_labels)
    hpa = the("HorizontalPodAutoscaler")
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    # A voluntary disruption still leaves pods serving.
    assert hpa["spec"]["minReplicas"] > pdb["spec"]["maxUnavailable"]
    # No pod drains before its replacement is ready.
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_service_ports_reach_the_app_and_the_metrics():
    container = glade_container(the("Deployment"))
    cfg = glade_config(container["args"])
    ports = {p["name"]: p for p in the("Service")["spec"]["ports"]}
    metrics_port = container_port(container, ports["metrics"]["targetPort"])
    assert metrics_port == parse_address(cfg.metrics_bind).port
    app_port = container_port(container, ports["http"]["targetPort"])
    assert app_port in {parse_address(bind).port for bind in cfg.bind}


def test_service_monitor_scrapes_metrics_through_the_service():
    service = the("Service")
    monitor = the("ServiceMonitor")
    assert matches(monitor["spec"]["selector"]["matchLabels"], service["metadata"]["labels"])
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["path"] == "/metrics"
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert endpoint["port"] == "metrics"


def test_pod_annotations_tell_prometheus_where_metrics_are():
    deployment = the("Deployment")
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    cfg = glade_config(glade_container(deployment)["args"])
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == str(parse_address(cfg.metrics_bind).port)
    assert annotations["prometheus.io/path"] == "/metrics"
    (config,) = load_documents(KUBERNETES_DIR / "prometheus-scrape.yaml")
    (job,) = config["scrape_configs"]
    assert job["kubernetes_sd_configs"] == [{"role": "pod"}]
    sources = {label for rule in job["relabel_configs"] for label in rule["source_labels"]}
    for name in ("scrape", "port", "path"):
        assert f"__meta_kubernetes_pod_annotation_prometheus_io_{name}" in sources
    # A metrics adapter maps each series to its pod by these two labels.
    targets = {rule.get("target_label") for rule in job["relabel_configs"]}
    assert {"namespace", "pod"} <= targets
