/* SPDX-License-Identifier: Apache-2.0 */
/* fleet: reading a node's labels (flat, Node, NodeList, errors), NFD's sanitising, the
 * arch from a kernel release, DaemonSet names, and select's decisions over the fixture
 * matrix tests/fleet/fixtures/select-matrix. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "fleet/daemonsets.h"
#include "fleet/jobs.h"
#include "fleet/labels.h"
#include "fleet/matrix.h"
#include "fleet/select.h"

#include "tap.h"

static int parse(const char *text, struct dk_node_facts *f, struct dk_error **err)
{
	return dk_labels_parse("labels.yaml", text, strlen(text), f, err);
}

static void test_labels(void)
{
	_cleanup_node_facts_ struct dk_node_facts f = {0}, g = {0}, h = {0};
	_cleanup_error_ struct dk_error *err = NULL;

	is_int(parse("feature.node.kubernetes.io/kernel-version.full: 6.1.0-56-amd64\n"
		     "feature.node.kubernetes.io/system-os_release.ID: debian\n"
		     "feature.node.kubernetes.io/system-os_release.VERSION_ID: 12\n",
		     &f, &err),
	       0, "flat mapping parses");
	is_str(f.kernel, "6.1.0-56-amd64", "flat: kernel");
	is_str(f.os_version, "12", "flat: an unquoted VERSION_ID is its text");
	is_str(f.arch, "amd64", "flat: arch from the kernel's suffix");
	is_str(f.arch_from, "the kernel release's suffix", "flat: and says so");

	is_int(parse("{\"kind\": \"Node\", \"metadata\": {\"name\": \"n1\", \"labels\": {"
		     "\"kubernetes.io/arch\": \"arm64\", "
		     "\"feature.node.kubernetes.io/system-os_release.ID\": \"rhcos\", "
		     "\"feature.node.kubernetes.io/system-os_release.OSTREE_VERSION\": "
		     "\"416.94.1-0\"}}}",
		     &g, &err),
	       0, "a Node object in JSON parses");
	is_str(g.node, "n1", "Node: its name");
	is_str(g.arch, "arm64", "Node: kubernetes.io/arch");
	is_str(g.ostree_version, "416.94.1-0", "Node: OSTREE_VERSION");
	ok(g.kernel == NULL, "Node: a missing label stays NULL");
	ok(dk_node_facts_check(&g, false, &err) == -EBADMSG && err &&
		   strstr(err->msg, "system-os_release.VERSION_ID"),
	   "check names the missing label");
	dk_error_free(&err);

	is_int(parse("kind: List\nitems:\n  - kind: Node\n    metadata:\n      labels:\n"
		     "        kubernetes.io/arch: x86_64\n",
		     &h, &err),
	       0, "a one-Node List parses");
	is_str(h.arch, "amd64", "List: arch normalised");
}

static void test_label_errors(void)
{
	static const struct {
		const char *text, *msg;
	} bad[] = {
		{"a: [1]\n", "labels.yaml:1:4: a: expected a label value"},
		{"kind: List\nitems: [{kind: Node}, {kind: Node}]\n",
		 "labels.yaml:2:8: items: expected exactly one Node, got 2"},
		{"kind: Pod\nmetadata: {labels: {}}\n", "expected a Node, got kind Pod"},
		{"- a\n", "expected a mapping of label: value, a Node or a NodeList"},
		{"kind: Node\nmetadata: {name: x}\n", "the Node has no labels"},
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		_cleanup_node_facts_ struct dk_node_facts f = {0};
		_cleanup_error_ struct dk_error *err = NULL;
		int r = parse(bad[i].text, &f, &err);

		ok(r == -EBADMSG && err && strstr(err->msg, bad[i].msg),
		   "bad labels %zu: %s", i, err ? err->msg : "(no error)");
	}
}

static void test_sanitise(void)
{
	_cleanup_free_ char *s = dk_label_sanitise("6.12.117+deb12-amd64 x/y");
	_cleanup_free_ char *n1 = dk_jobs_k8s_name("NVIDIA_535.x+y--z-");
	_cleanup_free_ char *n2 =
		dk_jobs_k8s_name("nvidia-550-rhcos4.16-416.94.202407030122-0-"
				 "5.14.0-427.26.1.el9_4.x86_64");
	_cleanup_free_ char *v = dk_ds_label_value("-a+b-");

	is_str(s, "6.12.117_deb12-amd64_x_y", "sanitise maps [^-A-Za-z0-9_.] to _");
	ok(dk_label_kernel_equal("6.12.117+deb12-amd64", "6.12.117_deb12-amd64"),
	   "a kernel equals its sanitised label");
	ok(!dk_label_kernel_equal("6.1.0-56-amd64", "6.1.0-56-amd6"), "prefixes differ");
	is_str(dk_label_arch_from_kernel("5.14.0-427.el9_4.aarch64"), "arm64", "aarch64");
	is_str(dk_label_arch_from_kernel("6.1.0-56-amd64"), "amd64", "amd64");
	ok(dk_label_arch_from_kernel("5.15.0-131-generic") == NULL, "generic: unknown");
	_cleanup_free_ char *n3 = dk_jobs_k8s_name(
		"--a-"
		"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
		"---");

	is_str(n1, "nvidia-535-x-y-z", "DNS-1123 name");
	is_str(n3, "a-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
	       "63 characters once the '-' at the ends are gone: not cut");
	ok(n2 && strlen(n2) <= 63 && strlen(n2) > 54 &&
		   strncmp(n2, "nvidia-550-rhcos4-16-", 21) == 0 &&
		   n2[strlen(n2) - 9] == '-',
	   "a long name is cut to <= 63 with a hash suffix: %s", n2 ? n2 : "");
	is_str(v, "a_b", "label value: sanitised, alphanumeric ends");
}

static struct dk_matrix *load_fixture(void)
{
	const char *src = getenv("DK_SRCDIR");
	_cleanup_free_ char *dir = dk_strdup_printf(
		"%s/tests/fleet/fixtures/select-matrix", src ? src : ".");
	_cleanup_error_ struct dk_error *err = NULL;
	struct dk_matrix *m = NULL;

	if (dk_matrix_load(dir, &m, &err) < 0)
		ok(0, "fixture matrix loads: %s", err ? err->msg : "?");
	return m;
}

static void check_select(const struct dk_matrix *m, const char *labels,
			 const char *pending, enum dk_sel_missing missing, int kind,
			 const char *image, const char *what)
{
	_cleanup_node_facts_ struct dk_node_facts f = {0};
	_cleanup_error_ struct dk_error *err = NULL;
	_cleanup_selection_ struct dk_selection *s = NULL;
	struct dk_sel_opts o = {.pending_kernel = pending};
	int r = parse(labels, &f, &err);

	if (r >= 0)
		r = dk_select(m, &f, &o, &s, &err);
	ok(r == 0 && s && s->missing == missing, "%s: missing=%s%s", what,
	   s ? dk_sel_missing_name(s->missing) : "-", err ? err->msg : "");
	if (!s || missing != DK_SEL_FIT)
		return;
	ok(s->n_answers >= 1 && (int)s->answers[0].kind == kind, "%s: %s", what,
	   s->n_answers ? dk_sel_kind_name(s->answers[0].kind) : "no answer");
	is_str(s->n_answers ? s->answers[0].image : NULL, image, "%s: image", what);
}

#define DEB(k, v, a)                                                           \
	"feature.node.kubernetes.io/kernel-version.full: " k "\n"              \
	"feature.node.kubernetes.io/system-os_release.ID: debian\n"            \
	"feature.node.kubernetes.io/system-os_release.VERSION_ID: \"" v "\"\n" \
	"kubernetes.io/arch: " a "\n"
#define RHCOS(k, o)                                                       \
	"feature.node.kubernetes.io/kernel-version.full: " k "\n"         \
	"feature.node.kubernetes.io/system-os_release.ID: rhcos\n"        \
	"feature.node.kubernetes.io/system-os_release.VERSION_ID: x\n"    \
	"feature.node.kubernetes.io/system-os_release.OSTREE_VERSION: " o \
	"\nkubernetes.io/arch: amd64\n"

static void test_select(void)
{
	struct dk_matrix *m = load_fixture();

	if (!m)
		return;
	check_select(m, DEB("6.1.0-56-amd64", "12", "amd64"), NULL, DK_SEL_FIT,
		     DK_SEL_PRECOMPILED, "driver:535-6.1.0-56-amd64-debian12",
		     "listed kernel");
	check_select(m, DEB("6.12.117_deb12-amd64", "12", "amd64"), NULL, DK_SEL_FIT,
		     DK_SEL_PRECOMPILED, "driver:535-6.12.117_deb12-amd64-debian12",
		     "sanitised label value");
	check_select(m, DEB("6.1.0-99-amd64", "12", "amd64"), NULL, DK_SEL_FIT,
		     DK_SEL_BUILD, "driver:535.261.03-debian12", "unlisted kernel");
	check_select(m, DEB("6.1.0-56-arm64", "12", "amd64"), NULL, DK_SEL_FIT,
		     DK_SEL_BUILD, "driver:535.261.03-debian12",
		     "kernel listed for another arch");
	check_select(m, DEB("6.1.0-56-amd64", "12", "amd64"), "6.1.0-99-amd64",
		     DK_SEL_FIT, DK_SEL_BUILD, "driver:535.261.03-debian12",
		     "pending kernel");
	check_select(m, DEB("5.10.0-1-amd64", "11", "amd64"), NULL, DK_SEL_NO_OSVER, 0,
		     NULL, "os version not in the matrix");
	check_select(m, DEB("6.1.0-56-amd64", "12", "s390x"), NULL, DK_SEL_NO_ARCH, 0,
		     NULL, "arch not built");
	check_select(m,
		     "feature.node.kubernetes.io/kernel-version.full: 1\n"
		     "feature.node.kubernetes.io/system-os_release.ID: sles\n"
		     "feature.node.kubernetes.io/system-os_release.VERSION_ID: 15\n"
		     "kubernetes.io/arch: amd64\n",
		     NULL, DK_SEL_NO_OS, 0, NULL, "os not in the matrix");
	check_select(m, RHCOS("5.14.0-1.el9_2.x86_64", "415.92.202406251950-0"), NULL,
		     DK_SEL_FIT, DK_SEL_BUILD, "driver:550.163.01-rhcos4.15",
		     "rhcos 4.15 by OSTREE_VERSION");
	check_select(m, RHCOS("5.14.0-1.el9_4.x86_64", "416.94.202407030122-0"), NULL,
		     DK_SEL_FIT, DK_SEL_BUILD, "driver:550.163.01-rhcos4.16",
		     "rhcos 4.16 by OSTREE_VERSION (mid-upgrade: its own DTK image)");
	check_select(m, RHCOS("5.14.0-1.el9_4.x86_64", "416.94.1-0"), NULL,
		     DK_SEL_NO_OSVER, 0, NULL, "unknown OSTREE_VERSION");
	dk_matrix_free(m);
}

#define UBUNTU(extra)                                                          \
	"feature.node.kubernetes.io/kernel-version.full: 5.15.0-131-generic\n" \
	"feature.node.kubernetes.io/system-os_release.ID: ubuntu\n"            \
	"feature.node.kubernetes.io/system-os_release.VERSION_ID: \"22.04\"\n" \
	"kubernetes.io/arch: amd64\n" extra

/* select over labels (NULL: facts as from detection: no labels), --driver driver. */
static struct dk_selection *select_node(const struct dk_matrix *m, const char *labels,
					const char *driver, struct dk_node_facts *f)
{
	_cleanup_error_ struct dk_error *err = NULL;
	struct dk_sel_opts o = {.driver = driver};
	struct dk_selection *s = NULL;
	int r;

	if (labels) {
		r = parse(labels, f, &err);
	} else {
		*f = (struct dk_node_facts){.source = strdup("detection"),
					    .kernel = strdup("5.15.0-131-generic"),
					    .os_id = strdup("ubuntu"),
					    .os_version = strdup("22.04"),
					    .arch = strdup("amd64"),
					    .arch_from = "uname(2)"};
		r = 0;
	}
	if (r >= 0)
		r = dk_select(m, f, &o, &s, &err);
	ok(r == 0 && s, "select runs%s%s", err ? ": " : "", err ? err->msg : "");
	return s;
}

