#!/bin/bash
# Why an unload is blocked: a real process with a device node of our module open keeps
# it in use (the fake kernel's refcnt) past the grace period; the stop failure, the
# termination log and `drvkit status` name its pid, command, pod and container, within
# 4096 bytes with "and N more"; once it is gone a retry unloads.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/kmod-lib.sh"
. "$(dirname "$0")/init-lib.sh"

UID_=0f1e2d3c_4b5a_6978_8a9b_0c1d2e3f4a5b
POD=0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b
CTR=3b1c9a0e5f7d2c4b6a8e0f1d3c5b7a9e1f2d4c6b8a0e2f4d6c8b0a2e4f6d8c0b

holder() { # holder FILE: a real `sleep` with FILE open as fd 3, $HPID
	sleep 1000 3<"$1" &
	HPID=$!
	atexit "kill -KILL $HPID 2>/dev/null"
}

# The host's real /proc (hostPID): a `sleep` holding a file that stands for a device
# node, named by the component's devices: glob.
case_real_proc() {
	new_host realproc
	ln -s /proc "$HOST/proc"
	mkdir -p "$HOST/dev"
	: >"$HOST/dev/dkfake0"
	GRACE=1 config realproc "" "    devices: [ \"$HOST/dev/dkfake*\" ]"
	start_init
	wait_ready || diag "init did not get ready"
	holder "$HOST/dev/dkfake0"
	echo 1 >"$HOST/sys/module/dktest_params/refcnt" # what the open does in the kernel
	run dk status --state-dir "$STATE" --host-root "$HOST"
	like "$TMP/out" "^  used by pid $HPID sleep \(sleep 1000\): $HOST/dev/dkfake0" \
		"drvkit status finds it through the devices: glob init kept in its state"
	stop_init TERM
	is "$rc" 1 "a process holds the device past the grace period: exit 1"
	like "$TERMLOG" "stop: unload dktest_params: in use \(refcnt 1, holders: none\) after [0-9.]+ s: stop the processes with its device nodes open: pid $HPID sleep \(sleep 1000\): $HOST/dev/dkfake0" \
		"termination log names the pid, command and device node"
	like "$TMP/init.err" "pid $HPID sleep \(sleep 1000\)" "init's log names it too"
	unlike "$TERMLOG" "pid [0-9]+ [^;]*$HOST/dev/dkfake0.*pid [0-9]+ [^;]*$HOST/dev/dkfake0" \
		"only that process (nothing else has the file open)"
	# without the glob the file is nobody's device node
	new_host realproc2
	ln -s /proc "$HOST/proc"
	GRACE=1 config realproc2
	start_init
	wait_ready || diag "init did not get ready"
	echo 1 >"$HOST/sys/module/dktest_params/refcnt"
	stop_init TERM
	is "$rc" 1 "no glob, still in use: exit 1"
	like "$TERMLOG" "in use \(refcnt 1, holders: none\) after [0-9.]+ s: stop the processes using it first: none under $HOST/proc has its device nodes open" \
		"no process found: says so and where it looked"
}

# A fixture procfs of the host: the real sleep's fds behind a cgroup of a Kubernetes
# pod, 80 more processes, and <procfs>/devices naming char major 1 (/dev/null) after
# dktest_params.
fixture_proc() { # fixture_proc PID CGROUP-LINE
	mkdir -p "$HOST/proc/$1"
	ln -s "/proc/$HPID/fd" "$HOST/proc/$1/fd"
	ln -s "/proc/$HPID/comm" "$HOST/proc/$1/comm"
	ln -s "/proc/$HPID/cmdline" "$HOST/proc/$1/cmdline"
	echo "$2" >"$HOST/proc/$1/cgroup"
}

case_pod() {
	local i size
	new_host pod
	mkdir -p "$HOST/proc"
	printf 'Character devices:\n  1 dktest-params\n\nBlock devices:\n  8 sd\n' >"$HOST/proc/devices"
	GRACE=1 config pod
	start_init
	wait_ready || diag "init did not get ready"
	holder /dev/null
	fixture_proc "$HPID" "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod$UID_.slice/cri-containerd-$CTR.scope"
	echo 1 >"$HOST/sys/module/dktest_params/refcnt"
	run dk status --state-dir "$STATE" --host-root "$HOST"
	like "$TMP/out" "^  used by pid $HPID sleep \(sleep 1000\) pod $POD container ${CTR:0:12}: /dev/null" \
		"drvkit status: who holds dktest_params now (pod, container)"
	run dk status --json --state-dir "$STATE" --host-root "$HOST"
	like "$TMP/out" "\"container_id\": \"$CTR\"" "status --json: the whole container ID"
	like "$TMP/out" "\"pod_uid\": \"$POD\"" "status --json: the pod UID"
	stop_init TERM
	is "$rc" 1 "held by a process of a pod: exit 1"
	like "$TERMLOG" "in use \(refcnt 1, holders: none\) after [0-9.]+ s: stop the processes with its device nodes open: pid $HPID sleep \(sleep 1000\) pod $POD container ${CTR:0:12}: /dev/null" \
		"termination log names the pod and the container (<procfs>/devices maps /dev/null to the module)"

	# 80 more holders: the termination log stays within 4096 bytes and says how many
	# are left out
	for i in $(seq 2000 2079); do
		fixture_proc "$i" "12:devices:/kubepods/besteffort/pod$POD/$CTR"
	done
	start_init
	wait_ready || diag "init did not get ready (restart)"
	stop_init TERM
	is "$rc" 1 "81 holders: exit 1"
	size=$(stat -c %s "$TERMLOG" 2>/dev/null)
	ok $([ "${size:-99999}" -le 4096 ] && echo 0 || echo 1) "termination log within 4096 bytes ($size)"
	like "$TERMLOG" "; and [0-9]+ more" "it says how many more hold it"
	like "$TERMLOG" "pid 20[0-7][0-9] sleep" "the first holders are named"

	# the holders gone, a retry unloads
	kill -KILL "$HPID"
	wait "$HPID" 2>/dev/null
	rm -rf "$HOST/proc/"[0-9]*
	echo 0 >"$HOST/sys/module/dktest_params/refcnt"
	start_init
	wait_ready || diag "init did not get ready (after the holders left)"
	stop_init TERM
	is "$rc" 0 "the holders gone: a retry unloads everything (exit 0)"
	ok $([ ! -e "$HOST/sys/module/dktest_params" ] && echo 0 || echo 1) "dktest_params unloaded"
}

run_case case_real_proc
run_case case_pod

done_testing
