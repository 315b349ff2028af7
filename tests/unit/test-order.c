/* SPDX-License-Identifier: Apache-2.0 */
/* Dependency ordering: depends= wins over the given order, cycles and missing
 * dependencies are named. */
#include <errno.h>
#include <string.h>

#include "base/error.h"
#include "kmod/order.h"

#include "tap.h"

static bool external_ib_core(void *userdata, const char *dep)
{
	return strcmp(dep, "ib_core") == 0;
}

static const char *names_in_order(const struct dk_order_node *n, const size_t *order,
				  size_t count)
{
	static char buf[256];

	buf[0] = '\0';
	for (size_t i = 0; i < count; i++) {
		if (i)
			strcat(buf, " ");
		strcat(buf, n[order[i]].name);
	}
	return buf;
}

static void test_nvidia_set(void)
{
	static const char *const drm_deps[] = {"nvidia_modeset", "nvidia"};
	static const char *const modeset_deps[] = {"nvidia"};
	static const char *const uvm_deps[] = {"nvidia"};
	static const char *const peermem_deps[] = {"nvidia", "ib_core"};
	/* given in reverse: order must still put providers first */
	const struct dk_order_node n[] = {
		{"nvidia_peermem", peermem_deps, 2},
		{"nvidia_drm", drm_deps, 2},
		{"nvidia_uvm", uvm_deps, 1},
		{"nvidia_modeset", modeset_deps, 1},
		{"nvidia", NULL, 0},
	};
	size_t order[5];
	_cleanup_error_ struct dk_error *err = NULL;
	int r = dk_order_resolve(n, 5, external_ib_core, NULL, order, &err);

	is_int(r, 0, "nvidia set orders");
	is_str(names_in_order(n, order, 5),
	       "nvidia nvidia_peermem nvidia_modeset nvidia_drm nvidia_uvm",
	       "providers first, otherwise the given order");
}

static void test_given_order_kept(void)
{
	const struct dk_order_node n[] = {{"b", NULL, 0}, {"a", NULL, 0}, {"c", NULL, 0}};
	size_t order[3];
	_cleanup_error_ struct dk_error *err = NULL;

	is_int(dk_order_resolve(n, 3, NULL, NULL, order, &err), 0, "independent set");
	is_str(names_in_order(n, order, 3), "b a c", "given order kept without depends");
}

static void test_user_before_export(void)
{
	static const char *const user_deps[] = {"dktest_export"};
	const struct dk_order_node n[] = {
		{"dktest_user", user_deps, 1},
		{"dktest_params", NULL, 0},
		{"dktest_export", NULL, 0},
	};
	size_t order[3];
	_cleanup_error_ struct dk_error *err = NULL;

	is_int(dk_order_resolve(n, 3, NULL, NULL, order, &err), 0, "test modules order");
	is_str(names_in_order(n, order, 3), "dktest_export dktest_user dktest_params",
	       "dktest_export before dktest_user");
}

static void test_cycle(void)
{
	static const char *const a_deps[] = {"b"};
	static const char *const b_deps[] = {"c"};
	static const char *const c_deps[] = {"a"};
	const struct dk_order_node n[] = {
		{"a", a_deps, 1}, {"b", b_deps, 1}, {"c", c_deps, 1}};
	size_t order[3];
	_cleanup_error_ struct dk_error *err = NULL;
	int r = dk_order_resolve(n, 3, NULL, NULL, order, &err);

	is_int(r, -ELOOP, "cycle fails with ELOOP");
	ok(err && strstr(err->msg, "a -> b -> c -> a"), "cycle is named: %s",
	   err ? err->msg : "");
}

static void test_self_cycle(void)
{
	static const char *const a_deps[] = {"a"};
	const struct dk_order_node n[] = {{"a", a_deps, 1}};
	size_t order[1];
	_cleanup_error_ struct dk_error *err = NULL;

	is_int(dk_order_resolve(n, 1, NULL, NULL, order, &err), -ELOOP,
	       "self dependency is a cycle");
}

static void test_missing(void)
{
	static const char *const a_deps[] = {"ib_core", "mlx_compat"};
	const struct dk_order_node n[] = {{"mlx5_core", a_deps, 2}};
	size_t order[1];
	_cleanup_error_ struct dk_error *err = NULL;
	int r = dk_order_resolve(n, 1, external_ib_core, NULL, order, &err);

	is_int(r, -ENOENT, "missing dependency fails with ENOENT");
	ok(err && strstr(err->msg, "mlx5_core depends on mlx_compat"),
	   "missing dependency is named: %s", err ? err->msg : "");
	dk_error_free(&err);
	r = dk_order_resolve(n, 1, NULL, NULL, order, &err);
	ok(r == -ENOENT && err && strstr(err->msg, "ib_core"),
	   "without a host tree the first missing one is named");
}

static void test_duplicate(void)
{
	const struct dk_order_node n[] = {{"a", NULL, 0}, {"a", NULL, 0}};
	size_t order[2];
	_cleanup_error_ struct dk_error *err = NULL;

	is_int(dk_order_resolve(n, 2, NULL, NULL, order, &err), -EINVAL,
	       "a module given twice is refused");
}

int main(void)
{
	test_nvidia_set();
	test_given_order_kept();
	test_user_before_export();
	test_cycle();
	test_self_cycle();
	test_missing();
	test_duplicate();
	return tap_done();
}
