#!/bin/bash
# drvkit detect on fixture roots (JSON and text), an empty root, bad options, and /.
. "$(dirname "$0")/../lib.sh"
FX=$DK_FIXTURES/detect
U=$FX/ubuntu2204-gpu
R=$FX/rhcos416-dtk
KR=5.14.0-427.26.1.el9_4.x86_64

# jq ASSERT_EXPR DESC: evaluates a Python expression over the JSON in $TMP/out (as d).
jq() {
	if python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' \
		"$TMP/out" "$1" 2>"$TMP/pyerr"; then
		ok 0 "$2"
	else
		ok 1 "$2"
		diag "assertion failed: $1"
		sed 's/^/#   /' "$TMP/pyerr" | tail -3
	fi
}
detect_root() { # detect_root ROOT [ARGS...]: runs detect with all three roots overridden
	local r=$1
	shift
	run "$DRVKIT" detect --host-root "$r" --sysfs "$r/sys" --procfs "$r/proc" "$@"
}

# --- Ubuntu 22.04 GPU + InfiniBand node -------------------------------------------
case_ubuntu_json() {
	detect_root "$U" --kernel 5.15.0-131-generic --json
	is "$rc" 0 "ubuntu: exit 0"
	jq 'd["kernel"]["release"]["value"] == "5.15.0-131-generic" and d["kernel"]["release"]["source"] == "--kernel"' "ubuntu: kernel release from --kernel"
	jq 'd["kernel"]["built_with"]["version"] == "11.4.0" and d["kernel"]["built_with"]["compiler"] == "gcc"' "ubuntu: kernel built with gcc 11.4.0"
	jq 'd["os"]["id"] == "ubuntu" and d["os"]["version_id"] == "22.04" and d["os"]["version_major"] == 22 and d["os"]["version_minor"] == 4' "ubuntu: os id/version"
	jq 'd["os"]["version_codename"] == "jammy" and d["os"]["family"] == "debian"' "ubuntu: codename and family"
	jq 'd["dtk"]["present"] is False and d["dtk"]["broken"] is None' "ubuntu: no DTK"
	jq 'd["headers"]["selected"] == "/lib/modules/5.15.0-131-generic/build"' "ubuntu: headers selected via build link"
	jq '[c for c in d["headers"]["candidates"] if c["kind"] == "build"][0]["resolved"].endswith("ubuntu2204-gpu/usr/src/linux-headers-5.15.0-131-generic")' "ubuntu: absolute build link resolved inside host root"
	jq 'all(c["uts_release_matches"] is True and c["config"] and c["module_symvers"] for c in d["headers"]["candidates"] if c["exists"])' "ubuntu: existing headers match, have .config and Module.symvers"
	jq '[c for c in d["headers"]["candidates"] if c["kind"] == "source"][0]["exists"] is False' "ubuntu: source link reported missing"
	jq 'd["headers"]["candidates"][0]["config_gcc_version"] == "110400" and "11.4.0" in d["headers"]["candidates"][0]["config_cc_version_text"]' "ubuntu: CONFIG_GCC_VERSION / CONFIG_CC_VERSION_TEXT"
	jq 'd["policy"]["sig_enforce"]["value"] == "yes" and d["policy"]["lockdown"]["value"] == "integrity"' "ubuntu: sig_enforce and lockdown"
	jq 'd["policy"]["secure_boot"]["value"] == "yes"' "ubuntu: Secure Boot on (EFI var)"
	jq 'd["policy"]["module_unload"]["value"] == "yes" and d["policy"]["module_unload"]["source"].endswith("/.config")' "ubuntu: module_unload from headers .config"
	jq 'd["policy"]["modversions"]["value"] == "yes"' "ubuntu: modversions"
	jq '[p["address"] for p in d["devices"]["pci"]] == ["0000:17:00.0", "0000:17:00.1", "0000:1b:00.0", "0000:9b:00.0", "0000:c1:00.0"]' "ubuntu: NVIDIA GPUs, NVSwitch and Mellanox found; audio and Intel skipped"
	jq '[(p["driver"], p["numa_node"]) for p in d["devices"]["pci"] if p["kind"] == "gpu"] == [("nvidia", 0), ("nvidia", 1)]' "ubuntu: GPU driver and numa_node"
	jq '[p for p in d["devices"]["pci"] if p["kind"] == "nvswitch"][0]["driver"] is None and [p for p in d["devices"]["pci"] if p["kind"] == "nvswitch"][0]["numa_node"] == -1' "ubuntu: unbound NVSwitch with numa -1"
	jq '[p for p in d["devices"]["pci"] if p["address"] == "0000:17:00.0"][0] == {"address": "0000:17:00.0", "vendor": "0x15b3", "device": "0x1021", "class": "0x020700", "kind": "mellanox", "driver": "mlx5_core", "numa_node": 0}' "ubuntu: ConnectX fields"
	jq '{m["name"] for m in d["modules"]["loaded"]} == {"nvidia", "nvidia_uvm", "nvidia_drm", "nvidia_modeset", "rdma_ucm", "mlx5_ib", "ib_uverbs", "ib_core", "mlx5_core"}' "ubuntu: loaded modules of interest only"
	jq '[m for m in d["modules"]["loaded"] if m["name"] == "nvidia"][0]["refcnt"] == 14 and [m for m in d["modules"]["loaded"] if m["name"] == "nvidia"][0]["holders"] == ["nvidia_uvm", "nvidia_modeset"]' "ubuntu: nvidia refcnt and holders"
	jq 'sorted([m for m in d["modules"]["loaded"] if m["name"] == "ib_core"][0]["holders"]) == ["ib_uverbs", "mlx5_ib", "rdma_cm", "rdma_ucm"]' "ubuntu: ib_core holders merge /proc/modules and sysfs"
	jq '[m for m in d["modules"]["loaded"] if m["name"] == "nvidia"][0]["version"] == "550.54.14" and [m for m in d["modules"]["loaded"] if m["name"] == "mlx5_core"][0]["version"] is None' "ubuntu: module versions from sysfs"
	jq '[m for m in d["modules"]["loaded"] if m["name"] == "mlx5_core"][0]["srcversion"] == "6F0E1D2C3B4A59687766554"' "ubuntu: srcversion"
	jq 'd["nvidia"]["flavour"] == "open" and d["nvidia"]["version"] == "550.54.14"' "ubuntu: NVIDIA open kernel module 550.54.14"
}
tcase "ubuntu: JSON" case_ubuntu_json

