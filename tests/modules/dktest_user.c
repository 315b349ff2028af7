// SPDX-License-Identifier: GPL-2.0
/* Test module depending on dktest_export through a symbol. */
#include <linux/init.h>
#include <linux/module.h>

int dktest_export_add(int a, int b);

static int __init dktest_user_init(void)
{
	pr_info("dktest_user: 2+3=%d\n", dktest_export_add(2, 3));
	return 0;
}

static void __exit dktest_user_exit(void)
{
}

module_init(dktest_user_init);
module_exit(dktest_user_exit);
MODULE_LICENSE("GPL");
MODULE_VERSION("0.1");
MODULE_DESCRIPTION("drvkit test module using dktest_export");
