/* SPDX-License-Identifier: Apache-2.0 */
/* host/policy: each source of the kernel policy and their precedence, on a fixture
 * root built per case (nothing is shared between cases); host/kconfig's reader;
 * host/modules' sysfs module state. */
#include <errno.h>
#include <ftw.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "base/fsutil.h"
#include "host/kconfig.h"
#include "host/modules.h"
#include "host/policy.h"

#include "fixture.h"
#include "tap.h"

#define KVER "6.1.0-test"
#define SIG "sys/module/module/parameters/sig_enforce"
#define LOCKDOWN "sys/kernel/security/lockdown"
#define BOOT_CONFIG "boot/config-" KVER
#define EFI_VAR "sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"

/* --- fixture roots ---------------------------------------------------------- */

static char *fx_new(void)
{
	char dir[] = "/tmp/dk-policy-XXXXXX";

	if (!mkdtemp(dir)) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		exit(1);
	}
	return strdup(dir);
}

/* path cut at its last slash, in place */
static char *dirname_of(char *path)
{
	char *slash = strrchr(path, '/');

	if (slash)
		*slash = '\0';
	return path;
}

static void put(const char *root, const char *rel, const void *data, size_t len)
{
	_cleanup_free_ char *path = dk_path_join(root, rel);
	_cleanup_free_ char *dir = path ? strdup(path) : NULL;

	if (!dir || dk_mkdir_p(dirname_of(dir), 0755) < 0 ||
	    dk_write_file_atomic(path, data, len, 0644) < 0) {
		printf("Bail out! write %s/%s\n", root, rel);
		exit(1);
	}
}

static void put_str(const char *root, const char *rel, const char *s)
{
	put(root, rel, s, strlen(s));
}

static void mkdir_in(const char *root, const char *rel)
{
	_cleanup_free_ char *path = dk_path_join(root, rel);

	if (!path || dk_mkdir_p(path, 0755) < 0) {
		printf("Bail out! mkdir %s/%s\n", root, rel);
		exit(1);
	}
}

static void fx_free(char *root)
{
	fx_rm_rf(root);
	free(root);
}

/* A one-member gzip of text with a stored (uncompressed) deflate block: what
 * /proc/config.gz holds, without depending on zlib or a gzip program. */
static uint32_t crc32_of(const char *s, size_t n)
{
	uint32_t c = 0xffffffffu;

	for (size_t i = 0; i < n; i++) {
		c ^= (unsigned char)s[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & -(c & 1));
	}
	return ~c;
}

static void put_gz(const char *root, const char *rel, const char *text)
{
	size_t n = strlen(text);
	uint32_t crc = crc32_of(text, n);
	unsigned char head[] = {0x1f, 0x8b,	8,	0,	   0,
				0,    0,	0,	0,	   0xff, /* gzip */
				1,    n & 0xff, n >> 8, ~n & 0xff, (~n >> 8) & 0xff};
	unsigned char tail[8];
	struct strbuf b;

	for (int i = 0; i < 4; i++) {
		tail[i] = (crc >> (8 * i)) & 0xff;
		tail[4 + i] = (n >> (8 * i)) & 0xff;
	}
	strbuf_init(&b);
	strbuf_putn(&b, (const char *)head, sizeof(head));
	strbuf_putn(&b, text, n);
	strbuf_putn(&b, (const char *)tail, sizeof(tail));
	put(root, rel, b.s, b.len);
	strbuf_release(&b);
}

static int read_policy(const char *root, const char *kver, struct dk_kernel_policy *p)
{
	_cleanup_error_ struct dk_error *err = NULL;
	struct dk_ctx ctx;

	dk_ctx_init(&ctx);
	ctx.host_root = root;
	return dk_kernel_policy_read(&ctx, kver, p, &err);
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = s ? strlen(s) : 0, b = strlen(suffix);

	return s && a >= b && streq(s + a - b, suffix);
}

static bool contains(const char *s, const char *part)
{
	return s && strstr(s, part);
}

/* --- signature enforcement -------------------------------------------------- */

