// SPDX-License-Identifier: GPL-2.0
/* Test module with a device node: a misc device /dev/dktest_hold. A process that
 * keeps it open keeps the module in use (refcnt 1, no holders), as a CUDA process
 * does with /dev/nvidia0. */
#include <linux/fs.h>
#include <linux/init.h>
#include <linux/miscdevice.h>
#include <linux/module.h>

static int dktest_hold_open(struct inode *inode, struct file *file)
{
	return 0;
}

static const struct file_operations dktest_hold_fops = {
	.owner = THIS_MODULE,
	.open = dktest_hold_open,
	.llseek = noop_llseek,
};

static struct miscdevice dktest_hold_dev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "dktest_hold",
	.fops = &dktest_hold_fops,
	.mode = 0444,
};

static int __init dktest_hold_init(void)
{
	return misc_register(&dktest_hold_dev);
}

static void __exit dktest_hold_exit(void)
{
	misc_deregister(&dktest_hold_dev);
}

module_init(dktest_hold_init);
module_exit(dktest_hold_exit);
MODULE_LICENSE("GPL");
MODULE_VERSION("0.1");
MODULE_DESCRIPTION("drvkit test module with a misc device node");
