#!/bin/bash
# drvkit daemonsets over the fixture matrix: the YAML against a golden file
# (tests/fleet/golden/daemonsets.yaml; DK_UPDATE_GOLDEN=1 rewrites it), and its
# properties checked with python3-yaml, independently of drvkit's writer; the images and
# configs are those of `drvkit matrix` (one owner: the jobs), and the objects (and
# matrix's k8s-jobs) pass the Kubernetes API schemas (tests/k8s/validate.sh).
. "$(dirname "$0")/../lib.sh"

GOLD=$DK_SRCDIR/tests/fleet/golden/daemonsets.yaml
MX=tests/fleet/fixtures/select-matrix

case_golden() {
	cd "$DK_SRCDIR"
	run "$DRVKIT" daemonsets --matrix $MX --registry reg.example -o "$TMP/ds.yaml"
	is "$rc" 0 "daemonsets exits 0"
	if [ "${DK_UPDATE_GOLDEN:-0}" = 1 ]; then cp "$TMP/ds.yaml" "$GOLD"; fi
	if diff -u "$GOLD" "$TMP/ds.yaml" >"$TMP/diff"; then ok 0 "output equals the golden file"; else
		okf 1 "output equals the golden file" "$TMP/diff"
	fi
	run "$DRVKIT" daemonsets --matrix $MX --registry reg.example
	t "stdout holds the same YAML as -o" cmp -s "$TMP/out" "$TMP/ds.yaml"
	python3 - "$TMP/ds.yaml" >"$TMP/py.out" 2>&1 <<'PY'
import re, sys, yaml
docs = list(yaml.safe_load_all(open(sys.argv[1])))
ds = [d for d in docs if d["kind"] == "DaemonSet"]
cms = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ConfigMap"}
assert {d["kind"] for d in docs} == {"DaemonSet", "ConfigMap"}, "only DaemonSets and ConfigMaps"
assert len(ds) == 17, len(ds)
K = "feature.node.kubernetes.io/kernel-version.full"
names = set()
for d in ds:
    n = d["metadata"]["name"]
    assert len(n) <= 63 and re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", n), n
    assert n not in names, "duplicate " + n
    names.add(n)
    assert d["metadata"]["namespace"] == "drvkit-system"
    for v in d["metadata"]["labels"].values():
        assert len(v) <= 63 and re.fullmatch(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]", v), v
    s = d["spec"]
    assert s["updateStrategy"]["type"] == "OnDelete"
    assert s["selector"]["matchLabels"].items() <= s["template"]["metadata"]["labels"].items()
    p = s["template"]["spec"]
    assert p["hostPID"] is True and p["priorityClassName"] == "system-node-critical"
    c = p["containers"][0]
    assert c["securityContext"]["privileged"] is True
    # command replaces the images' ENTRYPOINT ["drvkit", "init"]
    assert c["command"] == ["drvkit"], c.get("command")
    assert c["args"] == ["init", "--config", "/etc/drvkit/config.yaml"]
    ready = c["startupProbe"]["exec"]["command"][2]
    assert c["startupProbe"]["exec"]["command"] == ["test", "-f", ready]
    assert c["lifecycle"]["preStop"]["exec"]["command"] == ["rm", "-f", ready]
    assert c["terminationMessagePath"] == "/dev/termination-log"
    vols = {v["name"]: v for v in p["volumes"]}
    cm = cms[vols["config"]["configMap"]["name"]]
    cfg = yaml.safe_load(cm["data"]["config.yaml"])
    assert p["terminationGracePeriodSeconds"] == cfg.get("grace_period", 25) + 30
    assert ready == cfg.get("ready_file", cfg.get("state_dir", "/run/drvkit") + "/ready")
    assert vols["host-modules"]["hostPath"]["path"] == "/lib/modules"
    assert vols["cache"]["hostPath"]["path"] == "/var/cache/drvkit"
    if "signing" in cfg:
        assert vols["signing"]["secret"] == {"secretName": "drvkit-signing", "defaultMode": 0o400}
        mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
        assert mounts[cfg["signing"]["key"]]["subPath"] == "tls.key"
        assert mounts[cfg["signing"]["key"]]["readOnly"] is True
    else:
        assert "signing" not in vols
    sel = p["nodeSelector"]
    # the driver's node_selector (select-matrix/drivers.yaml): ofed's two labels, after the
    # OS/arch/kernel ones, sorted by key; nvidia has none
    drv = d["metadata"]["labels"]["app.kubernetes.io/name"]
    own = [k for k in sel if k.startswith(("feature.node.kubernetes.io/pci-", "network."))]
    if drv == "ofed":
        assert own == ["feature.node.kubernetes.io/pci-15b3.present", "network.drvkit.example/rdma"], (n, own)
        assert list(sel)[-2:] == own and sel[own[0]] == "true" and sel[own[1]] == "", (n, sel)
    else:
        assert own == [], (n, own)
    pre = d["metadata"]["labels"]["app.kubernetes.io/component"] == "precompiled"
    assert (K in sel) == pre, n
    if sel["feature.node.kubernetes.io/system-os_release.ID"] == "rhcos":
        assert "feature.node.kubernetes.io/system-os_release.OSTREE_VERSION" in sel
    if not pre:
        # the build DaemonSet leaves out exactly the kernels its precompiled siblings serve
        sib = [o["spec"]["template"]["spec"]["nodeSelector"] for o in ds
               if K in o["spec"]["template"]["spec"]["nodeSelector"]
               and o["metadata"]["labels"]["app.kubernetes.io/name"] == d["metadata"]["labels"]["app.kubernetes.io/name"]
               and o["metadata"]["labels"]["app.kubernetes.io/version"] == d["metadata"]["labels"]["app.kubernetes.io/version"]
               and all(o["spec"]["template"]["spec"]["nodeSelector"][k] == v for k, v in sel.items())]
        expr = p["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]["matchExpressions"][0]
        assert expr["key"] == K and expr["operator"] == "NotIn"
        assert sorted(expr["values"]) == sorted(x[K] for x in sib), (n, expr, sib)
        assert all(re.fullmatch(r"[-A-Za-z0-9_.]+", v) for v in expr["values"])
    else:
        assert "affinity" not in p
assert "6.12.117_deb12-amd64" in [d["spec"]["template"]["spec"]["nodeSelector"].get(K) for d in ds], "sanitised kernel"
print("ok")
PY
	okf $? "the objects have the required properties (python3-yaml)" "$TMP/py.out"
}
tcase "golden and properties" case_golden

case_jobs() { # every image job of `drvkit matrix` runs in one DaemonSet with its config
	cd "$DK_SRCDIR"
	run "$DRVKIT" daemonsets --matrix $MX --registry reg.example/x/ -o "$TMP/ds.yaml"
	is "$rc" 0 "daemonsets exits 0 (registry with a trailing /)"
	run "$DRVKIT" matrix $MX --format tags --registry reg.example/x/
	is "$rc" 0 "matrix --format tags exits 0"
	rc=0
	python3 - "$TMP/ds.yaml" "$TMP/out" >"$TMP/py.out" 2>&1 <<'PY' || rc=$?
import sys, yaml
docs = list(yaml.safe_load_all(open(sys.argv[1])))
cms = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ConfigMap"}
ds = [d for d in docs if d["kind"] == "DaemonSet"]
jobs = {}  # (ref, arch): the arches of a version share a ref
for line in open(sys.argv[2]):
    f = line.rstrip("\n").split("\t")
    jobs[(f[0], f[2])] = (f[1], dict(a.split("=", 1) for a in f[4:]))
def key(d):
    p = d["spec"]["template"]["spec"]
    return (p["containers"][0]["image"], p["nodeSelector"]["kubernetes.io/arch"])
assert len(ds) == len(jobs) == 17, (len(ds), len(jobs))
assert sorted(map(key, ds)) == sorted(jobs), (sorted(map(key, ds)), sorted(jobs))
for d in ds:
    p = d["spec"]["template"]["spec"]
    kind, args = jobs[key(d)]
    assert d["metadata"]["labels"]["app.kubernetes.io/component"] == kind
    cm = cms[[v for v in p["volumes"] if v["name"] == "config"][0]["configMap"]["name"]]
    assert cm["metadata"]["annotations"]["drvkit/source"] == args["DRVKIT_CONFIG"], (cm, args)
    assert cm["data"]["config.yaml"] == open(args["DRVKIT_CONFIG"]).read()
assert sorted(cms) == ["nvidia-drvkit-config", "ofed-drvkit-config"], sorted(cms)
print("ok")
PY
	okf "$rc" "one DaemonSet per job: its image ref, kind and DRVKIT_CONFIG (python3-yaml)" "$TMP/py.out"
}
tcase "the images and configs are the matrix jobs'" case_jobs

case_schema() { # the API server's schemas (kubernetes-models): a failure fails the test
	cd "$DK_SRCDIR"
	run "$DRVKIT" daemonsets --matrix $MX --registry reg.example -o "$TMP/ds.yaml"
	is "$rc" 0 "daemonsets exits 0"
	rc=0
	tests/k8s/validate.sh "$TMP/ds.yaml" >"$TMP/v.out" 2>&1 || rc=$?
	okf "$rc" "the DaemonSets and ConfigMaps pass the Kubernetes schemas" "$TMP/v.out"
	is "$(grep -c '^ok DaemonSet/' "$TMP/v.out")" 17 "all 17 DaemonSets were checked"
	is "$(grep -c '^ok ConfigMap/' "$TMP/v.out")" 2 "both ConfigMaps were checked"
	run "$DRVKIT" matrix $MX --format k8s-jobs --registry r.example --context git://x
	is "$rc" 0 "matrix --format k8s-jobs exits 0"
	cp "$TMP/out" "$TMP/jobs.yaml"
	rc=0
	tests/k8s/validate.sh "$TMP/jobs.yaml" >"$TMP/v.out" 2>&1 || rc=$?
	okf "$rc" "matrix's k8s-jobs pass the Kubernetes schemas" "$TMP/v.out"
	is "$(grep -c '^ok Job/' "$TMP/v.out")" 22 "all 22 Jobs were checked (17 images, 5 manifest lists)"
}
tcase "Kubernetes API schemas (tests/k8s/validate.sh)" case_schema

case_options() {
	cd "$DK_SRCDIR"
	run "$DRVKIT" daemonsets --matrix $MX --registry r --namespace gpu --config $MX/configs/nvidia.yaml \
		--signing-secret x
	is "$rc" 1 "--signing-secret with no signing config fails"
	like "$TMP/err" 'no driver.s config has signing' "and says why"
	run "$DRVKIT" daemonsets --matrix $MX --registry r --namespace gpu --config $MX/configs/ofed.yaml \
		--signing-secret my-key
	is "$rc" 0 "--config for every driver, --namespace, --signing-secret"
	like "$TMP/out" '^  namespace: "gpu"$' "the namespace is used"
	like "$TMP/out" '^          secretName: "my-key"$' "the secret name is used"
	unlike "$TMP/out" 'validations' "every driver gets --config's ready file"
	run "$DRVKIT" daemonsets --matrix $MX
	is "$rc" 2 "--registry is needed"
	run "$DRVKIT" daemonsets --matrix $MX --registry r --namespace Bad_NS
	is "$rc" 2 "a namespace that is no DNS label is a usage error"
	run "$DRVKIT" daemonsets --matrix $MX --registry r --config "$TMP/none.yaml"
	is "$rc" 4 "a missing --config exits 4"
}
tcase "options" case_options

done_testing