# without --kernel the release comes from <procfs>/sys/kernel/osrelease
case_ubuntu_procfs() {
	detect_root "$U" --json
	jq 'd["kernel"]["release"]["value"] == "5.15.0-131-generic" and d["kernel"]["release"]["source"].endswith("proc/sys/kernel/osrelease")' "ubuntu: release from procfs osrelease"
}
tcase "ubuntu: release from procfs" case_ubuntu_procfs

# text mode
case_ubuntu_text() {
	detect_root "$U"
	is "$rc" 0 "ubuntu text: exit 0"
	like "$TMP/out" '^kernel:$' "text: kernel section"
	like "$TMP/out" '^  release: +5\.15\.0-131-generic ' "text: release line"
	like "$TMP/out" '^  id: +ubuntu$' "text: os id line"
	like "$TMP/out" '^  family: +debian$' "text: family line"
	like "$TMP/out" '^  selected: +/lib/modules/5\.15\.0-131-generic/build$' "text: headers selected"
	like "$TMP/out" '^  sig_enforce: +yes ' "text: sig_enforce line"
	like "$TMP/out" '^  lockdown: +integrity ' "text: lockdown line"
	like "$TMP/out" '^  0000:1b:00\.0: +10de:2330 class 030200 gpu driver=nvidia numa_node=0$' "text: GPU line"
	like "$TMP/out" '^  nvidia: +size=8585216 refcnt=14 holders=nvidia_uvm,nvidia_modeset ' "text: nvidia module line"
	like "$TMP/out" '^  flavour: +open$' "text: flavour line"
}
tcase "ubuntu: text" case_ubuntu_text

