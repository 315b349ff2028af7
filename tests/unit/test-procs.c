/* SPDX-License-Identifier: Apache-2.0 */
/* Who has a module's device nodes open (host/procs.c): the Kubernetes pod and
 * container of cgroup v1 and v2 paths, a fixture procfs (fd symlinks to device paths
 * and to real device nodes mapped through <procfs>/devices and a fixture sysfs), the
 * message with its "and N more", and a real child process found in /proc. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "base/fsutil.h"
#include "host/procs.h"

#include "fixture.h"
#include "tap.h"

#define UID "0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
#define UID_ "0f1e2d3c_4b5a_6978_8a9b_0c1d2e3f4a5b"
#define CID "3b1c9a0e5f7d2c4b6a8e0f1d3c5b7a9e1f2d4c6b8a0e2f4d6c8b0a2e4f6d8c0b"

static void kube_case(const char *text, int want, const char *pod, const char *ctr,
		      const char *what)
{
	_cleanup_free_ char *p = NULL, *c = NULL;
	int r = dk_cgroup_kube(text, &p, &c);

	is_int(r, want, "cgroup %s: %s", what, want ? "a pod" : "no pod");
	is_str(p ? p : "(none)", pod ? pod : "(none)", "cgroup %s: pod UID", what);
	is_str(c ? c : "(none)", ctr ? ctr : "(none)", "cgroup %s: container ID", what);
}

static void test_cgroup(void)
{
	kube_case(
		"0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
		".slice/cri-containerd-" CID ".scope\n",
		1, UID, CID, "v2, systemd driver, containerd");
	kube_case("12:devices:/kubepods/burstable/pod" UID "/" CID "\n"
		  "11:memory:/kubepods/burstable/pod" UID "/" CID "\n1:name=systemd:/\n",
		  1, UID, CID, "v1, cgroupfs driver");
	kube_case("0::/kubepods.slice/kubepods-pod" UID_ ".slice/crio-" CID ".scope\n", 1,
		  UID, CID, "v2, guaranteed pod, CRI-O");
	kube_case("3:cpu,cpuacct:/kubepods.slice/kubepods-besteffort.slice/"
		  "kubepods-besteffort-pod" UID_ ".slice/docker-" CID ".scope\n",
		  1, UID, CID, "v1, systemd driver, docker");
	kube_case("0::/../../kubepods-besteffort-pod" UID_ ".slice/cri-containerd-" CID
		  ".scope\n",
		  1, UID, CID, "v2 seen from another cgroup namespace");
	kube_case("0::/kubepods/pod" UID "\n", 1, UID, NULL, "the pod's own cgroup");
	kube_case("5:pids:/kubepods/besteffort/pod" UID
		  "\n4:devices:/kubepods/besteffort/pod" UID "/" CID "\n",
		  1, UID, CID, "v1, the line naming the container wins");
	kube_case("0::/system.slice/containerd.service\n", 0, NULL, NULL,
		  "a host service");
	kube_case("0::/user.slice/user-1000.slice/session-2.scope\n", 0, NULL, NULL,
		  "a login session");
	kube_case("0::/podcast/" CID "\n", 0, NULL, NULL,
		  "a 'pod' prefix that is no UID");
	kube_case("0::/kubepods/pod" UID "/not-hex-at-all\n", 1, UID, NULL,
		  "a pod with no container ID");
	kube_case("garbage without colons\n\n", 0, NULL, NULL, "garbage");
}

static void test_defaults(void)
{
	is_str(dk_proc_default_globs("nvidia_uvm")[0], "/dev/nvidia*",
	       "defaults: nvidia_uvm: /dev/nvidia*");
	is_str(dk_proc_default_globs("mlx5_core")[0], "/dev/infiniband/*",
	       "defaults: mlx5_core: /dev/infiniband/*");
	is_str(dk_proc_default_globs("ib_uverbs")[0], "/dev/infiniband/*",
	       "defaults: ib_uverbs: /dev/infiniband/*");
	ok(dk_proc_default_globs("dktest_export")[0] == NULL,
	   "defaults: none for others");
}

/* A process of the fixture procfs: fds (symlink targets), comm, cmdline (NULs as
 * '|'), cgroup. */
