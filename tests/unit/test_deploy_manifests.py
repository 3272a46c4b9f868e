"""deploy/: the compose file, the Kubernetes manifests, the systemd units and the Dockerfile,
checked with parsers (PyYAML, configparser, a Dockerfile instruction reader), not by eye.

No Docker engine or cluster is needed. `kubectl kustomize` runs where kubectl is installed.
"""
from __future__ import annotations

import configparser
import json
import re
import shlex
from pathlib import Path

import pytest
import yaml

from sync_workers.celery_app import QUEUES
from sync_workers.config import describe, load_settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
SYSTEMD = DEPLOY / "systemd"

TASK_TIME_LIMIT = load_settings({}).task_time_limit
METRICS_PORT = load_settings({}).metrics_port
# prometheus-client's multiprocess directory: per process group, empty at start.
MULTIPROC = "PROMETHEUS_MULTIPROC_DIR"
SECRET_NAME = "sync-workers"
# OAuth clients (settings whose defaults outside production are the sandbox's clients).
PROVIDER_VARS = {f"SYNC_{p}_CLIENT_{k}" for p in ("GOOGLE", "MICROSOFT", "SALESFORCE", "HUBSPOT")
                 for k in ("ID", "SECRET")}
KNOWN_SYNC_VARS = {name for name, _ in describe()} | PROVIDER_VARS | {"SYNC_MICROSOFT_TENANT"}
# Names whose values are secrets, or URLs that may carry a password.
SECRETISH = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|_KEY$|BASIC_AUTH|_URL$|REDISCLI_AUTH")
CREDENTIAL_URLS = {"SYNC_DATABASE_URL", "SYNC_BROKER_URL", "SYNC_REDIS_URL"}
# The providers' endpoints and our public URL are addresses, not secrets.
NOT_SECRET = {name for name, _ in describe() if name.endswith("_URL")} - CREDENTIAL_URLS
USERINFO_PASSWORD = re.compile(r"://[^/@\s:]*:[^/@\s]+@")
INTERPOLATION = re.compile(r"\$\{[^}]*\}")


def is_secret(name: str) -> bool:
    return bool(SECRETISH.search(name)) and name not in NOT_SECRET


def interpolated(value: str) -> bool:
    """A compose value that comes from the environment, not from the file."""
    return bool(re.fullmatch(r"\$\{[A-Z0-9_]+(:?[?-][^}]*)?\}", value))


def literal_password(value: str) -> bool:
    """A URL with a password written out (one from ${VAR} does not count)."""
    return USERINFO_PASSWORD.search(INTERPOLATION.sub("", value)) is not None


# ---------------------------------------------------------------------------------------
# docker compose


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())


def env_of(service: dict) -> dict:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    return env


def app_services(compose: dict) -> dict[str, dict]:
    """Services that run the sync-workers image (and not postgres or redis)."""
    return {name: s for name, s in compose["services"].items()
            if str(s.get("image", "")).startswith("${SYNC_IMAGE")}


def command_of(service: dict) -> list[str]:
    cmd = service.get("command") or []
    return cmd.split() if isinstance(cmd, str) else [str(c) for c in cmd]


def seconds(duration: str) -> float:
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", duration)
    assert parts and "".join(n + u for n, u in parts) == duration, duration
    return sum(float(n) * units[u] for n, u in parts)


def test_compose_has_the_whole_fleet(compose):
    services = set(compose["services"])
    workers = {f"worker-{q}" for q in QUEUES}
    assert {"postgres", "redis", "migrate", "receiver", "beat", "flower"} | workers <= services
    for queue in QUEUES:
        cmd = command_of(compose["services"][f"worker-{queue}"])
        assert cmd[:5] == ["celery", "-q", "-A", "sync_workers.celery_app", "worker"]
        assert cmd[cmd.index("-Q") + 1] == queue
        assert cmd[cmd.index("-n") + 1] == f"{queue}@%h"
        assert re.fullmatch(r"\$\{[A-Z_]+_CONCURRENCY:-\d+\}", cmd[cmd.index("-c") + 1])


