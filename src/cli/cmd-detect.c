/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>

#include "host/detect.h"
#include "cli/cli.h"
#include "cli/detect-render.h"

static void help(void)
{
	printf("Usage: drvkit detect [--host-root DIR] [--sysfs DIR] [--procfs DIR]\n"
	       "                     [--kernel KVER] [--json]\n"
	       "\n"
	       "Report what a driver init decides from: kernel, OS, Driver Toolkit, "
	       "kernel\n"
	       "headers, module policy, NVIDIA/Mellanox PCI devices and loaded modules.\n"
	       "Sources that are missing or unreadable are reported as unknown with the\n"
	       "reason; the exit status is 0 unless the command line is bad (2).\n"
	       "\n"
	       "Options:\n"
	       "  --host-root DIR  the host filesystem (default /)\n"
	       "  --sysfs DIR      sysfs to read (default <host-root>/sys)\n"
	       "  --procfs DIR     procfs to read (default <host-root>/proc)\n"
	       "  --kernel KVER    kernel release (default "
	       "<procfs>/sys/kernel/osrelease,\n"
	       "                   else uname -r)\n"
	       "  --json           one JSON object instead of text\n"
	       "  -h, --help       this help\n"
	       "\n"
	       "JSON keys (unknown values are null; \"reason\" says why):\n"
	       "  kernel   {release, arch: {value,source,reason}, built_with: "
	       "{compiler,\n"
	       "           version,text,source,reason}, gcc_available: [{path,version,\n"
	       "           reason}], gcc_matching}\n"
	       "  os       {source, reason, id, id_like, name, pretty_name, version_id,\n"
	       "           version_major, version_minor (int), version_codename,\n"
	       "           variant_id, ostree_version, rhel_version,\n"
	       "           family: debian|rhel|suse|amzn|flatcar|unknown}\n"
	       "  dtk      {present, source, reason, kernel_version, rt_kernel_version,\n"
	       "           rhel_version, broken (bool|null), broken_reason}\n"
	       "  headers  {selected, candidates: [{kind: "
	       "build|source|debian|rhel|suse,\n"
	       "           path, resolved, exists, reason, uts_release,\n"
	       "           uts_release_matches (bool|null), uts_reason, config,\n"
	       "           module_symvers, config_gcc_version, "
	       "config_cc_version_text}]}\n"
	       "  policy   {sig_enforce, lockdown, secure_boot, module_unload, "
	       "modversions:\n"
	       "           {value, source, reason}}; value yes|no (lockdown: none|\n"
	       "           integrity|confidentiality; secure_boot no with reason \"not "
	       "EFI\")\n"
	       "  devices  {source, reason, pci: [{address, vendor, device, class,\n"
	       "           kind: gpu|nvswitch|mellanox, driver, numa_node (int|null)}]}\n"
	       "  modules  {source, reason, loaded: [{name, size, refcnt, state, "
	       "holders,\n"
	       "           version, srcversion}]}\n"
	       "  nvidia   {source, reason, flavour: open|proprietary, version, gcc}\n");
}

static int run(struct dk_ctx *ctx, int argc, char *argv[], struct dk_error **err)
{
	_cleanup_cli_ struct dk_cli cli = {"detect",
					   DK_CLI_HOST_ROOT | DK_CLI_SYSFS |
						   DK_CLI_PROCFS | DK_CLI_KERNEL |
						   DK_CLI_JSON,
					   help, ctx, .no_operands = true};
	struct json_writer *w;
	struct dk_detect d;
	int r;

	if (!dk_cli_parse(&cli, NULL, argc, argv))
		return cli.exit;
	if (!ctx->host_root[0] || (ctx->sysfs && !ctx->sysfs[0]) ||
	    (ctx->procfs && !ctx->procfs[0]) || (ctx->kernel && !ctx->kernel[0]))
		return dk_usage_error("detect", "empty option value");

	r = dk_detect_run(ctx, &d, err);
	if (r < 0) {
		dk_detect_free(&d);
		return r;
	}
	w = dk_output_begin(&cli.out);
	if (w)
		dk_detect_render_json(w, &d);
	else
		dk_detect_render_text(stdout, &d);
	dk_detect_free(&d);
	r = dk_output_end(&cli.out, err);
	return r < 0 ? r : DK_EXIT_OK;
}

const struct dk_cmd dk_cmd_detect = {"detect",
				     "report kernel, OS, headers, policy, devices", run};
