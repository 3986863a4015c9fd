#!/usr/bin/env python3
"""Checks the Kubernetes manifests of deploy/k8s/ and the references between them.

Usage: k8s_manifests.py DIR [LOOM_BINARY]
Prints one PASS/FAIL line per check and exits non-zero when any check fails. With a loom
binary, the ConfigMap's run config is also loaded by loom itself.
"""
import os
import re
import subprocess
import sys
import tempfile

import yaml

results = []


def check(name, ok, detail=""):
    results.append(ok)
    print(f"k8s: {'PASS' if ok else 'FAIL'} {name}{'' if ok else ': ' + detail}",
          file=sys.stdout if ok else sys.stderr)


def load(directory):
    """Every document of every *.yaml, as (file, document)."""
    docs = []
    for name in sorted(os.listdir(directory)):
        if name.endswith((".yaml", ".yml")):
            with open(os.path.join(directory, name)) as f:
                for doc in yaml.safe_load_all(f):
                    if doc is not None:
                        docs.append((name, doc))
    return docs


def pod_specs(objects):
    return {o["metadata"]["name"]: o["spec"]["template"]["spec"] for o in objects if o["kind"] == "Deployment"}


def containers(spec):
    return spec.get("containers", []) + spec.get("initContainers", [])


def args_of(container):
    """--key=value and --key value arguments as a dict (last wins)."""
    out, args = {}, container.get("args", [])
    for i, a in enumerate(args):
        if a.startswith("--"):
            if "=" in a:
                k, v = a[2:].split("=", 1)
            else:
                k, v = a[2:], args[i + 1] if i + 1 < len(args) and not args[i + 1].startswith("--") else ""
            out.setdefault(k, []).append(v)
    return out