def test_compose_runs_exactly_one_beat(compose):
    beats = [name for name, s in compose["services"].items() if "beat" in command_of(s)]
    assert beats == ["beat"]
    assert compose["services"]["beat"].get("deploy", {}).get("replicas", 1) == 1


def test_compose_redis_keeps_an_append_only_file(compose):
    redis = compose["services"]["redis"]
    cmd = command_of(redis)
    assert cmd[0] == "redis-server"
    assert cmd[cmd.index("--appendonly") + 1] == "yes"
    assert cmd[cmd.index("--appendfsync") + 1] == "everysec"
    assert cmd[cmd.index("--maxmemory-policy") + 1] == "noeviction"
    assert interpolated(cmd[cmd.index("--requirepass") + 1])
    assert any(v.endswith(":/data") for v in redis["volumes"])
    pg_volumes = compose["services"]["postgres"]["volumes"]
    assert any(v.endswith(":/var/lib/postgresql/data") for v in pg_volumes)


def test_compose_every_app_service_gets_the_secret_key_from_the_environment(compose):
    apps = app_services(compose)
    assert set(apps) >= {"migrate", "receiver", "beat", "flower"} | {f"worker-{q}" for q in QUEUES}
    for name, service in apps.items():
        value = env_of(service).get("SYNC_SECRET_KEY")
        assert value and re.fullmatch(r"\$\{SYNC_SECRET_KEY:\?.+\}", value), name


def test_compose_holds_no_literal_secret(compose):
    for name, service in compose["services"].items():
        for key, value in env_of(service).items():
            if value is None:
                continue  # passed through from the environment
            value = str(value)
            assert not literal_password(value), (name, key)
            if key in CREDENTIAL_URLS:
                assert INTERPOLATION.search(value), (name, key, value)
            elif is_secret(key):
                assert interpolated(value), (name, key, value)
            if key.startswith("SYNC_"):
                assert key in KNOWN_SYNC_VARS, (name, key)
        for arg in command_of(service):
            assert not literal_password(arg), (name, arg)


def test_compose_migrates_before_anything_else_starts(compose):
    apps = app_services(compose)
    assert command_of(apps["migrate"]) == ["sync-workers", "migrate"]
    assert apps["migrate"]["restart"] == "no"
    assert apps["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name, service in apps.items():
        if name != "migrate":
            assert service["depends_on"]["migrate"]["condition"] == \
                "service_completed_successfully", name


def test_compose_health_checks_and_drain_time(compose):
    services = compose["services"]
    receiver = services["receiver"]
    assert "command" not in receiver  # the image's default: gunicorn
    assert "/healthz" in " ".join(receiver["healthcheck"]["test"])
    assert seconds(receiver["stop_grace_period"]) > 30  # gunicorn's graceful timeout
    assert "/healthcheck" in " ".join(services["flower"]["healthcheck"]["test"])
    flower_auth = env_of(services["flower"])["FLOWER_BASIC_AUTH"]
    assert re.fullmatch(r"\$\{FLOWER_BASIC_AUTH:\?.+\}", flower_auth)
    assert not any("basic-auth" in arg for arg in command_of(services["flower"]))
    for queue in QUEUES:
        worker = services[f"worker-{queue}"]
        assert seconds(worker["stop_grace_period"]) > TASK_TIME_LIMIT, queue
        check = " ".join(worker["healthcheck"]["test"])
        assert "inspect ping" in check and f"{queue}@" in check, queue


def test_compose_builds_the_dockerfile_in_deploy(compose):
    for name, service in app_services(compose).items():
        build = service["build"]
        context = (DEPLOY / build["context"]).resolve()
        assert context == ROOT and (context / build["dockerfile"]).is_file(), name


def tmpfs_mounts(service: dict) -> set[str]:
    """Container paths of a service's tmpfs mounts (short `tmpfs:` or long volume syntax)."""
    short = service.get("tmpfs") or []
    short = [short] if isinstance(short, str) else short
    long = [v["target"] for v in service.get("volumes", [])
            if isinstance(v, dict) and v.get("type") == "tmpfs"]
    return {entry.split(":", 1)[0] for entry in short} | set(long)


def test_compose_receiver_adds_up_its_gunicorn_workers_on_a_tmpfs(compose):
    receiver = compose["services"]["receiver"]
    directory = env_of(receiver)[MULTIPROC]
    assert directory.startswith("/") and directory in tmpfs_mounts(receiver)
    # A directory of the receiver's own: no other process group writes to (or empties) it.
    for name, service in app_services(compose).items():
        if name != "receiver":
            assert MULTIPROC not in env_of(service), name


def test_compose_workers_serve_metrics_on_the_compose_network_only(compose):
    for queue in QUEUES:
        worker = compose["services"][f"worker-{queue}"]
        port = int(env_of(worker).get("SYNC_METRICS_PORT", METRICS_PORT))
        assert port > 0, queue
        assert str(port) in [str(p).split("/")[0] for p in worker.get("expose", [])], queue
        # Never published: scaled replicas would clash on the host, and it is internal.
        assert not worker.get("ports"), queue


def strings(node) -> list[str]:
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in strings(k) + strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in strings(v)]
    return [node] if isinstance(node, str) else []