# Secure Boot off, and a short EFI variable, in a scratch copy of the sysfs
case_secure_boot() {
	cp -a "$U/sys" "$TMP/sys"
	SB="$TMP/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"
	printf '\006\000\000\000\000' >"$SB"
	run "$DRVKIT" detect --host-root "$U" --sysfs "$TMP/sys" --procfs "$U/proc" --json
	jq 'd["policy"]["secure_boot"]["value"] == "no"' "secure boot off (value byte 0)"
	printf '\006\000' >"$SB"
	run "$DRVKIT" detect --host-root "$U" --sysfs "$TMP/sys" --procfs "$U/proc" --json
	jq 'd["policy"]["secure_boot"]["value"] is None and "unexpected content" in d["policy"]["secure_boot"]["reason"]' "short SecureBoot variable -> unknown with reason"
	rm -rf "$TMP/sys/firmware/efi"
	echo "[none] integrity confidentiality" >"$TMP/sys/kernel/security/lockdown"
	echo N >"$TMP/sys/module/module/parameters/sig_enforce"
	run "$DRVKIT" detect --host-root "$U" --sysfs "$TMP/sys" --procfs "$U/proc" --json
	jq 'd["policy"]["secure_boot"]["value"] == "no" and "not EFI" in d["policy"]["secure_boot"]["reason"]' "no efi dir -> not EFI"
	jq 'd["policy"]["lockdown"]["value"] == "none" and d["policy"]["sig_enforce"]["value"] == "no"' "lockdown none, sig_enforce N"
}
tcase "Secure Boot, lockdown, sig_enforce in a sysfs copy" case_secure_boot

# --- RHCOS 4.16 with a Driver Toolkit ------------------------------------------------
case_rhcos() {
	detect_root "$R" --kernel $KR --json
	is "$rc" 0 "rhcos: exit 0"
	jq 'd["os"]["id"] == "rhcos" and d["os"]["version_id"] == "4.16" and d["os"]["family"] == "rhel"' "rhcos: os id/version/family"
	jq 'd["os"]["ostree_version"] == "416.94.202407030122-0" and d["os"]["rhel_version"] == "9.4" and d["os"]["variant_id"] == "coreos"' "rhcos: OSTREE_VERSION, RHEL_VERSION, VARIANT_ID"
	jq 'd["dtk"]["present"] is True and d["dtk"]["kernel_version"] == "'$KR'" and d["dtk"]["rhel_version"] == "9.4"' "rhcos: DTK release read"
	jq 'd["dtk"]["broken"] is False' "rhcos: DTK matching kernel is not broken"
	jq 'd["headers"]["selected"] == "/usr/src/kernels/'$KR'"' "rhcos: headers under /usr/src/kernels"
	jq 'd["policy"]["modversions"]["value"] == "no" and d["policy"]["module_unload"]["value"] == "yes"' "rhcos: MODVERSIONS not set, MODULE_UNLOAD=y"
	jq 'd["policy"]["lockdown"]["value"] is None and "No such file or directory" in d["policy"]["lockdown"]["reason"]' "rhcos: lockdown unknown with reason"
	jq 'd["nvidia"]["flavour"] == "proprietary" and d["nvidia"]["version"] == "535.183.01"' "rhcos: proprietary 535.183.01"
	jq 'd["devices"]["pci"][0]["numa_node"] == -1 and d["devices"]["pci"][0]["driver"] == "nvidia"' "rhcos: GPU without NUMA affinity"
	jq 'd["kernel"]["built_with"]["version"] == "11.4.1"' "rhcos: built with gcc 11.4.1"
}
tcase "rhcos: JSON" case_rhcos

# the RT kernel of the same DTK is fine too
case_rhcos_rt() {
	detect_root "$R" --kernel "$KR+rt" --json
	jq 'd["dtk"]["broken"] is False' "rhcos: RT kernel matches RT_KERNEL_VERSION"
}
tcase "rhcos: RT kernel" case_rhcos_rt

# mismatching DTK
case_rhcos_broken() {
	run "$DRVKIT" detect --host-root "$FX/rhcos416-dtk-broken" --sysfs "$R/sys" --procfs "$R/proc" --kernel $KR --json
	is "$rc" 0 "rhcos broken DTK: exit 0"
	jq 'd["dtk"]["broken"] is True and "5.14.0-427.22.1" in d["dtk"]["broken_reason"]' "rhcos: mismatching DTK flagged broken"
	run "$DRVKIT" detect --host-root "$FX/rhcos416-dtk-broken" --sysfs "$R/sys" --procfs "$R/proc" --kernel $KR
	like "$TMP/out" '^  broken: +yes \(KERNEL_VERSION' "text: DTK broken line"
}
tcase "rhcos: mismatching DTK" case_rhcos_broken