def main(directory, loom=None):
    docs = load(directory)
    check("every manifest parses", len(docs) > 0, "no YAML documents found")
    kust = [d for f, d in docs if d.get("kind") == "Kustomization"]
    objects = [d for f, d in docs if d.get("kind") != "Kustomization"]
    for f, d in docs:
        if d.get("kind") == "Kustomization":
            continue
        ok = all(k in d for k in ("apiVersion", "kind", "metadata")) and "name" in d.get("metadata", {})
        check(f"{f}: {d.get('kind')} has apiVersion, kind and metadata.name", ok, str(list(d)))
    by_kind = {}
    for o in objects:
        by_kind.setdefault(o["kind"], {})[o["metadata"]["name"]] = o

    # kustomization lists every manifest file, and only existing ones
    files = {f for f, d in docs if d.get("kind") != "Kustomization"}
    listed = set(kust[0].get("resources", [])) if kust else set()
    check("kustomization.yaml lists exactly the manifest files", listed == files,
          f"listed {sorted(listed)}, files {sorted(files)}")

    for kind in ("Deployment", "Service", "ConfigMap", "Secret", "PersistentVolumeClaim"):
        check(f"there is a {kind}", kind in by_kind, f"kinds present: {sorted(by_kind)}")
    deployments = by_kind.get("Deployment", {})
    specs = pod_specs(objects)

    for name, d in deployments.items():
        sel = d["spec"]["selector"]["matchLabels"]
        labels = d["spec"]["template"]["metadata"]["labels"]
        check(f"Deployment {name}: selector matches its pod labels",
              all(labels.get(k) == v for k, v in sel.items()), f"{sel} vs {labels}")
        spec = specs[name]
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        mounted = set()
        for c in containers(spec):
            for m in c.get("volumeMounts", []):
                mounted.add(m["name"])
                check(f"{name}/{c['name']}: mount {m['name']} is a volume of the pod", m["name"] in volumes,
                      f"volumes: {sorted(volumes)}")
            ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
            for probe in ("readinessProbe", "livenessProbe"):
                port = c.get(probe, {}).get("httpGet", {}).get("port")
                if port is not None:
                    check(f"{name}/{c['name']}: {probe} port {port} is a container port",
                          port in ports or port in ports.values(), f"ports: {ports}")
        for v in volumes:
            check(f"{name}: volume {v} is mounted by a container", v in mounted)
        for v in volumes.values():
            if "configMap" in v:
                cm = by_kind.get("ConfigMap", {}).get(v["configMap"]["name"])
                check(f"{name}: ConfigMap {v['configMap']['name']} exists", cm is not None)
                for item in v["configMap"].get("items", []) if cm else []:
                    check(f"{name}: ConfigMap key {item['key']} exists", item["key"] in cm.get("data", {}))
            if "secret" in v:
                s = by_kind.get("Secret", {}).get(v["secret"]["secretName"])
                check(f"{name}: Secret {v['secret']['secretName']} exists", s is not None)
                keys = set((s or {}).get("stringData", {})) | set((s or {}).get("data", {}))
                for item in v["secret"].get("items", []) if s else []:
                    check(f"{name}: Secret key {item['key']} exists", item["key"] in keys, f"keys: {sorted(keys)}")
            if "persistentVolumeClaim" in v:
                claim = v["persistentVolumeClaim"]["claimName"]
                check(f"{name}: PersistentVolumeClaim {claim} exists",
                      claim in by_kind.get("PersistentVolumeClaim", {}))

    # the roles: one coordinator, elastic workers
    coord = next((n for n, s in specs.items() if any(c.get("args", [""])[0] == "coordinator" for c in s["containers"])), None)
    worker = next((n for n, s in specs.items() if any(c.get("args", [""])[0] == "worker" for c in s["containers"])), None)
    check("a Deployment runs `loom coordinator`", coord is not None)
    check("a Deployment runs `loom worker`", worker is not None)
    if not coord or not worker:
        return
    cd = deployments[coord]
    check("the coordinator has exactly one replica and is recreated, never doubled",
          cd["spec"].get("replicas") == 1 and cd["spec"].get("strategy", {}).get("type") == "Recreate")
    cc = next(c for c in specs[coord]["containers"] if c["args"][0] == "coordinator")
    wc = next(c for c in specs[worker]["containers"] if c["args"][0] == "worker")
    ca, wa = args_of(cc), args_of(wc)
    cports = {p.get("name"): p["containerPort"] for p in cc.get("ports", [])}
    check("the coordinator has readiness and liveness probes", "readinessProbe" in cc and "livenessProbe" in cc)
    check("the coordinator resumes (--resume=auto)", ca.get("resume") == ["auto"])
    check("the coordinator requires CURVE keys (--keys, no --insecure)", "keys" in ca and "insecure" not in ca)
    bind_port = int(re.search(r":(\d+)$", ca["bind"][0]).group(1))
    check("the coordinator binds the port it declares", bind_port in cports.values(), f"{bind_port} vs {cports}")
    check("--metrics-port is the declared metrics port",
          int(ca.get("metrics-port", ["-1"])[0]) == cports.get("metrics"), f"{ca.get('metrics-port')} vs {cports}")

    # the worker reaches the coordinator through a Service that selects it
    m = re.match(r"tcp://([^:]+):(\d+)$", wa["connect"][0])
    svc = by_kind.get("Service", {}).get(m.group(1)) if m else None
    check(f"the workers connect to a Service ({wa['connect'][0]})", svc is not None)
    if svc:
        labels = cd["spec"]["template"]["metadata"]["labels"]
        check("the Service selects the coordinator pods",
              all(labels.get(k) == v for k, v in svc["spec"]["selector"].items()))
        wlabels = deployments[worker]["spec"]["template"]["metadata"]["labels"]
        check("the Service does not select the worker pods",
              not all(wlabels.get(k) == v for k, v in svc["spec"]["selector"].items()))
        sp = next((p for p in svc["spec"]["ports"] if p["port"] == int(m.group(2))), None)
        check("the workers' port is a Service port", sp is not None)
        for p in svc["spec"]["ports"]:
            t = p.get("targetPort", p["port"])
            check(f"Service port {p['name']} targets a coordinator port", t in cports or t in cports.values())
        if sp:
            t = sp.get("targetPort", sp["port"])
            check("the workers' Service port leads to the bound port", cports.get(t, t) == bind_port)

    # files the commands name exist where they look
    def mounted_files(spec, container):
        """path -> (kind, source name, key) for every configMap/secret item mounted in container."""
        vols = {v["name"]: v for v in spec.get("volumes", [])}
        out = {}
        for mnt in container.get("volumeMounts", []):
            v = vols.get(mnt["name"], {})
            for kind, ref in (("configMap", "name"), ("secret", "secretName")):
                if kind in v:
                    for item in v[kind].get("items", []):
                        out[os.path.join(mnt["mountPath"], item["path"])] = (kind, v[kind][ref], item["key"])
        return out

    cfiles = mounted_files(specs[coord], cc)
    config_path = ca["config"][0]
    check(f"the coordinator's --config {config_path} is mounted from the ConfigMap", config_path in cfiles)
    if config_path in cfiles:
        cm = by_kind["ConfigMap"][cfiles[config_path][1]]
        run = yaml.safe_load(cm["data"][cfiles[config_path][2]])
        model = os.path.join(os.path.dirname(config_path), run.get("model", {}).get("file", ""))
        check(f"the config's model.file is mounted beside it ({model})", model in cfiles)
        if loom and model in cfiles:
            with tempfile.TemporaryDirectory() as t:
                for path, (kind, src, key) in cfiles.items():
                    if kind == "configMap" and path.startswith(os.path.dirname(config_path)):
                        local = os.path.join(t, os.path.relpath(path, os.path.dirname(config_path)))
                        os.makedirs(os.path.dirname(local), exist_ok=True)
                        with open(local, "w") as f:
                            f.write(by_kind["ConfigMap"][src]["data"][key])
                sets = [f"--set={s}" for s in ca.get("set", [])]
                r = subprocess.run([loom, "train", "--config", os.path.join(t, os.path.basename(config_path)),
                                    *sets, "--print-run-dir"], capture_output=True, text=True)
                check("loom accepts the ConfigMap's config with the coordinator's overrides",
                      r.returncode == 0, r.stderr.strip())

    # key directories: what `loom coordinator --keys` and `loom worker --keys` read must be
    # installed there by the init container from the Secret.
    for role, spec, c, need in ((coord, specs[coord], cc, ["loom.pub", "loom.key", "authorized/"]),
                                (worker, specs[worker], wc, ["loom.pub", "loom.key", "coordinator.pub"])):
        keys_dir = args_of(c)["keys"][0]
        init = " ".join(" ".join(i.get("args", []) + i.get("command", [])) for i in spec.get("initContainers", []))
        secret_files = {os.path.basename(p.rstrip("/")) for i in spec.get("initContainers", [])
                        for p in mounted_files(spec, i)}
        into = any(m["mountPath"] == keys_dir for i in spec.get("initContainers", []) for m in i.get("volumeMounts", []))
        check(f"{role}: an init container writes the key directory {keys_dir}", into)
        for n in need:
            check(f"{role}: the init container installs {n} in {keys_dir}", n in init)
        check(f"{role}: the init container reads the keys from a Secret", {"loom.pub", "loom.key"} <= secret_files,
              f"{sorted(secret_files)}")

    # make-secrets.sh writes the Secrets the manifests use, with the same keys
    script = os.path.join(directory, "make-secrets.sh")
    if os.path.exists(script):
        text = open(script).read()
        for name, s in by_kind.get("Secret", {}).items():
            check(f"make-secrets.sh writes Secret {name}", f"name: {name}" in text)
            for key in s.get("stringData", {}):
                check(f"make-secrets.sh writes {name}/{key}", f"  {key}:" in text)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None)
    failed = results.count(False)
    print(f"k8s: {len(results) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
