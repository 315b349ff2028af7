// SPDX-License-Identifier: GPL-2.0
/* OFED-like provider module: exports a client registration API. */
#include <linux/init.h>
#include <linux/module.h>

#include <dkprov.h>

static struct dkprov_client *dkprov_client;

int dkprov_register_client(struct dkprov_client *client)
{
	if (dkprov_client)
		return -EBUSY;
	dkprov_client = client;
	pr_info("dkprov: client %s registered (API %d)\n", client->name, DKPROV_API);
	return 0;
}
EXPORT_SYMBOL(dkprov_register_client);

void dkprov_unregister_client(struct dkprov_client *client)
{
	if (dkprov_client == client)
		dkprov_client = NULL;
}
EXPORT_SYMBOL(dkprov_unregister_client);

static int __init dkprov_init(void)
{
	pr_info("dkprov: provider API %d\n", DKPROV_API);
	return 0;
}

static void __exit dkprov_exit(void)
{
}

module_init(dkprov_init);
module_exit(dkprov_exit);
MODULE_LICENSE("GPL");
MODULE_VERSION("1.0");
MODULE_DESCRIPTION("drvkit test provider (OFED-like)");