static void test_sig_enforce_param(void)
{
	char *root = fx_new();
	struct dk_kernel_policy p;

	put_str(root, SIG, "Y\n");
	is_int(read_policy(root, KVER, &p), 0, "sig_enforce=Y: read");
	is_int(p.sig_enforce.value, DK_SIG_ENFORCE_YES, "sig_enforce=Y: yes");
	is_int(p.sig_enforce.from, DK_POLICY_FROM_SYSFS, "sig_enforce=Y: from sysfs");
	ok(ends_with(p.sig_enforce.source, SIG),
	   "sig_enforce=Y: source is the parameter");
	ok(dk_kernel_policy_enforcing(&p), "sig_enforce=Y: enforcing");
	dk_kernel_policy_release(&p);

	put_str(root, SIG, "N\n");
	/* the param outranks the config */
	put_str(root, BOOT_CONFIG, "CONFIG_MODULE_SIG=y\nCONFIG_MODULE_SIG_FORCE=y\n");
	is_int(read_policy(root, KVER, &p), 0, "sig_enforce=N: read");
	is_int(p.sig_enforce.value, DK_SIG_ENFORCE_NO,
	       "sig_enforce=N: no, whatever the config");
	ok(!dk_kernel_policy_enforcing(&p), "sig_enforce=N: not enforcing");
	dk_kernel_policy_release(&p);

	put_str(root, SIG, "1\n");
	is_int(read_policy(root, KVER, &p), 0, "sig_enforce=1: read");
	is_int(p.sig_enforce.value, DK_SIG_ENFORCE_UNKNOWN,
	       "unexpected content: unknown");
	ok(contains(p.sig_enforce.why, "unexpected '1'"), "unexpected content: why (%s)",
	   p.sig_enforce.why);
	dk_kernel_policy_release(&p);
	fx_free(root);
}

static void test_sig_enforce_missing(void)
{
	char *root = fx_new();
	struct dk_kernel_policy p;

	is_int(read_policy(root, KVER, &p), 0, "no sig_enforce, no config: read");
	is_int(p.sig_enforce.value, DK_SIG_ENFORCE_UNKNOWN, "no sig_enforce: unknown");
	ok(contains(p.sig_enforce.why, "No such file or directory"),
	   "no sig_enforce: why names the error");
	ok(ends_with(p.sig_enforce.source, SIG),
	   "no sig_enforce: source is the parameter");
	dk_kernel_policy_release(&p);
	fx_free(root);
}

static void test_sig_force_config(void)
{
	char *root = fx_new();
	struct dk_kernel_policy p;
	char *text;

	put_str(root, BOOT_CONFIG, "CONFIG_MODULE_SIG=y\nCONFIG_MODULE_SIG_FORCE=y\n");
	is_int(read_policy(root, KVER, &p), 0, "MODULE_SIG_FORCE=y: read");
	is_int(p.sig_enforce.value, DK_SIG_ENFORCE_YES, "MODULE_SIG_FORCE=y: yes");
	is_int(p.sig_enforce.from, DK_POLICY_FROM_KCONFIG,
	       "MODULE_SIG_FORCE=y: from config");
	ok(ends_with(p.sig_enforce.source, BOOT_CONFIG), "MODULE_SIG_FORCE=y: source");
	ok(contains(p.sig_enforce.why, "CONFIG_MODULE_SIG_FORCE=y"),
	   "MODULE_SIG_FORCE=y: why (%s)", p.sig_enforce.why);
	ok(dk_kernel_policy_enforcing(&p), "MODULE_SIG_FORCE=y: enforcing");
	text = dk_kernel_policy_enforcement(&p);
	is_str(text, "CONFIG_MODULE_SIG_FORCE=y", "MODULE_SIG_FORCE=y: enforcement text");
	free(text);
	dk_kernel_policy_release(&p);

	put_str(root, BOOT_CONFIG, "# CONFIG_MODULE_SIG is not set\n");
	is_int(read_policy(root, KVER, &p), 0, "MODULE_SIG not set: read");
	is_int(p.sig_enforce.value, DK_SIG_ENFORCE_NO, "MODULE_SIG not set: no");
	is_int(p.sig_enforce.from, DK_POLICY_FROM_KCONFIG,
	       "MODULE_SIG not set: from config");
	dk_kernel_policy_release(&p);

	put_str(root, BOOT_CONFIG,
		"CONFIG_MODULE_SIG=y\n# CONFIG_MODULE_SIG_FORCE is not set\n");
	is_int(read_policy(root, KVER, &p), 0, "MODULE_SIG=y only: read");
	is_int(p.sig_enforce.value, DK_SIG_ENFORCE_UNKNOWN,
	       "MODULE_SIG=y without FORCE: unknown (the command line decides)");
	dk_kernel_policy_release(&p);
	fx_free(root);
}