static int fx_proc(const char *procfs, int pid, const char *const *fds, const char *comm,
		   const char *cmdline, const char *cgroup)
{
	char rel[64];
	int bad = 0;

	for (int i = 0; fds[i]; i++) {
		snprintf(rel, sizeof(rel), "%d/fd/%d", pid, i + 3);
		bad |= fx_put_link(procfs, rel, fds[i]);
	}
	snprintf(rel, sizeof(rel), "%d/comm", pid);
	bad |= fx_put(procfs, rel, comm, 0644);
	if (cmdline) {
		_cleanup_free_ char *c = strdup(cmdline);
		_cleanup_free_ char *p = NULL;

		snprintf(rel, sizeof(rel), "%d/cmdline", pid);
		p = dk_path_join(procfs, rel);
		for (char *s = c; s && *s; s++)
			if (*s == '|')
				*s = '\0';
		bad |= !c || !p || dk_write_file_atomic(p, c, strlen(cmdline), 0644) < 0;
	}
	snprintf(rel, sizeof(rel), "%d/cgroup", pid);
	bad |= fx_put(procfs, rel, cgroup, 0644);
	return bad ? -1 : 0;
}

static const struct dk_proc_user *user_of(const struct dk_proc_target *t, int pid)
{
	for (size_t i = 0; i < t->n_users; i++)
		if (t->users[i].pid == pid)
			return &t->users[i];
	return NULL;
}

static char *pids_of(const struct dk_proc_target *t)
{
	struct strbuf b;

	strbuf_init(&b);
	for (size_t i = 0; i < t->n_users; i++)
		strbuf_printf(&b, "%s%d", i ? " " : "", t->users[i].pid);
	return b.len ? strbuf_steal(&b) : (strbuf_release(&b), strdup("none"));
}