# malformed DTK file
case_dtk_malformed() {
	run "$DRVKIT" detect --host-root "$FX/dtk-malformed" --kernel $KR --json
	is "$rc" 0 "malformed DTK: exit 0"
	jq 'd["dtk"]["present"] is True and d["dtk"]["broken"] is None and "malformed JSON" in d["dtk"]["reason"]' "malformed DTK reported as such"
}
tcase "malformed DTK" case_dtk_malformed

# --- SLES 15 SP5: SUSE obj header layout ---------------------------------------------
case_sles() {
	if [ "$(uname -m)" = x86_64 ]; then
		S=$FX/sles15sp5-headers
		detect_root "$S" --kernel 5.14.21-150500.55.65-default --json
		jq 'd["os"]["family"] == "suse" and d["os"]["version_major"] == 15 and d["os"]["version_minor"] == 5' "sles: family suse 15.5"
		jq '[c for c in d["headers"]["candidates"] if c["kind"] == "suse"][0]["path"] == "/usr/src/linux-5.14.21-150500.55.65-obj/x86_64/default"' "sles: SUSE header candidate path"
		jq 'all(c["exists"] and c["uts_release_matches"] for c in d["headers"]["candidates"] if c["kind"] in ("build", "suse"))' "sles: build link and obj dir both match"
		jq 'd["kernel"]["built_with"]["version"] == "7.5.0"' "sles: built with gcc 7.5.0"
	else
		skip "SUSE header path test assumes x86_64"
		skip "SUSE header path test assumes x86_64"
		skip "SUSE header path test assumes x86_64"
		skip "SUSE header path test assumes x86_64"
	fi
}
tcase "sles: SUSE headers" case_sles

# --- every distro fixture ----------------------------------------------------------
case_os() { # case_os DIR:ID:VERSION:FAMILY
	local dir id ver fam
	IFS=: read -r dir id ver fam <<<"$1"
	run "$DRVKIT" detect --host-root "$FX/os-$dir" --kernel 6.1.0-test --json
	jq 'd["os"]["id"] == "'$id'" and d["os"]["version_id"] == "'$ver'" and d["os"]["family"] == "'$fam'"' "os-$dir: $id $ver ($fam)"
}
for spec in ubuntu-20.04:ubuntu:20.04:debian ubuntu-24.04:ubuntu:24.04:debian \
	debian-12:debian:12:debian rhel-8.10:rhel:8.10:rhel rhel-9.4:rhel:9.4:rhel \
	rocky-9:rocky:9.4:rhel sles-15.5:sles:15.5:suse amzn-2023:amzn:2023:amzn \
	flatcar:flatcar:3815.2.5:flatcar; do
	tcase "os-${spec%%:*}" case_os "$spec"
done

# --- nothing there: unknown with reasons, exit 0 -------------------------------------
case_empty_root() {
	mkdir -p "$TMP/empty"
	run "$DRVKIT" detect --host-root "$TMP/empty" --json
	is "$rc" 0 "empty root: exit 0"
	jq 'd["os"]["id"] is None and d["os"]["reason"] == "'"$TMP"'/empty/etc/os-release: No such file or directory; '"$TMP"'/empty/usr/lib/os-release: No such file or directory"' "empty root: os unknown with reason"
	jq 'd["kernel"]["built_with"]["version"] is None and "No such file" in d["kernel"]["built_with"]["reason"]' "empty root: compiler unknown with reason"
	jq 'all(d["policy"][k]["value"] is None and d["policy"][k]["reason"] for k in ("sig_enforce", "lockdown", "modversions", "module_unload"))' "empty root: policy unknown with reasons"
	jq 'd["devices"]["pci"] == [] and d["devices"]["reason"].endswith("bus/pci/devices: No such file or directory")' "empty root: devices unknown with reason"
	jq 'd["modules"]["reason"] and d["nvidia"]["flavour"] is None and d["nvidia"]["reason"]' "empty root: modules and nvidia unknown"
	jq 'd["headers"]["selected"] is None' "empty root: no headers"
	run "$DRVKIT" detect --host-root "$TMP/empty"
	is "$rc" 0 "empty root text: exit 0"
	like "$TMP/out" "^  id: +unknown \\($TMP/empty/etc/os-release: No such file or directory" "text: unknown (reason)"
	like "$TMP/out" '^  sig_enforce: +unknown \(' "text: sig_enforce unknown"
}
tcase "empty root" case_empty_root

