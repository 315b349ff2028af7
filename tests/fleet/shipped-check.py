#!/usr/bin/env python3
"""Properties of `drvkit daemonsets` over a matrix, checked independently of drvkit (used by
tests/cli/fleet-shipped.sh; needs python3-yaml).

    shipped-check.py DS_YAML MATRIX_JSON MATRIX_DIR REGISTRY SELECT_DIR LABELS...

DS_YAML: the daemonsets output; MATRIX_JSON: `drvkit matrix --format json` (no --registry);
MATRIX_DIR: the matrix's .yaml files (read here for the drivers' node_selector);
SELECT_DIR: NAME.json and NAME.rc, `drvkit select --json` over each LABELS file (NAME: the
file's base name without .yaml). Checks, every failure listed (exit 1):
  - every DaemonSet name is unique, at most 63 characters and a DNS-1123 label;
  - a real node (each LABELS file) is scheduled, by nodeSelector + required nodeAffinity
    evaluated here as the kube-scheduler does, on exactly one DaemonSet per (driver, version),
    and on none when select finds no fit; the set of (driver, version) it gets equals select's,
    and each DaemonSet's image equals the image select answers for that node;
  - a node synthesised from each matrix job (its OS, version, OSTREE_VERSION, arch; for a
    precompiled job its kernel, sanitised as NFD does; for a build job a kernel no job lists)
    lands on exactly one DaemonSet of that driver, running that job's image, when it also
    carries the driver's node_selector labels, and on none of that driver's without them.
"""
import json
import os
import re
import sys

import yaml

K = "feature.node.kubernetes.io/kernel-version.full"
ID = "feature.node.kubernetes.io/system-os_release.ID"
VID = "feature.node.kubernetes.io/system-os_release.VERSION_ID"
OSTREE = "feature.node.kubernetes.io/system-os_release.OSTREE_VERSION"
ARCH = "kubernetes.io/arch"
DNS1123 = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")

fails = []


def fail(msg):
    fails.append(msg)


def sanitise(v):  # NFD's label value sanitising
    return re.sub(r"[^-A-Za-z0-9_.]", "_", v)


def node_labels(path):
    """The labels of a labels file: a flat mapping, a Node, or a List of one Node."""
    with open(path) as f:
        d = yaml.safe_load(f)
    if d.get("kind") == "List":
        assert len(d["items"]) == 1, path
        d = d["items"][0]
    if d.get("kind") == "Node":
        d = d["metadata"]["labels"]
    for k, v in d.items():
        assert isinstance(v, str), f"{path}: label {k}: {v!r} is no string"
    return d


def expr_matches(e, labels):
    """One NodeSelectorRequirement (k8s.io/component-helpers nodeaffinity semantics)."""
    op, key, vals = e["operator"], e["key"], e.get("values") or []
    has = key in labels
    if op == "In":
        return has and labels[key] in vals
    if op == "NotIn":
        return not has or labels[key] not in vals  # an absent label is "not in"
    if op == "Exists":
        return has
    if op == "DoesNotExist":
        return not has
    if op in ("Gt", "Lt"):
        if not has or len(vals) != 1:
            return False
        try:
            a, b = int(labels[key]), int(vals[0])
        except ValueError:
            return False
        return a > b if op == "Gt" else a < b
    raise AssertionError(f"unknown operator {op}")


def ds_matches(ds, labels):
    p = ds["spec"]["template"]["spec"]
    for k, v in (p.get("nodeSelector") or {}).items():
        if labels.get(k) != v:
            return False
    na = (p.get("affinity") or {}).get("nodeAffinity") or {}
    req = na.get("requiredDuringSchedulingIgnoredDuringExecution")
    if req is None:
        return True
    terms = req["nodeSelectorTerms"]
    for t in terms:  # the terms are ORed; an empty term matches nothing
        assert "matchFields" not in t, "matchFields: not evaluated here"
        ex = t.get("matchExpressions") or []
        if ex and all(expr_matches(e, labels) for e in ex):
            return True
    return False


def node_selectors(mx_dir):
    """driver name -> its node_selector mapping, from the matrix files."""
    out = {}
    for fn in sorted(os.listdir(mx_dir)):
        if not fn.endswith(".yaml"):
            continue
        with open(os.path.join(mx_dir, fn)) as f:
            d = yaml.safe_load(f) or {}
        for drv in d.get("drivers") or []:
            ns = drv.get("node_selector") or {}
            for k, v in ns.items():
                assert isinstance(v, str), f"{fn}: {drv['name']}: {k}: {v!r} is no string"
            out[drv["name"]] = ns
    return out


