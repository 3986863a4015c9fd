#!/usr/bin/env bash
# Prints the two CURVE key Secrets the manifests of deploy/k8s/ mount, with fresh keys:
#   deploy/k8s/make-secrets.sh | kubectl create -f -
# Run it once per namespace. `kubectl create` refuses to replace Secrets that exist, so
# running it again by mistake changes no key; to rotate the keys, delete both Secrets
# first, then restart the coordinator and the workers. The Secrets are not part of what
# `kubectl apply -k deploy/k8s/` applies, so re-applying the manifests keeps them.
# The coordinator admits the workers' public key (worker.pub, installed as authorized/);
# workers trust the coordinator's (coordinator.pub). Secret keys never leave their Secret.
# LOOM=/path/to/loom selects the binary (default: loom on PATH). The keys exist only in
# the output (and then in the cluster): nothing is left on disk.
set -euo pipefail
LOOM=${LOOM:-loom}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$LOOM" keygen --out "$dir/coordinator" >/dev/null
"$LOOM" keygen --out "$dir/worker" >/dev/null
# value FILE: the file's one line, quoted for YAML (Z85 keys may hold any of .-:+=^!/*?&<>()[]{}@%$#).
value() { python3 -c 'import json,sys; print(json.dumps(open(sys.argv[1]).read()))' "$1"; }
cat <<YAML
apiVersion: v1
kind: Secret
metadata:
  name: loom-coordinator-keys
  labels:
    app.kubernetes.io/name: loom
type: Opaque
stringData:
  loom.pub: $(value "$dir/coordinator/loom.pub")
  loom.key: $(value "$dir/coordinator/loom.key")
  worker.pub: $(value "$dir/worker/loom.pub")
---
apiVersion: v1
kind: Secret
metadata:
  name: loom-worker-keys
  labels:
    app.kubernetes.io/name: loom
type: Opaque
stringData:
  loom.pub: $(value "$dir/worker/loom.pub")
  loom.key: $(value "$dir/worker/loom.key")
  coordinator.pub: $(value "$dir/coordinator/loom.pub")
YAML
