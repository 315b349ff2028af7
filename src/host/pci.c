/* SPDX-License-Identifier: Apache-2.0 */
/* NVIDIA and Mellanox PCI functions under <sysfs>/bus/pci/devices. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "base/fsutil.h"
#include "host/pci.h"

#define PCI_VENDOR_NVIDIA 0x10de
#define PCI_VENDOR_MELLANOX 0x15b3

/* -ENOMEM, another -errno when absent or not hex. */
static int read_hex(const char *dev, const char *attr, unsigned *out)
{
	_cleanup_free_ char *path = dk_path_join(dev, attr);
	_cleanup_free_ char *line = NULL;
	unsigned long v;
	char *end = NULL;
	int r;

	if (!path)
		return -ENOMEM;
	r = dk_read_line(path, &line);
	if (r < 0)
		return r;
	errno = 0;
	v = strtoul(line, &end, 16);
	if (errno || end == line || *end || v > UINT_MAX)
		return -EBADMSG;
	*out = (unsigned)v;
	return 0;
}

/* NULL when the function is of no interest. */
static const char *kind_of(unsigned vendor, unsigned class_code)
{
	if (vendor == PCI_VENDOR_MELLANOX)
		return "mellanox";
	if (vendor != PCI_VENDOR_NVIDIA)
		return NULL;
	if ((class_code >> 16) == 0x03)
		return "gpu";
	if ((class_code >> 8) == 0x0680)
		return "nvswitch";
	return NULL; /* audio, USB-C controllers on consumer boards */
}

static int read_device(const char *dev, struct dk_pci_dev *p)
{
	_cleanup_free_ char *link = dk_path_join(dev, "driver");
	_cleanup_free_ char *numa_path = dk_path_join(dev, "numa_node");
	_cleanup_free_ char *numa = NULL;
	int r;

	if (!link || !numa_path)
		return -ENOMEM;
	if (dk_readlink_base(link, &p->driver) == -ENOMEM)
		return -ENOMEM;
	r = dk_read_line(numa_path, &numa);
	if (r == -ENOMEM)
		return r;
	if (r == 0) {
		char *end = NULL;
		long v;

		errno = 0;
		v = strtol(numa, &end, 10);
		if (!errno && end != numa && !*end && v >= -1 && v < INT_MAX) {
			p->numa_known = true;
			p->numa_node = (int)v;
		}
	}
	return 0;
}

static int cmp_dev(const void *a, const void *b)
{
	const struct dk_pci_dev *x = a, *y = b;

	return strcmp(x->address, y->address);
}

/* Adds the function dev (named name) when it is of interest. */
static int add_device(struct dk_detect_devices *out, const char *dev, const char *name)
{
	unsigned vendor = 0, device = 0, class_code = 0;
	struct dk_pci_dev *nv;
	const char *kind;
	int r;

	r = read_hex(dev, "vendor", &vendor);
	if (r == 0)
		r = read_hex(dev, "class", &class_code);
	if (r < 0)
		return r == -ENOMEM ? r : 0;
	kind = kind_of(vendor, class_code);
	if (!kind)
		return 0;
	if (read_hex(dev, "device", &device) == -ENOMEM)
		return -ENOMEM;
	nv = realloc(out->v, (out->n + 1) * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	out->v = nv;
	nv = &out->v[out->n];
	memset(nv, 0, sizeof(*nv));
	nv->address = strdup(name);
	if (!nv->address)
		return -ENOMEM;
	nv->vendor = vendor;
	nv->device = device;
	nv->class_code = class_code;
	nv->kind = kind;
	nv->numa_node = -1;
	out->n++;
	return read_device(dev, nv);
}

int dk_pci_devices_read(const char *sysfs, struct dk_detect_devices *out)
{
	_cleanup_closedir_ DIR *dir = NULL;
	struct dirent *de;
	int r = 0;

	memset(out, 0, sizeof(*out));
	out->source = dk_strdup_printf("%s/bus/pci/devices", sysfs);
	if (!out->source)
		return -ENOMEM;
	dir = opendir(out->source);
	if (!dir) {
		out->reason = dk_strdup_printf("%s: %s", out->source, strerror(errno));
		return out->reason ? 0 : -ENOMEM;
	}
	while (r >= 0 && (de = readdir(dir))) {
		_cleanup_free_ char *dev = NULL;

		if (de->d_name[0] == '.')
			continue;
		dev = dk_path_join(out->source, de->d_name);
		r = dev ? add_device(out, dev, de->d_name) : -ENOMEM;
	}
	if (out->n > 1)
		qsort(out->v, out->n, sizeof(*out->v), cmp_dev);
	return r;
}

void dk_pci_devices_free(struct dk_detect_devices *dv)
{
	for (size_t i = 0; i < dv->n; i++) {
		free(dv->v[i].address);
		free(dv->v[i].driver);
	}
	free(dv->v);
	free(dv->source);
	free(dv->reason);
	memset(dv, 0, sizeof(*dv));
}