def ds_key(ds):
    m = ds["metadata"]["labels"]
    return (m["app.kubernetes.io/name"], m["app.kubernetes.io/version"])


def ds_image(ds):
    return ds["spec"]["template"]["spec"]["containers"][0]["image"]


def main():
    ds_path, mx_path, mx_dir, reg, seldir, *label_files = sys.argv[1:]
    selectors = node_selectors(mx_dir)
    with open(ds_path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    dss = [d for d in docs if d["kind"] == "DaemonSet"]
    if not dss:
        fail("no DaemonSet at all")
    with open(mx_path) as f:
        jobs = json.load(f)

    names = {}
    for d in dss:
        n = d["metadata"]["name"]
        if len(n) > 63 or not DNS1123.fullmatch(n):
            fail(f"DaemonSet name {n!r}: not a DNS-1123 label of at most 63 characters")
        if n in names:
            fail(f"DaemonSet name {n} twice: images {names[n]} and {ds_image(d)} "
                 "(kubectl apply keeps only the last)")
        names[n] = ds_image(d)
        sel = d["spec"]["template"]["spec"].get("nodeSelector") or {}
        if ARCH not in sel:
            fail(f"{n}: no {ARCH} in its nodeSelector")
        drv = d["metadata"]["labels"]["app.kubernetes.io/name"]
        for k, v in selectors.get(drv, {}).items():
            if sel.get(k) != v:
                fail(f"{n}: its nodeSelector lacks {drv}'s node_selector {k}={v!r}")

    # the real nodes of tests/fleet/labels
    for path in label_files:
        name = os.path.basename(path)[: -len(".yaml")]
        labels = node_labels(path)
        with open(os.path.join(seldir, name + ".json")) as f:
            sel = json.load(f)
        with open(os.path.join(seldir, name + ".rc")) as f:
            rc = int(f.read())
        matched = [d for d in dss if ds_matches(d, labels)]
        got = {}
        for d in matched:
            got.setdefault(ds_key(d), []).append(d["metadata"]["name"])
        for key, ns in got.items():
            if len(ns) != 1:
                fail(f"{name}: node matches {len(ns)} DaemonSets of {key}: {ns}")
        want = {(i["driver"], i["version"]): i["image"] for i in sel["images"]}
        print(f"# {name}: " + ", ".join(f"{d['metadata']['name']} {ds_image(d)}" for d in matched))
        if rc != 0 or not sel["fit"]:
            if matched:
                fail(f"{name}: select finds no fit (exit {rc}) but the node matches "
                     f"{[d['metadata']['name'] for d in matched]}")
            continue
        if set(got) != set(want):
            fail(f"{name}: DaemonSets for {sorted(got)}, select answers {sorted(want)}")
        for d in matched:
            k = ds_key(d)
            if k in want and ds_image(d) != want[k]:
                fail(f"{name}: DaemonSet {d['metadata']['name']} runs {ds_image(d)}, "
                     f"select answers {want[k]}")

    # a node for every matrix job
    listed = {j["kernel"] for j in jobs if j["kernel"]}
    for j in jobs:
        labels = {ID: j["os"], VID: j["os_version"], ARCH: j["arch"]}
        if j["ostree_version"]:
            labels[OSTREE] = j["ostree_version"]
        if j["kind"] == "precompiled":
            labels[K] = sanitise(j["kernel"])
        else:
            labels[K] = "0.0.0-unlisted-" + j["arch"]
            assert labels[K] not in listed
        want = (reg + "/" if reg else "") + j["image"]
        of_driver = [d for d in dss
                     if d["metadata"]["labels"]["app.kubernetes.io/name"] == j["driver"]]
        what = f"{j['kind']} job {want} ({j['os']} {j['os_version']} {j['arch']} {labels[K]})"
        ns = selectors.get(j["driver"], {})
        if ns and any(ds_matches(d, labels) for d in of_driver):
            fail(f"a node of the {what} without {j['driver']}'s node_selector {ns} matches "
                 f"{[d['metadata']['name'] for d in of_driver if ds_matches(d, labels)]}")
        labels.update(ns)
        m = [d for d in of_driver if ds_matches(d, labels)
             and d["metadata"]["labels"]["app.kubernetes.io/version"] == j["driver_version"]]
        if len(m) != 1:
            fail(f"a node of the {what} matches {len(m)} DaemonSets: "
                 f"{[d['metadata']['name'] for d in m]}")
        elif ds_image(m[0]) != want:
            fail(f"a node of the {what} runs {ds_image(m[0])} ({m[0]['metadata']['name']})")

    for msg in fails:
        print("FAIL: " + msg)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
