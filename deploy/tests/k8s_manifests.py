#!/usr/bin/env python3
"""Checks what `kubectl apply -k deploy/k8s/` would apply, and the references inside it.

Usage: k8s_manifests.py DIR [LOOM_BINARY]
The objects checked are those `kubectl kustomize DIR` renders. Without kubectl (it is not
a Debian package), the checker renders the directory itself: the files that
kustomization.yaml lists, with its `labels` and `images`, the two transformers it uses;
it says which it did. The CURVE key Secrets come from make-secrets.sh (run with the loom
binary when one is given, else read from the script), since they are never applied by -k.
Prints one PASS/FAIL line per check and exits non-zero when any check fails. With a loom
binary, the ConfigMap's run config is also loaded by loom itself.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

results = []


def check(name, ok, detail=""):
    results.append(bool(ok))
    print(f"k8s: {'PASS' if ok else 'FAIL'} {name}{'' if ok else ': ' + detail}",
          file=sys.stdout if ok else sys.stderr)


# ---- rendering ----------------------------------------------------------------------------

def render_with_kubectl(directory):
    r = subprocess.run(["kubectl", "kustomize", directory], capture_output=True, text=True)
    check("kubectl kustomize renders the directory", r.returncode == 0, r.stderr.strip())
    return [d for d in yaml.safe_load_all(r.stdout) if d] if r.returncode == 0 else []


def render_by_hand(directory):
    """The subset of kustomize that deploy/k8s/kustomization.yaml uses."""
    with open(os.path.join(directory, "kustomization.yaml")) as f:
        kust = yaml.safe_load(f)
    objects = []
    for name in kust.get("resources", []):
        path = os.path.join(directory, name)
        check(f"kustomization resource {name} exists", os.path.isfile(path))
        if os.path.isfile(path):
            with open(path) as f:
                objects += [d for d in yaml.safe_load_all(f) if d]
    extra = {}
    for group in kust.get("labels", []):
        extra.update(group.get("pairs", {}))
    images = {i["name"]: i for i in kust.get("images", [])}
    for o in objects:
        o.setdefault("metadata", {}).setdefault("labels", {}).update(extra)
        spec = o.get("spec", {}).get("template", {}).get("spec", {})
        for c in spec.get("containers", []) + spec.get("initContainers", []):
            name = c["image"].split(":")[0].split("@")[0]
            if name in images:
                i = images[name]
                c["image"] = i.get("newName", name) + (":" + str(i["newTag"]) if "newTag" in i else "")
    return objects


def secrets_of_script(directory, loom):
    """The Secrets make-secrets.sh writes: run it when there is a loom binary, else read it."""
    script = os.path.join(directory, "make-secrets.sh")
    if not os.path.exists(script):
        check("make-secrets.sh exists", False)
        return {}
    if loom:
        r = subprocess.run(["bash", script], capture_output=True, text=True, env={**os.environ, "LOOM": loom})
        check("make-secrets.sh runs", r.returncode == 0, r.stderr.strip())
        docs = [d for d in yaml.safe_load_all(r.stdout) if d] if r.returncode == 0 else []
        return {d["metadata"]["name"]: set(d.get("stringData", {})) | set(d.get("data", {}))
                for d in docs if d.get("kind") == "Secret"}
    text = open(script).read()
    out = {}
    for block in re.split(r"^---$", text, flags=re.M):
        m = re.search(r"^  name: (\S+)", block, flags=re.M)
        if m and "kind: Secret" in block:
            out[m.group(1)] = set(re.findall(r"^  ([\w.-]+): \$\(value", block, flags=re.M))
    return out


# ---- helpers ------------------------------------------------------------------------------

def pod_specs(objects):
    """workload name -> (kind, object, pod spec) for Deployments, Jobs and StatefulSets."""
    return {o["metadata"]["name"]: (o["kind"], o, o["spec"]["template"]["spec"])
            for o in objects if o["kind"] in ("Deployment", "Job", "StatefulSet")}


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


def quantity(q):
    """A CPU or memory quantity as a float (cores or bytes)."""
    q = str(q)
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 1e3, "M": 1e6, "G": 1e9}
    for u, f in sorted(units.items(), key=lambda kv: -len(kv[0])):
        if q.endswith(u):
            return float(q[:-len(u)]) * f
    return float(q)


# ---- checks -------------------------------------------------------------------------------

def main(directory, loom=None):
    if shutil.which("kubectl"):
        print("k8s: rendering with kubectl kustomize")
        objects = render_with_kubectl(directory)
    else:
        print("k8s: kubectl not found: rendering kustomization.yaml's resources, labels and images by hand")
        objects = render_by_hand(directory)
    check("the kustomization renders objects", len(objects) > 0, "nothing rendered")
    for o in objects:
        ok = all(k in o for k in ("apiVersion", "kind", "metadata")) and "name" in o.get("metadata", {})
        check(f"{o.get('kind')} {o.get('metadata', {}).get('name')} has apiVersion, kind and metadata.name", ok)
    by_kind = {}
    for o in objects:
        by_kind.setdefault(o["kind"], {})[o["metadata"]["name"]] = o

    # Secrets: never applied by -k (re-applying would replace real keys), made by the script.
    check("kubectl apply -k applies no Secret", "Secret" not in by_kind, f"{sorted(by_kind.get('Secret', {}))}")
    check("no placeholder value in what -k applies", "REPLACE" not in yaml.safe_dump_all(objects))
    secrets = secrets_of_script(directory, loom)
    check("make-secrets.sh writes Secrets", len(secrets) > 0)

    for kind in ("Job", "Deployment", "Service", "ConfigMap", "PersistentVolumeClaim"):
        check(f"there is a {kind}", kind in by_kind, f"kinds present: {sorted(by_kind)}")
    workloads = pod_specs(objects)

    for name, (kind, o, spec) in workloads.items():
        labels = o["spec"]["template"]["metadata"].get("labels", {})
        sel = o["spec"].get("selector", {}).get("matchLabels")
        if sel is not None:
            check(f"{kind} {name}: selector matches its pod labels",
                  all(labels.get(k) == v for k, v in sel.items()), f"{sel} vs {labels}")
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
                keys = secrets.get(v["secret"]["secretName"])
                check(f"{name}: Secret {v['secret']['secretName']} is written by make-secrets.sh", keys is not None,
                      f"it writes {sorted(secrets)}")
                for item in v["secret"].get("items", []) if keys is not None else []:
                    check(f"{name}: Secret key {item['key']} is written by make-secrets.sh", item["key"] in keys,
                          f"keys: {sorted(keys)}")
            if "persistentVolumeClaim" in v:
                claim = v["persistentVolumeClaim"]["claimName"]
                check(f"{name}: PersistentVolumeClaim {claim} exists",
                      claim in by_kind.get("PersistentVolumeClaim", {}))

        # Pod security: the restricted Pod Security Standard, and a read-only root.
        psc = spec.get("securityContext", {})
        check(f"{name}: runAsNonRoot with a non-zero runAsUser",
              psc.get("runAsNonRoot") is True and int(psc.get("runAsUser", 0)) > 0, f"{psc}")
        check(f"{name}: seccomp profile RuntimeDefault", psc.get("seccompProfile", {}).get("type") == "RuntimeDefault")
        check(f"{name}: no service account token", spec.get("automountServiceAccountToken") is False)
        for c in containers(spec):
            sc = c.get("securityContext", {})
            caps = sc.get("capabilities", {})
            check(f"{name}/{c['name']}: allowPrivilegeEscalation false", sc.get("allowPrivilegeEscalation") is False)
            check(f"{name}/{c['name']}: read-only root file system", sc.get("readOnlyRootFilesystem") is True)
            check(f"{name}/{c['name']}: drops ALL capabilities and adds none",
                  "ALL" in caps.get("drop", []) and not caps.get("add"), f"{caps}")
            check(f"{name}/{c['name']}: not privileged, not root",
                  not sc.get("privileged") and sc.get("runAsUser", 1) != 0 and sc.get("runAsNonRoot", True) is not False)
            res = c.get("resources", {})
            req, lim = res.get("requests", {}), res.get("limits", {})
            full = all(k in req and k in lim for k in ("cpu", "memory"))
            check(f"{name}/{c['name']}: CPU and memory requests and limits", full, f"{res}")
            if full:
                check(f"{name}/{c['name']}: requests within limits",
                      all(quantity(req[k]) <= quantity(lim[k]) for k in ("cpu", "memory")), f"{res}")
            image = c.get("image", "")
            check(f"{name}/{c['name']}: image {image} is tagged by a version",
                  re.search(r":v?\d+\.\d+\.\d+([-+][\w.]+)?$", image) is not None or "@sha256:" in image)

    # The roles: the coordinator is a Job of one pod that resumes; the workers scale.
    def role(r):
        return next((n for n, (k, o, s) in workloads.items()
                     if any(c.get("args", [""])[0] == r for c in s["containers"])), None)
    coord, worker = role("coordinator"), role("worker")
    check("a workload runs `loom coordinator`", coord is not None)
    check("a workload runs `loom worker`", worker is not None)
    if not coord or not worker:
        return
    ckind, cobj, cspec = workloads[coord]
    wkind, wobj, wspec = workloads[worker]
    check("the coordinator is a Job (a finished run completes, it is not restarted forever)", ckind == "Job", ckind)
    if ckind == "Job":
        js = cobj["spec"]
        check("the coordinator Job runs one pod at a time",
              js.get("parallelism", 1) == 1 and js.get("completions", 1) == 1)
        check("the coordinator Job restarts a failed coordinator (restartPolicy OnFailure)",
              cspec.get("restartPolicy") == "OnFailure", cspec.get("restartPolicy", "unset"))
        check("the coordinator Job has a backoffLimit", int(js.get("backoffLimit", 0)) > 0)
        check("the coordinator Job replaces a pod only once it has stopped (podReplacementPolicy Failed)",
              js.get("podReplacementPolicy") == "Failed")
        check("the coordinator Job has no deadline that would stop a long run",
              "activeDeadlineSeconds" not in js and "activeDeadlineSeconds" not in cspec)
    check("the workers are a Deployment or an Indexed Job that scales",
          wkind == "Deployment" or (wkind == "Job" and wobj["spec"].get("completionMode") == "Indexed"), wkind)
    check("the workers mount no PersistentVolumeClaim (stateless)",
          not any("persistentVolumeClaim" in v for v in wspec.get("volumes", [])))
    cc = next(c for c in cspec["containers"] if c["args"][0] == "coordinator")
    wc = next(c for c in wspec["containers"] if c["args"][0] == "worker")
    ca, wa = args_of(cc), args_of(wc)
    cports = {p.get("name"): p["containerPort"] for p in cc.get("ports", [])}
    check("the coordinator has readiness and liveness probes", "readinessProbe" in cc and "livenessProbe" in cc)
    check("the coordinator resumes (--resume=auto)", ca.get("resume") == ["auto"])
    state = [m["mountPath"] for m in cc.get("volumeMounts", [])
             if any(v["name"] == m["name"] and "persistentVolumeClaim" in v for v in cspec.get("volumes", []))]
    ckpt = next((s.split("=", 1)[1] for s in ca.get("set", []) if s.startswith("checkpoint.dir=")), "")
    check(f"the coordinator's checkpoint.dir {ckpt} is on the PersistentVolumeClaim",
          any(ckpt.startswith(p.rstrip("/") + "/") for p in state), f"claim mounted at {state}")
    check("the coordinator requires CURVE keys (--keys, no --insecure)", "keys" in ca and "insecure" not in ca)
    check("the coordinator's pod has a grace period for its stop checkpoint",
          int(cspec.get("terminationGracePeriodSeconds", 30)) >= 60)
    bind_port = int(re.search(r":(\d+)$", ca["bind"][0]).group(1))
    check("the coordinator binds the port it declares", bind_port in cports.values(), f"{bind_port} vs {cports}")
    check("--metrics-port is the declared metrics port",
          int(ca.get("metrics-port", ["-1"])[0]) == cports.get("metrics"), f"{ca.get('metrics-port')} vs {cports}")
    # The metrics port listens on loopback unless --metrics-bind says otherwise; probes and
    # Prometheus reach the pod's address.
    check("the coordinator's metrics port listens beyond loopback (--metrics-bind=0.0.0.0)",
          ca.get("metrics-bind") == ["0.0.0.0"], f"{ca.get('metrics-bind')}")
    if "metrics-port" in wa:
        wports = {p.get("name"): p["containerPort"] for p in wc.get("ports", [])}
        check("the worker's --metrics-port is its declared metrics port",
              int(wa["metrics-port"][0]) == wports.get("metrics"), f"{wa['metrics-port']} vs {wports}")
        check("the worker's metrics port listens beyond loopback (--metrics-bind=0.0.0.0)",
              wa.get("metrics-bind") == ["0.0.0.0"], f"{wa.get('metrics-bind')}")

    # the worker reaches the coordinator through a Service that selects it
    m = re.match(r"tcp://([^:]+):(\d+)$", wa["connect"][0])
    svc = by_kind.get("Service", {}).get(m.group(1)) if m else None
    check(f"the workers connect to a Service ({wa['connect'][0]})", svc is not None)
    if svc:
        labels = cobj["spec"]["template"]["metadata"]["labels"]
        check("the Service selects the coordinator pods",
              all(labels.get(k) == v for k, v in svc["spec"]["selector"].items()))
        wlabels = wobj["spec"]["template"]["metadata"]["labels"]
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

    cfiles = mounted_files(cspec, cc)
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
    for name, spec, c, need in ((coord, cspec, cc, ["loom.pub", "loom.key", "authorized/"]),
                                (worker, wspec, wc, ["loom.pub", "loom.key", "coordinator.pub"])):
        keys_dir = args_of(c)["keys"][0]
        init = " ".join(" ".join(i.get("args", []) + i.get("command", [])) for i in spec.get("initContainers", []))
        secret_files = {os.path.basename(p.rstrip("/")) for i in spec.get("initContainers", [])
                        for p in mounted_files(spec, i)}
        into = any(m["mountPath"] == keys_dir and not m.get("readOnly")
                   for i in spec.get("initContainers", []) for m in i.get("volumeMounts", []))
        check(f"{name}: an init container writes the key directory {keys_dir}", into)
        for n in need:
            check(f"{name}: the init container installs {n} in {keys_dir}", n in init)
        check(f"{name}: the init container reads the keys from a Secret", {"loom.pub", "loom.key"} <= secret_files,
              f"{sorted(secret_files)}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None)
    failed = results.count(False)
    print(f"k8s: {len(results) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
