#!/usr/bin/env python3
"""Writes services.yaml and gateway.yaml (four near-identical StatefulSets and the gateway) from
one template, so the replicas, probes and security settings stay the same everywhere. Run it after
changing RESOURCES or the template; services/tessera/tests/it/deploy.rs checks the output."""
import pathlib

HERE = pathlib.Path(__file__).parent

# Requests from measured figures (see the comment written into each file); limits leave headroom for
# connection floods (memory) and let a pod burst on idle cores (no CPU limit).
RESOURCES = {
    "identity": ("50m", "32Mi", "256Mi"),
    "policy": ("25m", "32Mi", "256Mi"),
    "sts": ("100m", "32Mi", "256Mi"),
    "authorizer": ("25m", "32Mi", "256Mi"),
    "gateway": ("250m", "64Mi", "512Mi"),
}
MEASURED = """# Resource requests, sized for about 1,000 AssumeRole/s and 5,000 Authorize/s per gateway, from
# figures measured on a 2-core development machine shared with compilers (deploy/local/measure.sh):
# - release all-in-one on Redis under tessera-loadtest: 16 MiB resident at rest, 22 MiB under load;
#   ~0.17 ms of CPU per AssumeRole and ~0.05 ms per Authorize (2,560 and 11,500 req/s);
# - the split cluster (a debug build: its CPU is ~20x a release build's, its resident memory
#   43-51 MiB per process against 16-22 MiB) shows where that CPU goes: AssumeRole is ~48% gateway,
#   ~50% sts, ~3% identity, under 1% policy; Authorize is all gateway (it answers the authorizer
#   API itself); the authorizer replicas are idle unless services call them directly (size them
#   like a gateway then). Memory limits leave room for connection floods (53 MiB at the peak of
#   4,000 connections, docs/operations.md); no CPU limit, so a pod may use idle cores."""

POD_SECURITY = """      securityContext:
        runAsNonRoot: true
        runAsUser: 10001
        runAsGroup: 10001
        fsGroup: 10001
        seccompProfile:
          type: RuntimeDefault"""

def container(name, args, resources, extra_env=""):
    cpu, memory, limit = resources
    return f"""      containers:
        - name: tessera
          image: tessera:local
          args: {args}
          ports:
            - name: http
              containerPort: 8080
            - name: grpc
              containerPort: 50051
{extra_env}          readinessProbe:
            httpGet:
              path: /readyz
              port: http
            periodSeconds: 5
            failureThreshold: 2
          livenessProbe:
            httpGet:
              path: /healthz
              port: http
            periodSeconds: 10
            failureThreshold: 3
          resources:
            requests:
              cpu: {cpu}
              memory: {memory}
            limits:
              memory: {limit}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities:
              drop: ["ALL"]
          volumeMounts:
            - name: config
              mountPath: /etc/tessera/config
              readOnly: true
            - name: master-key
              mountPath: /etc/tessera/secret
              readOnly: true
            - name: data
              mountPath: /var/lib/tessera
      volumes:
        - name: config
          configMap:
            name: tessera-config
        - name: master-key
          secret:
            secretName: tessera-master-key
            defaultMode: 288  # 0440: the owner and the pod's fsGroup (10001) read it
        # Audit log and, on the identity replica that bootstraps, root-credentials.json.
        - name: data
          emptyDir: {{}}"""

def pdb(name):
    return f"""apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {name}
spec:
  minAvailable: 1
  selector:
    matchLabels:
      app.kubernetes.io/name: {name}"""

ROOT_KEY_ENV = """          # The account's root key on first start, for automation (optional: without it identity-0
          # writes a new one to /var/lib/tessera/root-credentials.json; read it with kubectl exec).
          env:
            - name: TESSERA_ROOT_ACCESS_KEY_ID
              valueFrom:
                secretKeyRef:
                  name: tessera-root-key
                  key: access-key-id
                  optional: true
            - name: TESSERA_ROOT_SECRET_ACCESS_KEY
              valueFrom:
                secretKeyRef:
                  name: tessera-root-key
                  key: secret-access-key
                  optional: true
"""

def service(svc):
    name = f"tessera-{svc}"
    # identity-0 must be ready (account bootstrapped) before identity-1 starts.
    policy = "OrderedReady" if svc == "identity" else "Parallel"
    args = f'["serve", "--config", "/etc/tessera/config/service.toml", "--service", "{svc}"]'
    env = ROOT_KEY_ENV if svc == "identity" else ""
    return f"""# The {svc} service: gRPC for the gateways, HTTP for probes and /metrics.
apiVersion: v1
kind: Service
metadata:
  name: {name}
  labels:
    app.kubernetes.io/name: {name}
spec:
  # Headless: each replica has its own DNS name ({name}-0.{name}), which the gateways list.
  clusterIP: None
  selector:
    app.kubernetes.io/name: {name}
  ports:
    - name: http
      port: 8080
      targetPort: http
    - name: grpc
      port: 50051
      targetPort: grpc
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: {name}
  labels:
    app.kubernetes.io/name: {name}
    app.kubernetes.io/part-of: tessera
spec:
  serviceName: {name}
  replicas: 2
  podManagementPolicy: {policy}
  selector:
    matchLabels:
      app.kubernetes.io/name: {name}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: {name}
        app.kubernetes.io/part-of: tessera
    spec:
{POD_SECURITY}
      terminationGracePeriodSeconds: 30
{container(name, args, RESOURCES[svc], env)}
---
{pdb(name)}
"""

HEADER = """# Generated by generate.py: edit that, then run it.
#
# The four domain services as StatefulSets rather than Deployments: a gateway balances across a
# fixed list of replicas (`[upstreams]` in gateway.toml) and keeps one HTTP/2 connection to each,
# so each replica needs a stable DNS name; a Deployment behind a ClusterIP Service would pin each
# gateway's connection to whichever pod kube-proxy picked. They keep no state (Redis holds it).
"""

def gateway():
    name = "tessera-gateway"
    args = '["serve", "--config", "/etc/tessera/config/gateway.toml"]'
    return f"""# Generated by generate.py: edit that, then run it.
#
# The gateways: the AWS IAM/STS endpoint and the native gRPC API. Stateless, so a Deployment behind
# an ordinary Service; put TLS in front (an Ingress or a load balancer).
{MEASURED}
apiVersion: v1
kind: Service
metadata:
  name: {name}
  labels:
    app.kubernetes.io/name: {name}
spec:
  selector:
    app.kubernetes.io/name: {name}
  ports:
    - name: http
      port: 8080
      targetPort: http
    - name: grpc
      port: 50051
      targetPort: grpc
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  labels:
    app.kubernetes.io/name: {name}
    app.kubernetes.io/part-of: tessera
spec:
  replicas: 2
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxUnavailable: 0
      maxSurge: 1
  selector:
    matchLabels:
      app.kubernetes.io/name: {name}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: {name}
        app.kubernetes.io/part-of: tessera
    spec:
{POD_SECURITY}
      terminationGracePeriodSeconds: 30
{container(name, args, RESOURCES["gateway"])}
---
{pdb(name)}
"""

(HERE / "services.yaml").write_text(HEADER + MEASURED + "\n" + "---\n".join(service(s) for s in ["identity", "policy", "sts", "authorizer"]))
(HERE / "gateway.yaml").write_text(gateway())
