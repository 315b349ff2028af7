/* SPDX-License-Identifier: Apache-2.0 */
/* NVIDIA and Mellanox PCI functions under <sysfs>/bus/pci/devices. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared/cleanup.h"

#include "base/fsutil.h"
#include "host/detect-internal.h"

#define PCI_VENDOR_NVIDIA 0x10de
#define PCI_VENDOR_MELLANOX 0x15b3

static int read_hex(struct dk_det *d, const char *dev, const char *attr, unsigned *out)
{
	_cleanup_free_ char *path = dk_det_fmt(d, "%s/%s", dev, attr);
	_cleanup_free_ char *line = NULL;
	unsigned long v;
	char *end = NULL;
	int r;

	r = dk_det_read_line(d, path, &line);
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

static void read_device(struct dk_det *d, const char *dev, struct dk_pci_dev *p)
{
	_cleanup_free_ char *link = dk_det_fmt(d, "%s/driver", dev);
	_cleanup_free_ char *numa_path = dk_det_fmt(d, "%s/numa_node", dev);
	_cleanup_free_ char *numa = NULL;
	char target[PATH_MAX];
	ssize_t n;

	n = link ? readlink(link, target, sizeof(target) - 1) : -1;
	if (n > 0) {
		const char *base;

		target[n] = '\0';
		base = strrchr(target, '/');
		p->driver = dk_det_strdup(d, base ? base + 1 : target);
	}
	if (dk_det_read_line(d, numa_path, &numa) == 0) {
		char *end = NULL;
		long v;

		errno = 0;
		v = strtol(numa, &end, 10);
		if (!errno && end != numa && !*end && v >= -1 && v < INT_MAX) {
			p->numa_known = true;
			p->numa_node = (int)v;
		}
	}
}

static int cmp_dev(const void *a, const void *b)
{
	const struct dk_pci_dev *x = a, *y = b;

	return strcmp(x->address, y->address);
}

void dk_detect_pci(struct dk_det *d, struct dk_detect_devices *out)
{
	_cleanup_closedir_ DIR *dir = NULL;
	struct dirent *de;

	out->source = dk_det_fmt(d, "%s/bus/pci/devices", d->sysfs);
	if (!out->source)
		return;
	dir = opendir(out->source);
	if (!dir) {
		out->reason = dk_det_errtext(d, out->source, errno);
		return;
	}
	while ((de = readdir(dir))) {
		_cleanup_free_ char *dev = NULL;
		unsigned vendor = 0, device = 0, class_code = 0;
		struct dk_pci_dev *nv;
		const char *kind;

		if (de->d_name[0] == '.')
			continue;
		dev = dk_det_fmt(d, "%s/%s", out->source, de->d_name);
		if (!dev || read_hex(d, dev, "vendor", &vendor) < 0 ||
		    read_hex(d, dev, "class", &class_code) < 0)
			continue;
		kind = kind_of(vendor, class_code);
		if (!kind)
			continue;
		(void)read_hex(d, dev, "device", &device);
		nv = realloc(out->v, (out->n + 1) * sizeof(*nv));
		if (!nv) {
			d->oom = true;
			return;
		}
		out->v = nv;
		nv = &out->v[out->n];
		memset(nv, 0, sizeof(*nv));
		nv->address = dk_det_strdup(d, de->d_name);
		if (!nv->address)
			return;
		nv->vendor = vendor;
		nv->device = device;
		nv->class_code = class_code;
		nv->kind = kind;
		nv->numa_node = -1;
		out->n++;
		read_device(d, dev, nv);
	}
	if (out->n > 1)
		qsort(out->v, out->n, sizeof(*out->v), cmp_dev);
}