/* --- lockdown, Secure Boot ----------------------------------------------------- */

static void test_lockdown(void)
{
	static const struct {
		const char *line;
		enum dk_lockdown want;
	} cases[] = {
		{"[none] integrity confidentiality\n", DK_LOCKDOWN_NONE},
		{"none [integrity] confidentiality\n", DK_LOCKDOWN_INTEGRITY},
		{"none integrity [confidentiality]\n", DK_LOCKDOWN_CONFIDENTIALITY},
		{"none integrity\n", DK_LOCKDOWN_UNKNOWN},
		{"none [paranoid]\n", DK_LOCKDOWN_UNKNOWN},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int n = (int)strcspn(cases[i].line, "\n");
		char *root = fx_new();
		struct dk_kernel_policy p;

		put_str(root, LOCKDOWN, cases[i].line);
		is_int(read_policy(root, KVER, &p), 0, "lockdown '%.*s': read", n,
		       cases[i].line);
		is_int(p.lockdown.value, cases[i].want, "lockdown '%.*s': %s", n,
		       cases[i].line, dk_lockdown_str(cases[i].want));
		if (cases[i].want != DK_LOCKDOWN_UNKNOWN)
			ok(!strncmp(dk_lockdown_line(p.lockdown.value), cases[i].line,
				    strlen(cases[i].line) - 1),
			   "lockdown line renders as the kernel writes it");
		else
			ok(p.lockdown.why != NULL, "unknown lockdown: why (%s)",
			   p.lockdown.why);
		is_int(dk_kernel_policy_enforcing(&p),
		       cases[i].want == DK_LOCKDOWN_INTEGRITY ||
			       cases[i].want == DK_LOCKDOWN_CONFIDENTIALITY,
		       "lockdown '%.*s': enforcing", n, cases[i].line);
		dk_kernel_policy_release(&p);
		fx_free(root);
	}
}

static void test_enforcement_text(void)
{
	char *root = fx_new();
	struct dk_kernel_policy p;
	char *text;

	put_str(root, SIG, "Y\n");
	put_str(root, LOCKDOWN, "none [integrity] confidentiality\n");
	is_int(read_policy(root, KVER, &p), 0, "enforcement: read");
	text = dk_kernel_policy_enforcement(&p);
	is_str(text, "sig_enforce=Y, lockdown none [integrity] confidentiality",
	       "enforcement text as init prints it");
	free(text);
	dk_kernel_policy_release(&p);
	fx_free(root);

	root = fx_new();
	is_int(read_policy(root, KVER, &p), 0, "enforcement, nothing known: read");
	text = dk_kernel_policy_enforcement(&p);
	is_str(text, "sig_enforce=unknown", "enforcement text when nothing is known");
	free(text);
	ok(!dk_kernel_policy_enforcing(&p), "nothing known: not enforcing");
	dk_kernel_policy_release(&p);
	fx_free(root);
}

