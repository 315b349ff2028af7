// SPDX-License-Identifier: GPL-2.0
/* Test module exporting a symbol used by dktest_user. */
#include <linux/init.h>
#include <linux/module.h>

int dktest_export_add(int a, int b)
{
	return a + b;
}
EXPORT_SYMBOL_GPL(dktest_export_add);

static int __init dktest_export_init(void)
{
	return 0;
}

static void __exit dktest_export_exit(void)
{
}

module_init(dktest_export_init);
module_exit(dktest_export_exit);
MODULE_LICENSE("GPL");
MODULE_VERSION("0.1");
MODULE_DESCRIPTION("drvkit test module exporting a symbol");
