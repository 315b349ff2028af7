// SPDX-License-Identifier: GPL-2.0
/* Test module with parameters of several types. */
#include <linux/init.h>
#include <linux/module.h>
#include <linux/moduleparam.h>

static int count = 3;
module_param(count, int, 0444);
MODULE_PARM_DESC(count, "How many widgets");

static char *label = "default";
module_param(label, charp, 0444);
MODULE_PARM_DESC(label, "Label shown in the log");

static bool enable;
module_param(enable, bool, 0644);
MODULE_PARM_DESC(enable, "Enable the feature");

static int __init dktest_params_init(void)
{
	pr_info("dktest_params: count=%d label=%s enable=%d\n", count, label, enable);
	return 0;
}

static void __exit dktest_params_exit(void)
{
	pr_info("dktest_params: bye\n");
}

module_init(dktest_params_init);
module_exit(dktest_params_exit);
MODULE_LICENSE("GPL");
MODULE_VERSION("1.2.3");
MODULE_AUTHOR("drvkit tests");
MODULE_DESCRIPTION("drvkit test module with parameters");
MODULE_ALIAS("dktest-params-alias");
