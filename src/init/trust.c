/* SPDX-License-Identifier: Apache-2.0 */
/* Before loading on a kernel that enforces module signatures: are our modules signed
 * by a key it trusts? The signing certificate of the config (or each module's own
 * signature) against the keys the host shows: /proc/keys (asymmetric keys, "CN:
 * keyid", the key id the subject key identifier) and the certificates enrolled in MOK
 * (MokListRT in efivars). Every finding is a problem (init/problems.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "base/fsutil.h"
#include "base/log.h"
#include "host/keyrings.h"
#include "kmod/modfile.h"
#include "kmod/sign.h"
#include "init/init-run.h"

/* What the host shows of the keys the kernel trusts. */
struct trusted {
	struct dk_proc_keys pk;
	char *pk_path, *pk_why; /* why nothing was read, NULL when read */
	struct dk_cert_ids *mok;
	size_t n_mok;
	char *mok_path, *mok_why;
};

static void trusted_release(struct trusted *t)
{
	dk_proc_keys_release(&t->pk);
	free(t->pk_path);
	free(t->pk_why);
	for (size_t i = 0; i < t->n_mok; i++)
		dk_cert_ids_release(&t->mok[i]);
	free(t->mok);
	free(t->mok_path);
	free(t->mok_why);
}

static int read_proc_keys(const struct dk_init *in, struct trusted *t)
{
	_cleanup_free_ char *buf = NULL;
	int r;

	t->pk_path = dk_path_join(in->m->procfs, "keys");
	if (!t->pk_path)
		return -ENOMEM;
	r = dk_read_file(t->pk_path, 4u << 20, &buf, NULL);
	if (r < 0)
		t->pk_why = dk_strdup_printf("%s: %s", t->pk_path, strerror(-r));
	else if ((r = dk_proc_keys_parse(buf, &t->pk)) < 0)
		return r;
	else if (!t->pk.n)
		t->pk_why = dk_strdup_printf("%s shows no asymmetric key to this reader",
					     t->pk_path);
	return 0;
}

/* efivarfs (4 bytes of attributes first), else the kernel's mok-variables copy. */
static int read_mok(const struct dk_init *in, struct trusted *t)
{
	_cleanup_free_ char *efivar = dk_strdup_printf(
		"%s/firmware/efi/efivars/" DK_MOKLIST_EFIVAR, in->m->sysfs);
	_cleanup_free_ char *mokvar =
		dk_strdup_printf("%s/firmware/efi/mok-variables/MokListRT", in->m->sysfs);
	_cleanup_free_ char *buf = NULL;
	_cleanup_free_ struct dk_efi_cert *certs = NULL;
	size_t len = 0, n_other = 0;
	bool attrs = true;
	int r, r2 = 0, n;

	if (!efivar || !mokvar)
		return -ENOMEM;
	r = dk_read_file(efivar, 1u << 20, &buf, &len);
	if (r < 0 && (r2 = dk_read_file(mokvar, 1u << 20, &buf, &len)) == 0)
		attrs = false, r = 0;
	t->mok_path = strdup(attrs ? efivar : mokvar);
	if (!t->mok_path)
		return -ENOMEM;
	if (r < 0) {
		t->mok_why = dk_strdup_printf("%s: %s; %s: %s", efivar, strerror(-r),
					      mokvar, strerror(-r2));
		return 0;
	}
	n = dk_efi_siglist_parse(buf, len, attrs, &certs, &n_other);
	if (n == -ENOMEM)
		return n;
	if (n < 0) {
		t->mok_why =
			dk_strdup_printf("%s: not an EFI signature list", t->mok_path);
		return 0;
	}
	t->mok = calloc(n ? (size_t)n : 1, sizeof(*t->mok));
	if (!t->mok)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		r = dk_cert_ids_der(certs[i].der, certs[i].len, &t->mok[t->n_mok]);
		if (r == -ENOMEM)
			return r;
		if (r < 0) {
			dk_cert_ids_release(&t->mok[t->n_mok]);
			continue;
		}
		t->n_mok++;
	}
	if (!t->n_mok)
		t->mok_why =
			dk_strdup_printf("%s holds no X.509 certificate", t->mok_path);
	return 0;
}

static bool eq(const char *a, const char *b)
{
	return a && b && streq(a, b);
}