# <procfs>/config.gz is the last resort for the kernel config
case_config_gz() {
	mkdir -p "$TMP/gzroot/proc"
	printf 'CONFIG_MODULES=y\nCONFIG_MODULE_UNLOAD=y\n# CONFIG_MODVERSIONS is not set\n' | gzip -c >"$TMP/gzroot/proc/config.gz"
	run "$DRVKIT" detect --host-root "$TMP/gzroot" --kernel 6.1.0-test --json
	jq 'd["policy"]["module_unload"]["value"] == "yes" and d["policy"]["module_unload"]["source"].endswith("proc/config.gz")' "config.gz: MODULE_UNLOAD=y"
	jq 'd["policy"]["modversions"]["value"] == "no"' "config.gz: MODVERSIONS not set"
}
tcase "config.gz" case_config_gz

# unreadable source: as root, drop to nobody (root reads anything)
case_unreadable() {
	as_user=()
	if [ "$(id -u)" = 0 ]; then
		as_user=(setpriv --reuid=65534 --regid=65534 --clear-groups)
		chmod 711 "$DK_TMP_ROOT" "$TMP"
	fi
	mkdir -p "$TMP/unread/etc" && echo ID=x >"$TMP/unread/etc/os-release" && chmod 000 "$TMP/unread/etc/os-release"
	if "${as_user[@]}" "$DRVKIT" --version >/dev/null 2>&1; then
		run "${as_user[@]}" "$DRVKIT" detect --host-root "$TMP/unread" --json
		jq '"Permission denied" in d["os"]["reason"]' "unreadable os-release: reason"
	else
		skip "unreadable file test: user nobody cannot run $DRVKIT (checkout not world-readable)"
	fi
}
tcase "unreadable os-release" case_unreadable

# gcc on PATH: a fake gcc-11 matching the kernel's compiler, found via posix_spawn
case_gcc_path() {
	mkdir -p "$TMP/bin"
	printf '#!/bin/sh\n[ "$1" = -dumpfullversion ] && echo 11.4.0\n' >"$TMP/bin/gcc-11"
	printf '#!/bin/sh\nexit 1\n' >"$TMP/bin/gcc"
	chmod +x "$TMP/bin/gcc-11" "$TMP/bin/gcc"
	PATH="$TMP/bin" detect_root "$U" --json
	jq '[(g["path"].rsplit("/", 1)[1], g["version"]) for g in d["kernel"]["gcc_available"]] == [("gcc", None), ("gcc-11", "11.4.0")]' "gcc and gcc-N found on PATH with versions"
	jq 'd["kernel"]["gcc_matching"].endswith("/gcc-11")' "gcc matching the kernel's compiler"
	PATH="$TMP/nonexistent" detect_root "$U" --json
	jq 'd["kernel"]["gcc_available"] == [] and d["kernel"]["gcc_matching"] is None' "no gcc on PATH"
}
tcase "gcc on PATH" case_gcc_path

# --- command line ---------------------------------------------------------------------
case_cmdline() {
	run "$DRVKIT" detect --bogus
	is "$rc" 2 "unknown option: exit 2"
	like "$TMP/err" "drvkit detect: " "unknown option: message"
	run "$DRVKIT" detect extra
	is "$rc" 2 "extra argument: exit 2"
	run "$DRVKIT" detect --kernel
	is "$rc" 2 "missing option value: exit 2"
	run "$DRVKIT" detect --help
	is "$rc" 0 "--help: exit 0"
	like "$TMP/out" "--host-root DIR" "--help documents --host-root"
	like "$TMP/out" "JSON keys" "--help documents the JSON keys"
}
tcase "command line" case_cmdline

# --- this machine's real / -------------------------------------------------------------
case_real_root() {
	run "$DRVKIT" detect --json
	is "$rc" 0 "real /: exit 0"
	jq 'isinstance(d, dict)' "real /: JSON parses"
	jq 'd["os"]["id"] == "debian"' "real /: os.id is debian"
	jq 'd["kernel"]["release"]["value"] == "'"$(uname -r)"'"' "real /: kernel.release is uname -r"
	run "$DRVKIT" detect
	is "$rc" 0 "real / text: exit 0"
}
tcase "real /" case_real_root

done_testing