/* ofed (select-matrix/drivers.yaml) has node_selector pci-15b3.present=true and
 * network.drvkit.example/rdma=""; nvidia has none. */
static void test_node_selector(void)
{
	_cleanup_matrix_ struct dk_matrix *m = load_fixture();
	_cleanup_node_facts_ struct dk_node_facts a = {0}, b = {0}, c = {0}, d = {0};
	_cleanup_selection_ struct dk_selection *sa = NULL, *sb = NULL, *sc = NULL,
						*sd = NULL;

	if (!m)
		return;
	sa = select_node(m,
			 UBUNTU("feature.node.kubernetes.io/pci-15b3.present: \"true\"\n"
				"network.drvkit.example/rdma: \"\"\n"),
			 NULL, &a);
	ok(a.has_labels && a.n_labels == 6, "labels: every label kept (%zu)", a.n_labels);
	is_str(dk_node_facts_label(&a, "network.drvkit.example/rdma"), "",
	       "labels: an empty value is kept as \"\"");
	ok(sa && sa->missing == DK_SEL_FIT && sa->n_answers == 2 && sa->n_skipped == 0,
	   "selected: the node carries ofed's labels: nvidia and ofed answered");
	ok(sa && sa->n_answers == 2 && streq(sa->answers[1].driver->name, "ofed") &&
		   !strstr(sa->answers[1].reason, "node_selector"),
	   "selected: ofed's reason is the image's");

	sb = select_node(
		m, UBUNTU("feature.node.kubernetes.io/pci-15b3.present: \"false\"\n"),
		NULL, &b);
	ok(sb && sb->missing == DK_SEL_FIT && sb->n_answers == 1 &&
		   streq(sb->answers[0].driver->name, "nvidia"),
	   "not selected: ofed's answer dropped, nvidia's stays (a fit)");
	ok(sb && sb->n_skipped == 1 && streq(sb->skipped[0].driver->name, "ofed") &&
		   streq(sb->skipped[0].has, "false"),
	   "not selected: ofed skipped, the node's value read");
	is_str(sb && sb->n_skipped ? sb->skipped[0].line : NULL,
	       "needs feature.node.kubernetes.io/pci-15b3.present=true (the node: false)",
	       "not selected: the label, the wanted value and the node's");

	sc = select_node(
		m, UBUNTU("feature.node.kubernetes.io/pci-15b3.present: \"true\"\n"),
		"ofed", &c);
	ok(sc && sc->missing == DK_SEL_NOT_SELECTED && sc->n_answers == 0,
	   "not selected, no other driver: missing=not-selected");
	is_str(sc ? dk_sel_missing_name(sc->missing) : NULL, "not-selected", "its name");
	is_str(sc ? sc->missing_reason : NULL,
	       "no driver of the matrix runs on this node: ofed needs "
	       "network.drvkit.example/rdma=\"\" (the node: missing)",
	       "not selected: the reason names the driver, the label and 'missing'");

	sd = select_node(m, NULL, NULL, &d);
	ok(!d.has_labels && sd && sd->missing == DK_SEL_FIT && sd->n_answers == 2 &&
		   sd->n_skipped == 0,
	   "detection: no labels, node_selector not checked: both drivers answered");
	ok(sd && sd->n_answers == 2 &&
		   strstr(sd->answers[1].reason,
			  "; node_selector not checked: facts from detection") &&
		   !strstr(sd->answers[0].reason, "node_selector"),
	   "detection: ofed's reason says its node_selector was not checked");
}

int main(void)
{
	test_labels();
	test_label_errors();
	test_sanitise();
	test_select();
	test_node_selector();
	return tap_done();
}