/* A /proc/keys description is "CN: keyid" or, when O is not a prefix of CN, "O: CN:
 * keyid". */
static bool cn_matches(const char *desc, const char *cn)
{
	size_t dl = desc ? strlen(desc) : 0, cl = cn ? strlen(cn) : 0;

	if (!cl || cl > dl)
		return false;
	return streq(desc + dl - cl, cn) &&
	       (dl == cl || startswith(desc + dl - cl - 2, ": "));
}

/* Where the kernel shows a key: "/proc/keys", the MOK list path; NULL: nowhere. */
static const char *cert_trusted(const struct trusted *t, const struct dk_cert_ids *c)
{
	const char *id = c->skid ? c->skid : c->serial;

	for (size_t i = 0; i < t->pk.n; i++)
		if (eq(t->pk.keys[i].keyid, id))
			return t->pk_path;
	for (size_t i = 0; i < t->n_mok; i++)
		if ((c->skid && eq(t->mok[i].skid, c->skid)) ||
		    (eq(t->mok[i].serial, c->serial) && eq(t->mok[i].cn, c->cn)))
			return t->mok_path;
	return NULL;
}

/* A module signature names its signer by issuer CN and serial (or key id). /proc/keys
 * shows no serial: there the subject CN of a (self-signed) key is compared. */
static const char *sig_trusted(const struct trusted *t, const char *signer,
			       const char *keyid)
{
	for (size_t i = 0; i < t->pk.n; i++)
		if (eq(t->pk.keys[i].keyid, keyid) ||
		    cn_matches(t->pk.keys[i].cn, signer))
			return t->pk_path;
	for (size_t i = 0; i < t->n_mok; i++)
		if (eq(t->mok[i].skid, keyid) ||
		    (eq(t->mok[i].serial, keyid) && eq(t->mok[i].issuer_cn, signer)))
			return t->mok_path;
	return NULL;
}

/* "not among the 3 keys /proc/keys shows nor the 2 certificates enrolled in MOK
 * (path)", with why a source showed nothing. */
static char *where_looked(const struct trusted *t)
{
	struct strbuf b;

	strbuf_init(&b);
	if (t->pk_why)
		strbuf_printf(&b, "not in /proc/keys (%s)", t->pk_why);
	else
		strbuf_printf(&b, "not among the %zu asymmetric keys of %s", t->pk.n,
			      t->pk_path);
	if (t->mok_why)
		strbuf_printf(&b, " and no MOK list to compare with (%s)", t->mok_why);
	else
		strbuf_printf(&b, " nor the %zu certificates enrolled in MOK (%s)",
			      t->n_mok, t->mok_path);
	return strbuf_steal(&b);
}

#define ENROLL                                                                       \
	"enroll the certificate in MOK: `openssl x509 -in CERT -outform DER -out "   \
	"mok.der; mokutil --import mok.der` on the node, reboot and confirm in the " \
	"MOK manager"

static void check_cert(struct dk_init *in, const struct trusted *t)
{
	const struct dk_config_signing *cs = in->cfg->signing;
	_cleanup_(dk_X509_freep) X509 *cert = NULL;
	_cleanup_error_ struct dk_error *cerr = NULL;
	struct dk_cert_ids ids = {0};
	_cleanup_free_ char *looked = NULL;

	/* One that cannot be read is the signing phase's problem (dry run:
	 * check_signing). */
	if (dk_cert_load(cs->cert, &cert, &cerr) < 0 || dk_cert_ids_get(cert, &ids) < 0) {
		dk_cert_ids_release(&ids);
		return;
	}
	if (!cert_trusted(t, &ids)) {
		looked = where_looked(t);
		dk_problems_add(&in->problems, EKEYREJECTED, "untrusted-key", NULL, NULL,
				ENROLL " (CERT: the signing: cert), or sign with a key "
				       "the kernel already trusts",
				"%s: the kernel enforces module signatures (%s) and does "
				"not trust the signing certificate %s (CN '%s', key id "
				"%s): it is %s",
				PHASE(SIGN), in->enforcement ? in->enforcement : "",
				cs->cert, ids.cn ? ids.cn : "",
				ids.skid ? ids.skid : (ids.serial ? ids.serial : "?"),
				looked ? looked : "not found");
	}
	dk_cert_ids_release(&ids);
}