static void test_secure_boot(void)
{
	static const unsigned char on[] = {6, 0, 0, 0, 1}, off[] = {6, 0, 0, 0, 0};
	char *root = fx_new();
	struct dk_kernel_policy p;

	is_int(read_policy(root, KVER, &p), 0, "no EFI: read");
	is_int(p.secure_boot.value, DK_SECURE_BOOT_NO, "no EFI: Secure Boot no");
	ok(contains(p.secure_boot.why, "not EFI"), "no EFI: why says so");
	dk_kernel_policy_release(&p);

	put(root, EFI_VAR, on, sizeof(on));
	is_int(read_policy(root, KVER, &p), 0, "SecureBoot=1: read");
	is_int(p.secure_boot.value, DK_SECURE_BOOT_YES, "SecureBoot=1: yes");
	dk_kernel_policy_release(&p);

	put(root, EFI_VAR, off, sizeof(off));
	is_int(read_policy(root, KVER, &p), 0, "SecureBoot=0: read");
	is_int(p.secure_boot.value, DK_SECURE_BOOT_NO, "SecureBoot=0: no");
	dk_kernel_policy_release(&p);

	put(root, EFI_VAR, on, 2);
	is_int(read_policy(root, KVER, &p), 0, "short variable: read");
	is_int(p.secure_boot.value, DK_SECURE_BOOT_UNKNOWN, "short variable: unknown");
	dk_kernel_policy_release(&p);
	fx_free(root);
}

/* --- module unload ------------------------------------------------------------- */

static void test_unload_refcnt(void)
{
	char *root = fx_new();
	struct dk_kernel_policy p;

	put_str(root, "sys/module/foo/initstate", "live\n");
	put_str(root, "sys/module/foo/refcnt", "0\n");
	mkdir_in(root, "sys/module/ext4"); /* built in: neither initstate nor refcnt */
	is_int(read_policy(root, KVER, &p), 0, "refcnt present: read");
	is_int(p.module_unload.value, DK_MODULE_UNLOAD_YES, "refcnt present: yes");
	is_int(p.module_unload.from, DK_POLICY_FROM_SYSFS, "refcnt present: from sysfs");
	ok(ends_with(p.module_unload.source, "sys/module/foo/refcnt"),
	   "refcnt present: source is the refcnt file (%s)", p.module_unload.source);
	dk_kernel_policy_release(&p);
	fx_free(root);
}

static void test_unload_no_refcnt(void)
{
	char *root = fx_new();
	struct dk_kernel_policy p;
	char *why;

	put_str(root, "sys/module/foo/initstate", "live\n");
	/* the running kernel outranks a config that says otherwise */
	put_str(root, BOOT_CONFIG, "CONFIG_MODULE_UNLOAD=y\n");
	is_int(read_policy(root, KVER, &p), 0, "loaded module without refcnt: read");
	is_int(p.module_unload.value, DK_MODULE_UNLOAD_NO,
	       "loaded module without refcnt: no, whatever the config");
	is_int(p.module_unload.from, DK_POLICY_FROM_SYSFS, "without refcnt: from sysfs");
	ok(contains(p.module_unload.why, "a loaded module has no refcnt"),
	   "without refcnt: why (%s)", p.module_unload.why);
	why = dk_kernel_policy_no_unload_why(&p);
	ok(contains(why, "sys/module/foo has no refcnt: the kernel is built without "
			 "CONFIG_MODULE_UNLOAD and cannot unload modules"),
	   "without refcnt: the refusal names the module dir (%s)", why);
	free(why);
	dk_kernel_policy_release(&p);
	fx_free(root);
}

static void test_unload_boot_config(void)
{
	char *root = fx_new();
	struct dk_kernel_policy p;
	char *why;

	put_str(root, BOOT_CONFIG,
		"CONFIG_MODULES=y\n# CONFIG_MODULE_UNLOAD is not set\n");
	is_int(read_policy(root, KVER, &p), 0, "/boot/config unload not set: read");
	is_int(p.module_unload.value, DK_MODULE_UNLOAD_NO, "/boot/config: no");
	is_int(p.module_unload.from, DK_POLICY_FROM_KCONFIG, "/boot/config: from config");
	ok(ends_with(p.module_unload.source, BOOT_CONFIG), "/boot/config: source");
	why = dk_kernel_policy_no_unload_why(&p);
	ok(ends_with(why, BOOT_CONFIG " says CONFIG_MODULE_UNLOAD is not set: the kernel "
				      "cannot unload modules"),
	   "/boot/config: the refusal names the file (%s)", why);
	free(why);
	dk_kernel_policy_release(&p);
	fx_free(root);
}

