/* SPDX-License-Identifier: GPL-2.0 */
/* The provider's API, as OFED ships <rdma/ib_verbs.h>: consumers build against it. */
#ifndef DKPROV_H
#define DKPROV_H

/* The API revision. Tests change it to 2 in a copy of this tree: the layout of
 * struct dkprov_client changes, so the CRC genksyms computes for
 * dkprov_register_client changes too (CONFIG_MODVERSIONS), as an OFED upgrade
 * changes ib_register_peer_memory_client's. Consumers build unchanged against
 * either revision. */
#define DKPROV_API 1

struct dkprov_client {
	const char *name;
#if DKPROV_API >= 2
	unsigned long flags;
#endif
	int (*notify)(struct dkprov_client *client, int event);
};

int dkprov_register_client(struct dkprov_client *client);
void dkprov_unregister_client(struct dkprov_client *client);

#endif
