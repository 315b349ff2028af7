// SPDX-License-Identifier: GPL-2.0
/* Test module whose init refuses, as a driver does without its hardware (NVIDIA's
 * "NVRM: No NVIDIA GPU found." and ENODEV): one line naming the module, one that
 * does not, then -ENODEV. Nothing stays loaded. */
#include <linux/errno.h>
#include <linux/init.h>
#include <linux/module.h>

static int __init dktest_fail_init(void)
{
	pr_info("DKFAIL: probing for dktest hardware\n");
	pr_err("dktest_fail: no dktest device found\n");
	return -ENODEV;
}

static void __exit dktest_fail_exit(void)
{
}

module_init(dktest_fail_init);
module_exit(dktest_fail_exit);
MODULE_LICENSE("GPL");
MODULE_VERSION("0.1");
MODULE_AUTHOR("drvkit tests");
MODULE_DESCRIPTION("drvkit test module whose init fails with ENODEV");