static void test_unload_agreeing_sources(void)
{
	char *root = fx_new();
	struct dk_kernel_policy p;

	put_str(root, "sys/module/foo/initstate", "live\n");
	put_str(root, "sys/module/foo/refcnt", "1\n");
	put_str(root, BOOT_CONFIG, "CONFIG_MODULE_UNLOAD=y\n");
	is_int(read_policy(root, KVER, &p), 0, "sysfs and config agree: read");
	is_int(p.module_unload.value, DK_MODULE_UNLOAD_YES, "agree: yes");
	ok(ends_with(p.module_unload.source, BOOT_CONFIG) && !p.module_unload.why,
	   "agree: the config, which names the option, is cited");
	dk_kernel_policy_release(&p);
	fx_free(root);
}

static bool have_libarchive(void)
{
	_cleanup_error_ struct dk_error *err = NULL;
	_cleanup_free_ char *path = NULL, *text = NULL, *why = NULL;
	char *root = fx_new();
	struct dk_ctx ctx;
	int r;

	dk_ctx_init(&ctx);
	ctx.host_root = root;
	put_gz(root, "proc/config.gz", "CONFIG_X=y\n");
	r = dk_kconfig_read(&ctx, NULL, NULL, &path, &text, &why);
	fx_free(root);
	return r == 0;
}

static void test_unload_config_gz(bool gz)
{
	char *root;
	struct dk_kernel_policy p;
	char *why;

	if (!gz) {
		for (int i = 0; i < 6; i++)
			skip("libarchive cannot be loaded: no /proc/config.gz");
		return;
	}
	root = fx_new();
	put_gz(root, "proc/config.gz",
	       "CONFIG_MODULES=y\n# CONFIG_MODULE_UNLOAD is not set\n");
	is_int(read_policy(root, KVER, &p), 0, "config.gz unload not set: read");
	is_int(p.module_unload.value, DK_MODULE_UNLOAD_NO, "config.gz: no");
	ok(ends_with(p.module_unload.source, "proc/config.gz"), "config.gz: source (%s)",
	   p.module_unload.source);
	why = dk_kernel_policy_no_unload_why(&p);
	ok(contains(why, "proc/config.gz says CONFIG_MODULE_UNLOAD is not set"),
	   "config.gz: the refusal names it (%s)", why);
	free(why);
	dk_kernel_policy_release(&p);

	/* /boot/config-KVER comes first */
	put_str(root, BOOT_CONFIG, "CONFIG_MODULE_UNLOAD=y\n");
	is_int(read_policy(root, KVER, &p), 0, "/boot/config and config.gz: read");
	ok(p.module_unload.value == DK_MODULE_UNLOAD_YES &&
		   ends_with(p.module_unload.source, BOOT_CONFIG),
	   "/boot/config-KVER before config.gz");
	dk_kernel_policy_release(&p);
	fx_free(root);
}

static void test_unload_unknown(void)
{
	char *root = fx_new();
	struct dk_kernel_policy p;

	is_int(read_policy(root, KVER, &p), 0, "nothing says: read");
	is_int(p.module_unload.value, DK_MODULE_UNLOAD_UNKNOWN, "nothing says: unknown");
	ok(contains(p.module_unload.why, "no kernel config: ") &&
		   contains(p.module_unload.why, BOOT_CONFIG ": No such file") &&
		   contains(p.module_unload.why, "config.gz: ") &&
		   contains(p.module_unload.why, "/*/refcnt"),
	   "nothing says: why lists every place (%s)", p.module_unload.why);
	is_int(p.modversions.value, DK_MODVERSIONS_UNKNOWN,
	       "nothing says: modversions unknown");
	ok(contains(p.modversions.why, "no kernel config"), "modversions: why");
	dk_kernel_policy_release(&p);
	fx_free(root);
}

/* --- modversions, the config reader ------------------------------------------- */