static void test_fixture(const char *tmp)
{
	_cleanup_free_ char *procfs = dk_path_join(tmp, "proc");
	_cleanup_free_ char *sysfs = dk_path_join(tmp, "sys");
	_cleanup_free_ char *node = dk_path_join(tmp, "dev/dktest_hold");
	_cleanup_free_ char *glob = dk_path_join(tmp, "dev/dktest*");
	const char *const gv[] = {glob};
	struct dk_proc_target t[] = {
		{"nvidia", NULL, 0, NULL, 0},	    {"mlx5_ib", NULL, 0, NULL, 0},
		{"dkfake", NULL, 0, NULL, 0},	    {"dkdrv", NULL, 0, NULL, 0},
		{"dkmisc", NULL, 0, NULL, 0},	    {"dktest", gv, 1, NULL, 0},
		{"dkfake_other", NULL, 0, NULL, 0}, {"nobody", NULL, 0, NULL, 0},
	};
	const char *nv[] = {"/dev/nvidia0", "socket:[4711]", "/dev/nvidiactl",
			    "/dev/nvidia0", "pipe:[12]",     NULL};
	const char *ib[] = {"/dev/infiniband/uverbs0", NULL};
	const char *null[] = {"/dev/null", NULL};
	const char *zero[] = {"/dev/zero", NULL};
	const char *full[] = {"/dev/full", NULL};
	const char *hold[] = {node, NULL};
	const char *nothing[] = {"/var/log/syslog", NULL};
	const struct dk_proc_user *u;
	_cleanup_free_ char *longcmd = calloc(1, 400);
	_cleanup_free_ char *pids = NULL;
	size_t unreadable = 99;
	int bad = 0;

	memset(longcmd, 'x', 399);
	bad |= fx_proc(procfs, 100, nv, "nvidia-smi\n", "nvidia-smi|-q|-l|1|",
		       "0::/kubepods.slice/kubepods-burstable.slice/"
		       "kubepods-burstable-pod" UID_ ".slice/cri-containerd-" CID
		       ".scope\n");
	bad |= fx_proc(procfs, 200, ib, "ib_write_bw\n", "ib_write_bw|-d|mlx5_0|",
		       "12:devices:/kubepods/besteffort/pod" UID "/" CID "\n");
	bad |= fx_proc(procfs, 300, null, "holder\n", NULL, "0::/system.slice\n");
	bad |= fx_proc(procfs, 400, zero, "zero\n", "zero|", "0::/\n");
	bad |= fx_proc(procfs, 500, full, "evil\x1b[31m\n", longcmd, "0::/\n");
	bad |= fx_proc(procfs, 600, hold, "sleep\n", "sleep|1000|", "0::/\n");
	bad |= fx_proc(procfs, 700, nothing, "rsyslogd\n", "rsyslogd|", "0::/\n");
	bad |= fx_put(procfs, "800/comm", "kthreadd\n", 0644); /* no fd/ */
	bad |= fx_put(procfs, "self/comm", "x\n", 0644);
	bad |= fx_put(procfs, "devices",
		      "Character devices:\n  1 dkfake-frontend\n 10 misc\n195 nvidia\n\n"
		      "Block devices:\n  1 ramdisk\n  8 sd\n",
		      0644);
	bad |= fx_put(tmp, "dev/dktest_hold", "", 0644);
	bad |= fx_put(sysfs, "module/dkdrv/refcnt", "1\n", 0644);
	bad |= fx_put_link(sysfs, "dev/char/1:5", "../../devices/virtual/mem/zero");
	bad |= fx_put_link(sysfs, "devices/virtual/mem/zero/device/driver/module",
			   "../../../../../../module/dkdrv");
	bad |= fx_put_link(sysfs, "dev/char/1:7", "../../devices/virtual/misc/dkmisc");
	ok(!bad, "fixture procfs and sysfs written");

	is_int(dk_procs_scan(procfs, sysfs, t, ARRAY_SIZE(t), &unreadable), 0, "scan: 0");
	is_int(unreadable, 0, "scan: nothing unreadable (a process without fd/ is none)");
	pids = pids_of(&t[0]);
	is_str(pids, "100", "nvidia: /dev/nvidia* by default: pid 100 only");
	u = user_of(&t[0], 100);
	if (u) {
		is_str(u->comm, "nvidia-smi", "nvidia: comm");
		is_str(u->cmdline, "nvidia-smi -q -l 1",
		       "nvidia: cmdline, NULs as spaces");
		is_str(u->pod_uid ? u->pod_uid : "(none)", UID, "nvidia: pod UID");
		is_str(u->container_id ? u->container_id : "(none)", CID,
		       "nvidia: container ID");
		is_int(u->n_paths, 2,
		       "nvidia: two device nodes (one twice, sockets not)");
		ok(u->n_paths == 2 && streq(u->paths[0], "/dev/nvidia0") &&
			   streq(u->paths[1], "/dev/nvidiactl"),
		   "nvidia: /dev/nvidia0, /dev/nvidiactl");
	} else {
		ok(0, "nvidia: pid 100 found");
	}
	free(pids);
	pids = pids_of(&t[1]);
	is_str(pids, "200", "mlx5_ib: /dev/infiniband/* by default");
	u = user_of(&t[1], 200);
	ok(u && u->pod_uid && streq(u->pod_uid, UID) && u->container_id,
	   "mlx5_ib: pod and container from a cgroup v1 line");
	free(pids);
	pids = pids_of(&t[2]);
	is_str(pids, "300 400 500",
	       "dkfake: the char major 1 is dkfake-frontend in <procfs>/devices "
	       "(/dev/null, /dev/zero, /dev/full)");
	u = user_of(&t[2], 300);
	ok(u && streq(u->cmdline, "") && !u->pod_uid && !u->container_id,
	   "dkfake: no cmdline file: empty; not in a pod");
	free(pids);
	pids = pids_of(&t[3]);
	is_str(pids, "400", "dkdrv: sysfs dev/char/1:5/device/driver/module");
	free(pids);
	pids = pids_of(&t[4]);
	is_str(pids, "500", "dkmisc: the sysfs device named after the module");
	u = user_of(&t[4], 500);
	if (u) {
		is_str(u->comm, "evil?[31m", "control characters in comm shown as '?'");
		is_int(strlen(u->cmdline), 160, "a long cmdline cut to 160 bytes");
		ok(strstr(u->cmdline, "...") != NULL, "and says so");
	} else {
		ok(0, "dkmisc: pid 500 found");
	}
	free(pids);
	pids = pids_of(&t[5]);
	is_str(pids, "600", "dktest: the configured glob (a regular file standing in)");
	free(pids);
	pids = pids_of(&t[6]);
	is_str(pids, "none",
	       "dkfake_other: a prefix of dkfake-frontend only for the module it "
	       "starts with");
	free(pids);
	pids = pids_of(&t[7]);
	is_str(pids, "none", "a module nobody holds: no users");
	for (size_t i = 0; i < ARRAY_SIZE(t); i++)
		dk_proc_target_release(&t[i]);

	/* dkfake_frontend loaded: the major is its own, not dkfake's */
	ok(fx_put(sysfs, "module/dkfake_frontend/refcnt", "1\n", 0644) == 0,
	   "module dkfake_frontend loaded");
	is_int(dk_procs_scan(procfs, sysfs, &t[2], 1, NULL), 0, "rescan: 0");
	is_int(t[2].n_users, 0,
	       "dkfake: dkfake-frontend belongs to the module of that name once loaded");
	dk_proc_target_release(&t[2]);
	free(pids);
	pids = NULL;
}

