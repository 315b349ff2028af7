// SPDX-License-Identifier: GPL-2.0
/* Peer-memory-like consumer: registers itself with the dkprov provider. */
#include <linux/init.h>
#include <linux/module.h>

#include <dkprov.h>

static int dkcons_notify(struct dkprov_client *client, int event)
{
	pr_info("dkcons: event %d\n", event);
	return 0;
}

static struct dkprov_client dkcons_client = {
	.name = "dkcons",
	.notify = dkcons_notify,
};

static int __init dkcons_init(void)
{
	return dkprov_register_client(&dkcons_client);
}

static void __exit dkcons_exit(void)
{
	dkprov_unregister_client(&dkcons_client);
}

module_init(dkcons_init);
module_exit(dkcons_exit);
MODULE_LICENSE("GPL");
MODULE_VERSION("1.0");
MODULE_DESCRIPTION("drvkit test consumer (peer-memory-like)");