static void test_modversions(void)
{
	char *root = fx_new();
	struct dk_kernel_policy p;

	put_str(root, BOOT_CONFIG, "CONFIG_MODVERSIONS=y\n");
	is_int(read_policy(root, KVER, &p), 0, "MODVERSIONS=y: read");
	is_int(p.modversions.value, DK_MODVERSIONS_YES, "MODVERSIONS=y: yes");
	dk_kernel_policy_release(&p);

	put_str(root, BOOT_CONFIG, "CONFIG_MODULES=y\n");
	is_int(read_policy(root, KVER, &p), 0, "MODVERSIONS absent: read");
	is_int(p.modversions.value, DK_MODVERSIONS_NO, "MODVERSIONS absent: no");
	ok(contains(p.modversions.why, "CONFIG_MODVERSIONS not set"),
	   "MODVERSIONS absent: why (%s)", p.modversions.why);
	dk_kernel_policy_release(&p);
	fx_free(root);
}

static void test_kconfig_more(void)
{
	_cleanup_error_ struct dk_error *err = NULL;
	_cleanup_free_ char *cfg = NULL;
	char *root = fx_new();
	const char *configs[2];
	struct dk_kconfig_more more = {
		.configs = configs, .n_configs = 2, .note = "no headers"};
	struct dk_kernel_policy p;
	struct dk_ctx ctx;

	dk_ctx_init(&ctx);
	ctx.host_root = root;
	put_str(root, "headers/.config", "CONFIG_MODVERSIONS=y\n");
	cfg = dk_path_join(root, "headers/.config");
	configs[0] = "/nonexistent/.config";
	configs[1] = cfg;
	is_int(dk_kernel_policy_read_more(&ctx, KVER, &more, &p, &err), 0,
	       "more configs: read");
	ok(p.modversions.value == DK_MODVERSIONS_YES && streq(p.modversions.source, cfg),
	   "more configs: the first readable one after /boot");
	dk_kernel_policy_release(&p);

	more.n_configs = 1;
	is_int(dk_kernel_policy_read_more(&ctx, KVER, &more, &p, &err), 0,
	       "more configs, none readable: read");
	ok(contains(p.modversions.why, "No such file or directory; no headers; "),
	   "the note follows /boot in the why (%s)", p.modversions.why);
	dk_kernel_policy_release(&p);
	fx_free(root);
}

static void test_strings(void)
{
	is_str(dk_sig_enforce_str(DK_SIG_ENFORCE_YES), "yes", "sig_enforce yes");
	is_str(dk_sig_enforce_str(DK_SIG_ENFORCE_UNKNOWN), "unknown",
	       "sig_enforce unknown");
	is_str(dk_lockdown_str(DK_LOCKDOWN_CONFIDENTIALITY), "confidentiality",
	       "lockdown confidentiality");
	is_str(dk_secure_boot_str(DK_SECURE_BOOT_NO), "no", "secure_boot no");
	is_str(dk_module_unload_str(DK_MODULE_UNLOAD_NO), "no", "module_unload no");
	is_str(dk_modversions_str(DK_MODVERSIONS_YES), "yes", "modversions yes");
	ok(dk_lockdown_line(DK_LOCKDOWN_UNKNOWN) == NULL,
	   "no lockdown line when unknown");
}

/* --- sysfs module state (host/modules) ------------------------------------------ */

static void test_modstate(void)
{
	char *root = fx_new();
	_cleanup_free_ char *sysfs = dk_path_join(root, "sys");
	struct dk_modstate st;

	put_str(root, "sys/module/foo/initstate", "live\n");
	put_str(root, "sys/module/foo/refcnt", "2\n");
	put_str(root, "sys/module/foo/srcversion", "ABC123\n");
	put_str(root, "sys/module/foo/version", "1.0\n");
	mkdir_in(root, "sys/module/foo/holders/zeta");
	mkdir_in(root, "sys/module/foo/holders/alpha");
	mkdir_in(root, "sys/module/ext4/parameters");
	put_str(root, "sys/module/bar/initstate", "going\n");

	is_int(dk_modstate_read(sysfs, "foo", &st), 0, "modstate foo: read");
	is_int(st.state, DK_LOADED_LIVE, "foo: live");
	is_int(st.refcnt, 2, "foo: refcnt");
	is_str(st.srcversion, "ABC123", "foo: srcversion");
	is_str(st.version, "1.0", "foo: version");
	ok(st.n_holders == 2 && streq(st.holders[0], "alpha") &&
		   streq(st.holders[1], "zeta"),
	   "foo: holders, sorted");
	dk_modstate_release(&st);

	is_int(dk_modstate_read(sysfs, "ext4", &st), 0, "modstate ext4: read");
	is_int(st.state, DK_LOADED_BUILTIN, "no initstate: built in");
	is_int(st.refcnt, -1, "built in: refcnt unknown");
	dk_modstate_release(&st);

	is_int(dk_modstate_read(sysfs, "bar", &st), 0, "modstate bar: read");
	ok(st.state == DK_LOADED_GOING && st.refcnt == -1 && st.n_holders == 0,
	   "going, no refcnt file, no holders");
	dk_modstate_release(&st);

	is_int(dk_modstate_read(sysfs, "nope", &st), 0, "modstate of an absent module");
	is_int(st.state, DK_LOADED_NO, "absent: not loaded");
	is_str(dk_loaded_str(st.state), "not loaded", "absent: rendered");
	dk_modstate_release(&st);
	fx_free(root);
}