static struct dk_proc_user fake_user(int pid, char *comm, char *path)
{
	static char *paths[1];

	paths[0] = path;
	return (struct dk_proc_user){pid, comm, comm, NULL, NULL, paths, 1};
}

static void test_describe(void)
{
	struct dk_proc_user u[5];
	struct strbuf b;
	char pod[] = UID, ctr[] = CID, cmd[] = "python3 train.py", dev[] = "/dev/nvidia0";
	char comm[] = "python3";

	for (int i = 0; i < 5; i++)
		u[i] = fake_user(1000 + i, comm, dev);
	u[0].cmdline = cmd;
	u[0].pod_uid = pod;
	u[0].container_id = ctr;
	strbuf_init(&b);
	dk_proc_users_describe(&b, u, 1, 4096);
	is_str(b.s,
	       "pid 1000 python3 (python3 train.py) pod " UID
	       " container 3b1c9a0e5f7d: /dev/nvidia0",
	       "describe: pid, command, cmdline, pod, short container ID, devices");
	strbuf_release(&b);
	strbuf_init(&b);
	dk_proc_users_describe(&b, u + 1, 2, 4096);
	is_str(b.s, "pid 1001 python3: /dev/nvidia0; pid 1002 python3: /dev/nvidia0",
	       "describe: cmdline equal to comm not repeated; '; ' between");
	strbuf_release(&b);
	strbuf_init(&b);
	dk_proc_users_describe(&b, u, 5, 150);
	ok(b.s && strstr(b.s, "pid 1000 ") && strstr(b.s, "; and 4 more") && b.len <= 150,
	   "describe: over the limit: the first, then 'and 4 more' (%s)", b.s);
	strbuf_release(&b);
	strbuf_init(&b);
	dk_proc_users_describe(&b, u, 5, 10);
	ok(b.s && strstr(b.s, "pid 1000 ") && strstr(b.s, "; and 4 more"),
	   "describe: at least one is named whatever the limit");
	strbuf_release(&b);
}

/* A real child with a file open: found in the real /proc by the glob. */
static void test_real(const char *tmp)
{
	_cleanup_free_ char *node = dk_path_join(tmp, "dkreal-node");
	_cleanup_free_ char *glob = dk_path_join(tmp, "dkreal-*");
	const char *const gv[] = {glob};
	struct dk_proc_target t = {"dkreal", gv, 1, NULL, 0};
	int pfd[2], fd;
	char c;
	pid_t pid;

	if (fx_put(tmp, "dkreal-node", "", 0644) < 0 || pipe(pfd) < 0) {
		ok(0, "real: set up");
		return;
	}
	pid = fork();
	if (pid == 0) {
		fd = open(node, O_RDONLY);
		(void)!write(pfd[1], fd >= 0 ? "y" : "n", 1);
		pause();
		_exit(0);
	}
	close(pfd[1]);
	ok(read(pfd[0], &c, 1) == 1 && c == 'y', "real: child has the node open");
	close(pfd[0]);
	is_int(dk_procs_scan("/proc", "/sys", &t, 1, NULL), 0, "real: scan of /proc");
	ok(t.n_users == 1 && t.users[0].pid == pid, "real: the child (pid %d) found",
	   (int)pid);
	ok(t.n_users == 1 && streq(t.users[0].comm, "test-procs"),
	   "real: its comm is test-procs");
	ok(t.n_users == 1 && t.users[0].n_paths == 1 && streq(t.users[0].paths[0], node),
	   "real: the path it opened");
	dk_proc_target_release(&t);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	is_int(dk_procs_scan("/proc", "/sys", &t, 1, NULL), 0,
	       "real: scan after it died");
	is_int(t.n_users, 0, "real: nobody once it died");
	dk_proc_target_release(&t);
	is_int(dk_procs_scan("/nonexistent-procfs", "/sys", &t, 1, NULL), -ENOENT,
	       "a missing procfs: -ENOENT");
}

int main(void)
{
	char tmpl[] = "/tmp/test-procs.XXXXXX";
	char *tmp = mkdtemp(tmpl);

	test_cgroup();
	test_defaults();
	test_describe();
	if (!tmp) {
		ok(0, "mkdtemp");
		return tap_done();
	}
	test_fixture(tmp);
	test_real(tmp);
	fx_rm_rf(tmp);
	return tap_done();
}