def test_env_example_names_every_required_variable(compose):
    required = {name for value in strings(compose)
                for name in re.findall(r"\$\{([A-Z0-9_]+):\?", value)}
    example = {}
    for line in (DEPLOY / "env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            example[key] = value
    assert required and required <= set(example)
    for key in required:
        if is_secret(key):
            assert example[key] == "", f"env.example must not hold a value for {key}"


# ---------------------------------------------------------------------------------------
# Kubernetes

KNOWN_KINDS = {("apps/v1", "Deployment"), ("v1", "Service"), ("v1", "ConfigMap"),
               ("batch/v1", "Job")}


@pytest.fixture(scope="module")
def kustomization() -> dict:
    return yaml.safe_load((K8S / "kustomization.yaml").read_text())


@pytest.fixture(scope="module")
def manifests(kustomization) -> list[dict]:
    docs = []
    for name in kustomization["resources"]:
        docs += [d for d in yaml.safe_load_all((K8S / name).read_text()) if d is not None]
    return docs


def by_kind(manifests, kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in manifests if d["kind"] == kind}


def workloads(manifests) -> list[dict]:
    return [d for d in manifests if d["kind"] in ("Deployment", "Job")]


def pod_spec(doc: dict) -> dict:
    return doc["spec"]["template"]["spec"]


def all_containers(doc: dict) -> list[dict]:
    spec = pod_spec(doc)
    return spec.get("initContainers", []) + spec["containers"]


def env_refs(container: dict) -> dict[str, dict]:
    return {e["name"]: e for e in container.get("env", [])}


def worker_deployment(manifests, queue: str) -> dict:
    return by_kind(manifests, "Deployment")[f"sync-workers-worker-{queue}"]


def config_map(manifests) -> dict[str, str]:
    return by_kind(manifests, "ConfigMap")["sync-workers-config"]["data"]


def test_kustomization_lists_exactly_the_manifests_in_the_folder(kustomization):
    listed = kustomization["resources"]
    assert len(listed) == len(set(listed))
    assert all((K8S / name).is_file() for name in listed)
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(listed) == on_disk
    assert kustomization["namespace"] == "sync-workers"
    assert [i["name"] for i in kustomization["images"]] == ["sync-workers"]


def test_every_manifest_parses_with_a_known_kind(manifests):
    assert manifests
    names = set()
    for doc in manifests:
        assert (doc["apiVersion"], doc["kind"]) in KNOWN_KINDS, doc.get("kind")
        key = (doc["kind"], doc["metadata"]["name"])
        assert key not in names
        names.add(key)
    # The Secret is created by the operator, never kept in the repository.
    assert not any(d["kind"] == "Secret" for d in manifests)


def test_one_worker_deployment_per_queue(manifests):
    limit = int(config_map(manifests)["SYNC_TASK_TIME_LIMIT"])
    assert limit == TASK_TIME_LIMIT
    for queue in QUEUES:
        doc = worker_deployment(manifests, queue)
        spec = pod_spec(doc)
        (worker,) = spec["containers"]
        cmd = worker["command"]
        assert cmd[:5] == ["celery", "-q", "-A", "sync_workers.celery_app", "worker"]
        assert cmd[cmd.index("-Q") + 1] == queue
        assert cmd[cmd.index("-n") + 1] == f"{queue}@%h"
        concurrency = cmd[cmd.index("-c") + 1]
        assert concurrency == "$(WORKER_CONCURRENCY)"
        assert int(env_refs(worker)["WORKER_CONCURRENCY"]["value"]) >= 1
        # Warm shutdown must be able to finish the longest task before SIGKILL.
        assert spec["terminationGracePeriodSeconds"] > limit
        probe = " ".join(worker["livenessProbe"]["exec"]["command"])
        assert "inspect ping" in probe and f'"{queue}@$HOSTNAME"' in probe


def test_receiver_and_workers_have_probes_and_resource_limits(manifests):
    deployments = by_kind(manifests, "Deployment")
    receiver = deployments["sync-workers-receiver"]
    (container,) = pod_spec(receiver)["containers"]
    assert "command" not in container and "args" not in container  # the image's gunicorn
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert pod_spec(receiver)["terminationGracePeriodSeconds"] > 30
    checked = [receiver] + [worker_deployment(manifests, q) for q in QUEUES]
    checked.append(deployments["sync-workers-flower"])
    for doc in checked:
        for c in pod_spec(doc)["containers"]:
            assert "livenessProbe" in c, doc["metadata"]["name"]
            for part in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(c["resources"][part]), doc["metadata"]["name"]


def test_exactly_one_beat_that_is_never_rolled(manifests):
    beats = [d for d in by_kind(manifests, "Deployment").values()
             if any("beat" in c.get("command", []) for c in pod_spec(d)["containers"])]
    assert [d["metadata"]["name"] for d in beats] == ["sync-workers-beat"]
    (beat,) = beats
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"] == {"type": "Recreate"}


def test_secrets_come_only_from_the_secret_by_reference(manifests):
    data = config_map(manifests)
    assert all(key in KNOWN_SYNC_VARS for key in data)
    assert not [key for key in data if is_secret(key)]
    assert not any(literal_password(v) for v in data.values())
    for doc in workloads(manifests):
        for c in all_containers(doc):
            where = (doc["metadata"]["name"], c["name"])
            for source in c.get("envFrom", []):
                assert set(source) <= {"configMapRef", "secretRef"}, where
            refs = env_refs(c)
            for name, entry in refs.items():
                if name.startswith("SYNC_"):
                    assert name in KNOWN_SYNC_VARS, (where, name)
                if is_secret(name):
                    assert "value" not in entry, (where, name)
                    ref = entry["valueFrom"]["secretKeyRef"]
                    assert ref == {"name": SECRET_NAME, "key": name}, (where, name)
            # With SYNC_ENVIRONMENT=production every process refuses the dev key.
            assert "secretKeyRef" in refs["SYNC_SECRET_KEY"]["valueFrom"], where


def test_provider_clients_reach_the_receiver_and_workers(manifests):
    deployments = by_kind(manifests, "Deployment")
    names = ["sync-workers-receiver"] + [f"sync-workers-worker-{q}" for q in QUEUES]
    for name in names:
        (container,) = pod_spec(deployments[name])["containers"]
        assert PROVIDER_VARS <= set(env_refs(container)), name
    flower = env_refs(pod_spec(deployments["sync-workers-flower"])["containers"][0])
    assert "secretKeyRef" in flower["FLOWER_BASIC_AUTH"]["valueFrom"]


def test_pods_run_as_non_root_from_the_image(manifests):
    for doc in workloads(manifests):
        spec = pod_spec(doc)
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["runAsUser"] != 0
        for c in all_containers(doc):
            assert c["image"] == "sync-workers"  # pinned by kustomization's `images`
            assert c["securityContext"]["allowPrivilegeEscalation"] is False


def test_migrations_run_before_new_code(manifests):
    (job,) = by_kind(manifests, "Job").values()
    (container,) = pod_spec(job)["containers"]
    assert container["command"] == ["sync-workers", "migrate"]
    assert pod_spec(job)["restartPolicy"] == "Never"
    deployments = by_kind(manifests, "Deployment")
    for name in ["sync-workers-receiver"] + [f"sync-workers-worker-{q}" for q in QUEUES]:
        init = pod_spec(deployments[name]).get("initContainers", [])
        assert [c["command"] for c in init] == [["sync-workers", "migrate"]], name


def test_services_select_their_deployments(manifests):
    deployments = by_kind(manifests, "Deployment")
    services = by_kind(manifests, "Service")
    assert set(services) == {"sync-workers-receiver", "sync-workers-flower"}
    for name, service in services.items():
        labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        assert service["spec"]["selector"].items() <= labels.items(), name
        ports = {p["name"] for c in pod_spec(deployments[name])["containers"]
                 for p in c.get("ports", [])}
        assert all(p["targetPort"] in ports for p in service["spec"]["ports"]), name
    for doc in deployments.values():
        assert doc["spec"]["selector"]["matchLabels"].items() <= \
            doc["spec"]["template"]["metadata"]["labels"].items()


def pod_annotations(doc: dict) -> dict[str, str]:
    return doc["spec"]["template"]["metadata"].get("annotations") or {}


def mounted_volume(doc: dict, container: dict, path: str) -> dict:
    """The pod volume that `container` mounts, writable, exactly at `path`."""
    (mount,) = [m for m in container.get("volumeMounts", []) if m["mountPath"] == path]
    assert not mount.get("readOnly") and not mount.get("subPath"), mount
    volumes = {v["name"]: v for v in pod_spec(doc).get("volumes", [])}
    return volumes[mount["name"]]


def assert_scraped(doc: dict, container: dict, port_name: str) -> int:
    ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
    name = doc["metadata"]["name"]
    assert port_name in ports, name
    annotations = pod_annotations(doc)
    assert annotations.get("prometheus.io/scrape") == "true", name
    assert annotations.get("prometheus.io/port") == str(ports[port_name]), name
    assert annotations.get("prometheus.io/path") == "/metrics", name
    return ports[port_name]


def test_k8s_receiver_adds_up_its_gunicorn_workers_on_an_emptydir(manifests):
    receiver = by_kind(manifests, "Deployment")["sync-workers-receiver"]
    (container,) = pod_spec(receiver)["containers"]
    entry = env_refs(container)[MULTIPROC]
    assert set(entry) == {"name", "value"}  # a literal path, known before gunicorn starts
    volume = mounted_volume(receiver, container, entry["value"])
    assert "emptyDir" in volume  # new and empty with every pod
    # The receiver's own: not in the ConfigMap, not in any other container.
    assert MULTIPROC not in config_map(manifests)
    for doc in workloads(manifests):
        for c in all_containers(doc):
            if c is not container:
                assert MULTIPROC not in env_refs(c), (doc["metadata"]["name"], c["name"])


def test_k8s_receiver_and_workers_are_scraped(manifests):
    receiver = by_kind(manifests, "Deployment")["sync-workers-receiver"]
    (container,) = pod_spec(receiver)["containers"]
    assert assert_scraped(receiver, container, "http") == 8000
    for queue in QUEUES:
        doc = worker_deployment(manifests, queue)
        (worker,) = pod_spec(doc)["containers"]
        port = assert_scraped(doc, worker, "metrics")
        configured = env_refs(worker).get("SYNC_METRICS_PORT", {"value": str(METRICS_PORT)})
        assert int(configured["value"]) == port > 0, queue
        # The worker's multiprocess files: its own directory on a writable emptyDir (the
        # root filesystem is read-only), either configured or its default under /tmp.
        directory = env_refs(worker).get(MULTIPROC, {}).get("value", "/tmp")
        assert "emptyDir" in mounted_volume(doc, worker, directory), queue
    # Scraped on the pods: no Service offers a worker's metrics port.
    for service in by_kind(manifests, "Service").values():
        assert all(p["targetPort"] != "metrics" for p in service["spec"]["ports"])


def routes_metrics(path: str, path_type: str) -> bool:
    if path_type == "Exact":
        return path == "/metrics"
    prefix = path.rstrip("/")
    return prefix == "" or "/metrics" == prefix or "/metrics".startswith(prefix + "/")


def test_k8s_no_ingress_routes_metrics(manifests):
    """/metrics shares the receiver's port: an Ingress (none today) must route around it."""
    for doc in manifests:
        if doc["kind"] != "Ingress":
            continue
        for rule in doc["spec"].get("rules", []):
            for entry in rule.get("http", {}).get("paths", []):
                path, path_type = entry.get("path", "/"), entry.get("pathType", "Prefix")
                assert not routes_metrics(path, path_type), (doc["metadata"]["name"], entry)
        assert "defaultBackend" not in doc["spec"], doc["metadata"]["name"]


def test_routes_metrics_recognises_what_would_expose_it():
    assert routes_metrics("/", "Prefix") and routes_metrics("/metrics", "Exact")
    assert routes_metrics("/metrics/", "Prefix") and routes_metrics("", "ImplementationSpecific")
    assert not routes_metrics("/webhooks/", "Prefix") and not routes_metrics("/oauth", "Prefix")
    assert not routes_metrics("/metricsx", "Prefix") and not routes_metrics("/", "Exact")


# ---------------------------------------------------------------------------------------
# systemd

UNIT_DIR = "/opt/sync-workers/venv/bin/"
SERVICES = ["sync-workers-migrate.service", "sync-workers-receiver.service",
            "sync-workers-worker@.service", "sync-workers-beat.service",
            "sync-workers-flower.service"]
# Per-queue drop-ins of the worker template: the metrics port of each queue's worker.
WORKER_DROPINS = {queue: f"sync-workers-worker@{queue}.service.d/metrics.conf"
                  for queue in QUEUES}


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string((SYSTEMD / name).read_text())
    return parser


def unit_values(name: str, key: str) -> list[str]:
    """Every value of a key that systemd allows to repeat (configparser keeps the last)."""
    return [line.split("=", 1)[1].strip() for line in (SYSTEMD / name).read_text().splitlines()
            if line.startswith(f"{key}=")]


def environment(name: str) -> dict[str, str]:
    """The Environment= assignments of a unit file, in order (systemd's quoting rules)."""
    env = {}
    for value in unit_values(name, "Environment"):
        for word in shlex.split(value):
            key, _, val = word.partition("=")
            env[key] = val
    return env


def exec_start(parsed: configparser.ConfigParser) -> list[str]:
    return parsed["Service"]["ExecStart"].replace("\\\n", " ").replace("\\", " ").split()


def test_systemd_units_parse_with_the_expected_sections():
    dropin_dirs = {Path(path).parent.name for path in WORKER_DROPINS.values()}
    assert {p.name for p in SYSTEMD.iterdir()} == \
        set(SERVICES) | {"sync-workers.target"} | dropin_dirs
    for path in WORKER_DROPINS.values():
        assert [p.name for p in (SYSTEMD / path).parent.iterdir()] == ["metrics.conf"]
        assert unit(path).sections() == ["Service"], path
    target = unit("sync-workers.target")
    assert target["Install"]["WantedBy"] == "multi-user.target"
    for name in SERVICES:
        parsed = unit(name)
        assert parsed.has_section("Unit") and parsed["Unit"]["Description"], name
        service = parsed["Service"]
        assert service["User"] == "sync-workers" and service["Group"] == "sync-workers", name
        assert unit_values(name, "EnvironmentFile")[0] == "/etc/sync-workers/env", name
        assert exec_start(parsed)[0].startswith(UNIT_DIR), name
        assert service["NoNewPrivileges"] == "yes", name
        assert parsed["Install"]["WantedBy"] == "sync-workers.target", name
        assert parsed["Unit"]["PartOf"] == "sync-workers.target", name


def test_systemd_migrate_runs_once_before_the_others():
    migrate = unit("sync-workers-migrate.service")
    assert migrate["Service"]["Type"] == "oneshot"
    assert exec_start(migrate) == [UNIT_DIR + "sync-workers", "migrate"]
    for name in SERVICES[1:]:
        parsed = unit(name)
        assert "sync-workers-migrate.service" in parsed["Unit"]["Requires"].split(), name
        assert "sync-workers-migrate.service" in parsed["Unit"]["After"].split(), name


def test_systemd_long_running_units_restart_and_drain():
    for name in SERVICES[1:]:
        service = unit(name)["Service"]
        assert service["Restart"] == "on-failure", name
        assert service["KillSignal"] == "SIGTERM", name
        assert int(service["TimeoutStopSec"]) > 0, name
    receiver = unit("sync-workers-receiver.service")
    cmd = exec_start(receiver)
    assert cmd[0] == UNIT_DIR + "gunicorn" and cmd[-1] == "sync_workers.receiver.wsgi:app"
    assert int(receiver["Service"]["TimeoutStopSec"]) > 30


def test_systemd_worker_template_serves_the_instance_queue():
    parsed = unit("sync-workers-worker@.service")
    cmd = exec_start(parsed)
    assert cmd[:5] == [UNIT_DIR + "celery", "-q", "-A", "sync_workers.celery_app", "worker"]
    assert cmd[cmd.index("-Q") + 1] == "%i"
    assert cmd[cmd.index("-n") + 1] == "%i@%H"
    assert cmd[cmd.index("-c") + 1] == "${WORKER_CONCURRENCY}"
    service = parsed["Service"]
    # Warm shutdown: SIGTERM to the main process only, SIGKILL after the longest task.
    assert service["KillMode"] == "mixed"
    assert int(service["TimeoutStopSec"]) > TASK_TIME_LIMIT
    assert "/etc/sync-workers/worker-%i.env" in \
        [v.lstrip("-") for v in unit_values("sync-workers-worker@.service", "EnvironmentFile")]


def test_systemd_receiver_adds_up_its_gunicorn_workers_in_a_runtime_directory():
    name = "sync-workers-receiver.service"
    service = unit(name)["Service"]
    directory = environment(name)[MULTIPROC]
    # systemd makes /run/NAME (%t/NAME) at start and removes it at stop.
    assert directory.startswith("%t/")
    assert directory.removeprefix("%t/") in service["RuntimeDirectory"].split()
    # ... and it is emptied before gunicorn starts all the same (its contents, not itself).
    empties = [shlex.split(cmd) for cmd in unit_values(name, "ExecStartPre")]
    assert any(cmd[:2] == ["/usr/bin/find", directory] and "-delete" in cmd
               and cmd[cmd.index("-mindepth") + 1] == "1" for cmd in empties), empties
    for other in ("sync-workers-migrate.service", "sync-workers-beat.service",
                  "sync-workers-flower.service"):
        assert MULTIPROC not in environment(other), other


def test_systemd_workers_get_a_metrics_port_and_directory_per_queue():
    name = "sync-workers-worker@.service"
    service = unit(name)["Service"]
    runtime = service["RuntimeDirectory"].split()
    directory = environment(name)[MULTIPROC]
    assert directory.startswith("%t/") and directory.removeprefix("%t/") in runtime
    assert "%i" in directory  # one per instance, i.e. per queue
    # Workers share the host's network: one port per queue, none of the others' ports.
    ports = {queue: int(environment(path)["SYNC_METRICS_PORT"])
             for queue, path in WORKER_DROPINS.items()}
    assert len(set(ports.values())) == len(QUEUES)
    assert all(1024 < port < 65536 for port in ports.values())
    assert not set(ports.values()) & {8000, 5555}
    assert ports[QUEUES[0]] == METRICS_PORT
    # An operator's per-queue file still overrides the drop-in (EnvironmentFile wins).
    assert "/etc/sync-workers/worker-%i.env" in \
        [v.lstrip("-") for v in unit_values(name, "EnvironmentFile")]


def test_systemd_beat_and_flower():
    beat = unit("sync-workers-beat.service")
    assert exec_start(beat)[-1] == "beat"
    text = (SYSTEMD / "sync-workers-beat.service").read_text()
    assert re.search(r"exactly ONE host", text, re.IGNORECASE)
    flower = unit("sync-workers-flower.service")
    cmd = exec_start(flower)
    assert cmd[3] == "flower" and "--address=127.0.0.1" in cmd
    assert not any("basic" in arg for arg in cmd)  # the password stays off the command line
    assert "/etc/sync-workers/flower.env" in unit_values("sync-workers-flower.service",
                                                         "EnvironmentFile")
    assert "FLOWER_BASIC_AUTH" in flower["Service"]["ExecStartPre"]


# ---------------------------------------------------------------------------------------
# Dockerfile


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with line continuations joined and comments dropped."""
    out, buf = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#") or (not buf and not stripped):
            continue
        if stripped.endswith("\\"):
            buf += stripped[:-1] + " "
            continue
        buf += stripped
        word, _, rest = buf.partition(" ")
        out.append((word.upper(), " ".join(rest.split())))
        buf = ""
    assert not buf, "dangling line continuation"
    return out


@pytest.fixture(scope="module")
def stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for instruction in dockerfile_instructions((DEPLOY / "Dockerfile").read_text()):
        if instruction[0] == "FROM":
            stages.append([])
        assert stages, "the Dockerfile must start with FROM"
        stages[-1].append(instruction)
    return stages


def test_dockerfile_is_multi_stage_on_slim_python(stages):
    assert len(stages) >= 2
    for stage in stages:
        image = stage[0][1].split()[0]
        assert re.fullmatch(r"python:3\.11-slim(-[a-z]+)?(@sha256:[0-9a-f]{64})?", image)
    build, runtime = stages[0], stages[-1]
    assert any(op == "RUN" and "pip wheel" in args for op, args in build)
    installs = [args for op, args in runtime if op == "RUN" and "pip install" in args]
    assert installs and all("--no-index" in a and "sync-workers" in a for a in installs)


def test_dockerfile_runs_as_a_non_root_user(stages):
    runtime = stages[-1]
    users = [i for i, (op, _) in enumerate(runtime) if op == "USER"]
    assert users
    user = runtime[users[-1]][1].split(":")[0]
    assert user not in ("root", "0")
    # Nothing after the switch runs as root again.
    assert not any(op == "RUN" for op, _ in runtime[users[-1]:])


def test_dockerfile_cmd_runs_the_receiver_under_gunicorn(stages):
    cmds = [args for op, args in stages[-1] if op == "CMD"]
    assert len(cmds) == 1
    cmd = json.loads(cmds[0])  # exec form: gunicorn is PID 1 and gets SIGTERM itself
    assert cmd[0] == "gunicorn" and cmd[-1] == "sync_workers.receiver.wsgi:app"
    assert cmd[cmd.index("--bind") + 1] == "0.0.0.0:8000"
    assert not any(op == "ENTRYPOINT" for op, _ in stages[-1])  # commands override CMD
    exposed = {port for op, args in stages[-1] if op == "EXPOSE" for port in args.split()}
    assert exposed == {"8000", "5555", str(METRICS_PORT)}


def test_dockerfile_bakes_in_no_secret(stages):
    for stage in stages:
        for op, args in stage:
            if op in ("ENV", "ARG"):
                names = re.findall(r"([A-Z_][A-Z0-9_]*)=", args) or [args.split("=")[0]]
                assert not [n for n in names if is_secret(n) or n.startswith("SYNC_")], args
                # Every role would share it: set per process group by the deploy files.
                assert MULTIPROC not in names, args
            if op in ("COPY", "ADD"):
                assert ".env" not in args and "deploy" not in args, args


def test_dockerignore_keeps_local_state_out_of_the_context():
    lines = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
             if line.strip() and not line.startswith("#")}
    assert {".git", ".venv", ".run", ".pytest_cache"} <= lines
    assert "**/.env" in lines
    # What the image copies must stay in the context.
    assert not lines & {"sync_workers", "pyproject.toml", "README.md", "beat_schedule.py"}