static int read_running(const char *root, struct dk_kernel_policy *p)
{
	_cleanup_error_ struct dk_error *err = NULL;
	struct dk_ctx ctx;

	dk_ctx_init(&ctx);
	ctx.host_root = root;
	return dk_kernel_policy_read_running(&ctx, KVER, p, &err);
}

/* init's read: sysfs decides, the config is a fallback only, and what init does not
 * need stays unknown. */
static void test_running(void)
{
	char *root = fx_new();
	struct dk_kernel_policy p;

	put_str(root, SIG, "Y\n");
	put_str(root, "sys/module/foo/initstate", "live\n");
	put_str(root, "sys/module/foo/refcnt", "0\n");
	put_str(root, BOOT_CONFIG,
		"# CONFIG_MODULE_UNLOAD is not set\nCONFIG_MODVERSIONS=y\n");
	is_int(read_running(root, &p), 0, "running: read");
	is_int(p.sig_enforce.value, DK_SIG_ENFORCE_YES,
	       "running: sig_enforce from sysfs");
	is_int(p.module_unload.value, DK_MODULE_UNLOAD_YES, "running: refcnt decides");
	is_int(p.module_unload.from, DK_POLICY_FROM_SYSFS,
	       "running: the config is not consulted when sysfs answers");
	is_int(p.modversions.value, DK_MODVERSIONS_UNKNOWN,
	       "running: modversions not read");
	is_int(p.secure_boot.value, DK_SECURE_BOOT_UNKNOWN,
	       "running: Secure Boot not read");
	dk_kernel_policy_release(&p);
	fx_free(root);

	root = fx_new();
	put_str(root, BOOT_CONFIG, "# CONFIG_MODULE_UNLOAD is not set\n");
	is_int(read_running(root, &p), 0, "running, nothing loaded: read");
	is_int(p.module_unload.value, DK_MODULE_UNLOAD_NO,
	       "running, nothing loaded: the config answers");
	is_int(p.module_unload.from, DK_POLICY_FROM_KCONFIG, "running: from the config");
	dk_kernel_policy_release(&p);
	fx_free(root);

	root = fx_new();
	put_str(root, "sys/module/foo/initstate", "live\n");
	is_int(read_running(root, &p), 0, "running, no refcnt: read");
	is_int(p.module_unload.value, DK_MODULE_UNLOAD_NO, "running, no refcnt: no");
	ok(p.module_unload.why && strstr(p.module_unload.why, "no refcnt"),
	   "running, no refcnt: says why (%s)", p.module_unload.why);
	dk_kernel_policy_release(&p);
	fx_free(root);
}

int main(void)
{
	test_sig_enforce_param();
	test_sig_enforce_missing();
	test_sig_force_config();
	test_lockdown();
	test_enforcement_text();
	test_secure_boot();
	test_unload_refcnt();
	test_unload_no_refcnt();
	test_unload_boot_config();
	test_unload_agreeing_sources();
	test_unload_config_gz(have_libarchive());
	test_unload_unknown();
	test_modversions();
	test_kconfig_more();
	test_strings();
	test_modstate();
	test_running();
	return tap_done();
}