static int check_module(struct dk_init *in, size_t i, const struct trusted *t,
			struct dk_error **err)
{
	const struct dk_modfile *f = dk_init_file(in, i);
	const char *comp = in->d.mods[i].comp->name;
	struct dk_modsig_info info = {0};
	_cleanup_free_ char *keyid = NULL, *looked = NULL;
	int r;

	if (!dk_modfile_signature(f)) {
		dk_problems_add(
			&in->problems, EKEYREJECTED, "unsigned", comp, f->name,
			"configure signing: (key, cert) with a key the kernel "
			"trusts, e.g. one enrolled in MOK (`mokutil --import` on "
			"the node, reboot, confirm), or use modules signed by such "
			"a key",
			"%s: component %s: %s (%s) is unsigned and the kernel "
			"enforces module signatures (%s)",
			PHASE(CHECK), comp, f->name, f->path,
			in->enforcement ? in->enforcement : "");
		return 0;
	}
	r = dk_modfile_signature_info(f, &info, err);
	if (r < 0)
		return dk_error_wrap(err, "%s", PHASE(CHECK));
	keyid = dk_keyid_normalize(info.sig_key ? info.sig_key : "");
	if (!keyid) {
		dk_modsig_info_clear(&info);
		return dk_error_set(err, ENOMEM, "out of memory");
	}
	if (!sig_trusted(t, info.signer, keyid)) {
		looked = where_looked(t);
		dk_problems_add(&in->problems, EKEYREJECTED, "untrusted-key", comp,
				f->name,
				"configure signing: (key, cert) with a key the kernel "
				"trusts, or " ENROLL " (CERT: the certificate of that "
				"signer)",
				"%s: component %s: %s (%s) is signed by '%s' (key %s), "
				"which the kernel (%s) does not trust: it is %s",
				PHASE(CHECK), comp, f->name, f->path,
				info.signer ? info.signer : "", keyid,
				in->enforcement ? in->enforcement : "",
				looked ? looked : "not found");
	}
	dk_modsig_info_clear(&info);
	return 0;
}

int dk_init_trust(struct dk_init *in, struct dk_error **err)
{
	_cleanup_(trusted_release) struct trusted t = {0};
	bool inserts = false;
	int r;

	for (size_t i = 0; i < in->d.n_mods; i++)
		inserts |= dk_plan_act_inserts(in->d.mods[i].act);
	if (!in->enforcing || !inserts)
		return 0;
	r = read_proc_keys(in, &t);
	if (r >= 0)
		r = read_mok(in, &t);
	if (r < 0)
		return dk_error_set(err, -r, "%s: trusted keys: %s", PHASE(CHECK),
				    strerror(-r));
	/* Unsigned modules are refused whatever the kernel trusts. */
	if (!in->cfg->signing)
		for (size_t i = 0; i < in->d.n_mods; i++)
			if (dk_plan_act_inserts(in->d.mods[i].act) &&
			    !dk_modfile_signature(dk_init_file(in, i)))
				(void)check_module(in, i, &t, err);
	if (!t.pk.n && !t.n_mok) {
		dk_problems_add(
			&in->problems, 0, "trust-unknown", NULL, NULL,
			"give the pod the host's /proc (hostPID) and "
			"/sys/firmware/efi/efivars, or compare by hand: `keyctl "
			"show %:.builtin_trusted_keys`, `mokutil --list-enrolled`",
			"%s: the kernel enforces module signatures (%s), but which "
			"keys it trusts cannot be seen (%s; %s): whether it accepts "
			"our signatures shows only when loading",
			PHASE(CHECK), in->enforcement ? in->enforcement : "",
			t.pk_why ? t.pk_why : "", t.mok_why ? t.mok_why : "");
		return 0;
	}
	if (in->cfg->signing) {
		check_cert(in, &t);
		return 0;
	}
	for (size_t i = 0; i < in->d.n_mods; i++) {
		if (!dk_plan_act_inserts(in->d.mods[i].act) ||
		    !dk_modfile_signature(dk_init_file(in, i)))
			continue;
		r = check_module(in, i, &t, err);
		if (r < 0)
			return r;
	}
	return 0;
}
