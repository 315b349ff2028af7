/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The keys the kernel trusts for module signatures, as far as the host shows them:
 * the asymmetric keys of /proc/keys (the builtin, secondary, platform and machine
 * keyrings, where the reader may view them) and the certificates enrolled in MOK
 * (the MokListRT EFI variable). Reading only: certificates are handed over as DER
 * for kmod to take apart. */

#include <stdbool.h>
#include <stddef.h>

#include "shared/macro.h"

#define DK_MOKLIST_EFIVAR "MokListRT-605dab50-e046-4300-abb6-3dd810dd8b23"

/* One asymmetric key of /proc/keys, its description "CN: keyid". */
struct dk_proc_key {
	char *cn;    /* "Debian Secure Boot CA" */
	char *keyid; /* lower-case hex, no colons: the certificate's subject key
		      * identifier (or its serial when it has none) */
};

struct dk_proc_keys {
	struct dk_proc_key *keys;
	size_t n;
	char **keyrings; /* the keyrings shown (".builtin_trusted_keys", ...) */
	size_t n_keyrings;
};

/* Parses /proc/keys text: keys of type asymmetric ("asymmetri", the column is 9
 * wide) and the names of keyrings; other lines are skipped. Returns 0 or -ENOMEM
 * (release *out in both cases). */
int dk_proc_keys_parse(const char *text, struct dk_proc_keys *out) _must_check_;
void dk_proc_keys_release(struct dk_proc_keys *k);

/* A DER certificate of an EFI signature list (points into the parsed buffer). */
struct dk_efi_cert {
	const unsigned char *der;
	size_t len;
};

/* Parses EFI_SIGNATURE_LISTs (the MOK list), keeping their X.509 entries (other types,
 * e.g. SHA-256 hashes, are counted in *n_other). with_attributes: the data starts
 * with the 4-byte attributes of an efivarfs file (/sys/firmware/efi/efivars);
 * without: /sys/firmware/efi/mok-variables. *out points into data. Returns the number
 * of certificates, -EBADMSG for a list whose sizes do not fit, -ENOMEM. */
int dk_efi_siglist_parse(const void *data, size_t len, bool with_attributes,
			 struct dk_efi_cert **out, size_t *n_other) _must_check_;

/* "ab:CD:01" or "abCD01" -> "abcd01" (hex digits only, lower case); NULL on OOM. */
char *dk_keyid_normalize(const char *s) _must_check_;
