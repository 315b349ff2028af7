/* SPDX-License-Identifier: Apache-2.0 */
/* The daemons: list, daemon_stop_order:, validation: and their defaults. */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "shared/cleanup.h"

#include "base/yaml.h"
#include "config/config.h"

#define READY_INTERVAL_MS 1000
#define READY_TIMEOUT_MS 10000
#define BACKOFF_INITIAL_MS 1000
#define BACKOFF_MAX_MS 60000
#define STOP_TIMEOUT_MS 10000
#define VALIDATION_TIMEOUT_MS 60000
#define VALIDATION_INTERVAL_MS 5000
#define DURATION_MAX_MS (24 * 3600 * 1000)

const char *dk_restart_policy_str(enum dk_restart_policy p)
{
	switch (p) {
	case DK_RESTART_ALWAYS:
		return "always";
	case DK_RESTART_ON_FAILURE:
		return "on-failure";
	case DK_RESTART_NEVER:
		return "never";
	}
	return "?";
}

/* "250ms", "10s", "2m", or a bare number of seconds; min_ms..DURATION_MAX_MS. */
static int get_duration(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
			const char *key, long min_ms, int *out)
{
	const char *s = dk_yaml_scalar(n);
	char *end;
	long v, mult = 1000;

	if (!s || n->kind != DK_YAML_SCALAR || !*s || !(*s >= '0' && *s <= '9'))
		goto bad;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || v > DURATION_MAX_MS)
		goto bad;
	if (streq(end, "ms"))
		mult = 1;
	else if (streq(end, "m"))
		mult = 60000;
	else if (*end && !streq(end, "s"))
		goto bad;
	if (v * mult < min_ms || v * mult > DURATION_MAX_MS)
		return dk_yaml_fail(w, n, key, "'%s' is out of range (%ld ms to 24 h)", s,
				    min_ms);
	*out = (int)(v * mult);
	return 0;
bad:
	return dk_yaml_fail(w, n, key,
			    "expected a duration (250ms, 10s, 2m; a bare number is "
			    "seconds), got '%s'",
			    s ? s : dk_yaml_kind_name(n));
}

#define DURATION_FIELD(type, field, min)                                               \
	static int set_##type##_##field(struct dk_yaml_walk *w,                        \
					const struct dk_yaml_node *n, const char *key, \
					void *obj)                                     \
	{                                                                              \
		return get_duration(w, n, key, min, &((struct type *)obj)->field);     \
	}
DURATION_FIELD(dk_config_ready, interval_ms, 10)
DURATION_FIELD(dk_config_ready, timeout_ms, 10)
DURATION_FIELD(dk_config_validation, interval_ms, 10)
DURATION_FIELD(dk_config_validation, timeout_ms, 10)
DURATION_FIELD(dk_config_daemon, backoff_initial_ms, 10)
DURATION_FIELD(dk_config_daemon, backoff_max_ms, 10)
DURATION_FIELD(dk_config_daemon, stop_timeout_ms, 0)

/* An argv: at least one non-empty item. */
static int get_argv(struct dk_yaml_walk *w, const struct dk_yaml_node *n, const char *key,
		    char ***argv, size_t *n_argv)
{
	int r = dk_yaml_get_list(w, n, key, "arguments (an argv, never a shell line)",
				 NULL, argv, n_argv);

	if (r < 0)
		return r;
	if (*n_argv == 0)
		return dk_yaml_fail(w, n, key, "expected at least the program");
	return 0;
}

/* ---- ready ---- */

static int set_ready_command(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
			     const char *key, void *obj)
{
	struct dk_config_ready *rd = obj;

	rd->kind = DK_READY_COMMAND;
	return get_argv(w, n, key, &rd->argv, &rd->n_argv);
}

static int set_ready_path(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
			  const char *key, struct dk_config_ready *rd,
			  enum dk_ready_kind kind)
{
	rd->kind = kind;
	return dk_yaml_get_path(w, n, key, &rd->path);
}

static int set_ready_file(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
			  const char *key, void *obj)
{
	return set_ready_path(w, n, key, obj, DK_READY_FILE);
}

static int set_ready_unix(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
			  const char *key, void *obj)
{
	return set_ready_path(w, n, key, obj, DK_READY_UNIX);
}

/* host:port, [v6]:port */
static int set_ready_tcp(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
			 const char *key, void *obj)
{
	struct dk_config_ready *rd = obj;
	_cleanup_free_ char *s = NULL;
	char *colon, *end, *host;
	long port;
	int r = dk_yaml_get_string(w, n, key, &s);

	if (r < 0)
		return r;
	colon = strrchr(s, ':');
	if (!colon || colon == s)
		goto bad;
	*colon = '\0';
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno || *end || end == colon + 1 || port < 1 || port > 65535)
		goto bad;
	host = s;
	if (*host == '[' && colon[-1] == ']') {
		host++;
		colon[-1] = '\0';
	}
	rd->kind = DK_READY_TCP;
	rd->port = (int)port;
	rd->host = strdup(host);
	return rd->host ? 0 : dk_error_set(w->err, ENOMEM, "out of memory");
bad:
	return dk_yaml_fail(w, n, key,
			    "expected HOST:PORT (127.0.0.1:5555, [::1]:5555, "
			    "localhost:5555)");
}

static const struct dk_yaml_field ready_fields[] = {
	{.name = "command", .set = set_ready_command},
	{.name = "file", .set = set_ready_file},
	{.name = "unix", .set = set_ready_unix},
	{.name = "tcp", .set = set_ready_tcp},
	{.name = "interval", .set = set_dk_config_ready_interval_ms},
	{.name = "timeout", .set = set_dk_config_ready_timeout_ms},
};

static int set_ready(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
		     const char *key, void *obj)
{
	struct dk_config_daemon *d = obj;
	int kinds = 0, r;

	if (n->kind != DK_YAML_MAPPING)
		return dk_yaml_fail(w, n, key,
				    "expected a mapping with one of command, file, "
				    "unix, tcp; got %s",
				    dk_yaml_kind_name(n));
	r = dk_yaml_walk_mapping(w, n, key, ready_fields, ARRAY_SIZE(ready_fields),
				 &d->ready);
	if (r < 0)
		return r;
	for (size_t i = 0; i < 4; i++)
		kinds += dk_yaml_get(n, ready_fields[i].name) != NULL;
	if (kinds != 1)
		return dk_yaml_fail(w, n, key,
				    "give exactly one of command, file, unix, tcp "
				    "(%d given)",
				    kinds);
	return 0;
}

/* ---- restart, stop, when, user ---- */

static int set_policy(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
		      const char *key, void *obj)
{
	struct dk_config_daemon *d = obj;
	const char *s = dk_yaml_scalar(n);

	for (int p = DK_RESTART_ALWAYS; p <= DK_RESTART_NEVER; p++)
		if (s && n->kind == DK_YAML_SCALAR &&
		    streq(s, dk_restart_policy_str((enum dk_restart_policy)p))) {
			d->restart = (enum dk_restart_policy)p;
			return 0;
		}
	return dk_yaml_fail(w, n, key, "expected always, on-failure or never, got '%s'",
			    s ? s : dk_yaml_kind_name(n));
}

static const struct dk_yaml_field restart_fields[] = {
	{.name = "policy", .set = set_policy},
	{.name = "initial", .set = set_dk_config_daemon_backoff_initial_ms},
	{.name = "max", .set = set_dk_config_daemon_backoff_max_ms},
};

/* restart: on-failure, or restart: { policy: ..., initial: 1s, max: 1m } */
static int set_restart(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
		       const char *key, void *obj)
{
	struct dk_config_daemon *d = obj;
	int r;

	if (n->kind == DK_YAML_SCALAR)
		return set_policy(w, n, key, obj);
	r = dk_yaml_walk_mapping(w, n, key, restart_fields, ARRAY_SIZE(restart_fields),
				 obj);
	if (r >= 0 && d->backoff_initial_ms > d->backoff_max_ms)
		return dk_yaml_fail(w, n, key, "initial (%d ms) is above max (%d ms)",
				    d->backoff_initial_ms, d->backoff_max_ms);
	return r;
}

static int set_stop_signal(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
			   const char *key, void *obj)
{
	struct dk_config_daemon *d = obj;
	const char *s = dk_yaml_scalar(n);

	if (s && n->kind == DK_YAML_SCALAR) {
		const char *name = strncmp(s, "SIG", 3) == 0 ? s + 3 : s;

		for (int sig = 1; sig < SIGRTMIN; sig++) {
			const char *abbrev = sigabbrev_np(sig);

			if (abbrev && streq(abbrev, name) && sig != SIGKILL &&
			    sig != SIGSTOP) {
				d->stop_signal = sig;
				return 0;
			}
		}
	}
	return dk_yaml_fail(w, n, key,
			    "expected a signal name (SIGTERM, SIGINT, SIGQUIT, ...; "
			    "not SIGKILL, which follows the timeout anyway), got '%s'",
			    s ? s : dk_yaml_kind_name(n));
}

static const struct dk_yaml_field stop_fields[] = {
	{.name = "signal", .set = set_stop_signal},
	{.name = "timeout", .set = set_dk_config_daemon_stop_timeout_ms},
};

static int set_stop(struct dk_yaml_walk *w, const struct dk_yaml_node *n, const char *key,
		    void *obj)
{
	return dk_yaml_walk_mapping(w, n, key, stop_fields, ARRAY_SIZE(stop_fields), obj);
}

static const struct dk_yaml_field when_fields[] = {
	{.name = "path_exists",
	 .type = DK_YAML_PATH,
	 .offset = offsetof(struct dk_config_when, path_exists)},
	{.name = "path_not_empty",
	 .type = DK_YAML_PATH,
	 .offset = offsetof(struct dk_config_when, path_not_empty)},
};

static int set_when(struct dk_yaml_walk *w, const struct dk_yaml_node *n, const char *key,
		    void *obj)
{
	struct dk_config_daemon *d = obj;

	return dk_yaml_walk_mapping(w, n, key, when_fields, ARRAY_SIZE(when_fields),
				    &d->when);
}

static bool all_digits(const char *s, const char *end)
{
	if (s == end)
		return false;
	for (; s < end; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* A user name (looked up when the daemon starts), or uid:gid. */
static int set_user(struct dk_yaml_walk *w, const struct dk_yaml_node *n, const char *key,
		    void *obj)
{
	struct dk_config_daemon *d = obj;
	_cleanup_free_ char *s = NULL;
	const char *colon;
	int r = dk_yaml_get_string(w, n, key, &s);

	if (r < 0)
		return r;
	colon = strchr(s, ':');
	if (colon) {
		if (!all_digits(s, colon) ||
		    !all_digits(colon + 1, colon + strlen(colon)) || strlen(s) > 21)
			return dk_yaml_fail(w, n, key,
					    "expected a user name or UID:GID (numbers), "
					    "got '%s'",
					    s);
		d->uid = (unsigned)strtoul(s, NULL, 10);
		d->gid = (unsigned)strtoul(colon + 1, NULL, 10);
		d->has_ids = true;
		return 0;
	}
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == '/' || *p == 0x7f)
			return dk_yaml_fail(w, n, key, "'%s' is not a user name", s);
	d->user = TAKE_PTR(s);
	return 0;
}

/* ---- one daemon ---- */

static int set_daemon_name(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
			   const char *key, void *obj)
{
	struct dk_config_daemon *d = obj;
	int r = dk_yaml_get_string(w, n, key, &d->name);

	if (r < 0)
		return r;
	for (const char *p = d->name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' || *p == '.'))
			return dk_yaml_fail(w, n, key,
					    "'%s' is not a daemon name (letters, digits, "
					    "'.', '_' and '-')",
					    d->name);
	if (strlen(d->name) > 64)
		return dk_yaml_fail(w, n, key, "longer than 64 characters");
	return 0;
}

static int set_daemon_argv(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
			   const char *key, void *obj)
{
	struct dk_config_daemon *d = obj;

	return get_argv(w, n, key, &d->argv, &d->n_argv);
}

static int set_daemon_env(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
			  const char *key, void *obj)
{
	struct dk_config_daemon *d = obj;
	int r = dk_yaml_get_list(w, n, key, "NAME=value", NULL, &d->env, &d->n_env);

	for (size_t i = 0; r >= 0 && i < d->n_env; i++) {
		const char *eq = strchr(d->env[i], '=');

		if (!eq || eq == d->env[i])
			return dk_yaml_fail(w, n->items[i], key,
					    "expected NAME=value, got '%s'", d->env[i]);
	}
	return r;
}

static const struct dk_yaml_field daemon_fields[] = {
	{.name = "name", .required = true, .set = set_daemon_name},
	{.name = "argv", .required = true, .set = set_daemon_argv},
	{.name = "env", .set = set_daemon_env},
	{.name = "user", .set = set_user},
	{.name = "ready", .set = set_ready},
	{.name = "required",
	 .type = DK_YAML_BOOL,
	 .offset = offsetof(struct dk_config_daemon, required)},
	{.name = "restart", .set = set_restart},
	{.name = "stop", .set = set_stop},
	{.name = "when", .set = set_when},
};

static void daemon_defaults(struct dk_config_daemon *d, int line)
{
	d->line = line;
	d->required = true;
	d->restart = DK_RESTART_ALWAYS;
	d->backoff_initial_ms = BACKOFF_INITIAL_MS;
	d->backoff_max_ms = BACKOFF_MAX_MS;
	d->stop_signal = SIGTERM;
	d->stop_timeout_ms = STOP_TIMEOUT_MS;
	d->ready.interval_ms = READY_INTERVAL_MS;
	d->ready.timeout_ms = READY_TIMEOUT_MS;
}

int dk_config_set_daemons(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
			  const char *key, void *obj)
{
	struct dk_config *cfg = obj;

	if (dk_yaml_is_null(n))
		return 0;
	if (n->kind != DK_YAML_SEQUENCE)
		return dk_yaml_fail(w, n, key, "expected a list of daemons, got %s",
				    dk_yaml_kind_name(n));
	if (n->n > DK_CONFIG_MAX_DAEMONS)
		return dk_yaml_fail(w, n, key, "%zu daemons: at most %d are allowed",
				    n->n, DK_CONFIG_MAX_DAEMONS);
	cfg->daemons = calloc(n->n ? n->n : 1, sizeof(*cfg->daemons));
	if (!cfg->daemons)
		return dk_error_set(w->err, ENOMEM, "out of memory");
	for (size_t i = 0; i < n->n; i++) {
		struct dk_config_daemon *d = &cfg->daemons[i];
		_cleanup_free_ char *sub = dk_yaml_subindex(key, i);
		int r;

		if (!sub)
			return dk_error_set(w->err, ENOMEM, "out of memory");
		cfg->n_daemons = i + 1;
		daemon_defaults(d, (int)n->items[i]->line);
		r = dk_yaml_walk_mapping(w, n->items[i], sub, daemon_fields,
					 ARRAY_SIZE(daemon_fields), d);
		if (r < 0)
			return r;
		if (d->backoff_initial_ms > d->backoff_max_ms)
			d->backoff_max_ms = d->backoff_initial_ms;
		for (size_t j = 0; j < i; j++)
			if (streq(cfg->daemons[j].name, d->name))
				return dk_yaml_fail(
					w, n->items[i], sub,
					"daemon %s is listed twice (first on line %d)",
					d->name, cfg->daemons[j].line);
	}
	return 0;
}

int dk_config_set_daemon_stop_order(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
				    const char *key, void *obj)
{
	struct dk_config *cfg = obj;

	return dk_yaml_get_list(w, n, key, "daemon names", NULL, &cfg->daemon_stop_order,
				&cfg->n_daemon_stop_order);
}

int dk_config_check_daemons(struct dk_yaml_walk *w, const struct dk_config *cfg,
			    const struct dk_yaml_node *root)
{
	const struct dk_yaml_node *n = dk_yaml_get(root, "daemon_stop_order");

	for (size_t i = 0; n && i < cfg->n_daemon_stop_order; i++) {
		const char *name = cfg->daemon_stop_order[i];
		bool found = false;

		for (size_t j = 0; j < cfg->n_daemons; j++)
			found |= streq(cfg->daemons[j].name, name);
		if (!found)
			return dk_yaml_fail(w, n->items[i], "daemon_stop_order",
					    "no daemon named '%s' in daemons:", name);
		for (size_t j = 0; j < i; j++)
			if (streq(cfg->daemon_stop_order[j], name))
				return dk_yaml_fail(w, n->items[i], "daemon_stop_order",
						    "'%s' is listed twice", name);
	}
	if (cfg->validation && !cfg->n_daemons)
		return dk_yaml_fail(w, dk_yaml_get(root, "validation"), "validation",
				    "needs daemons: (it runs once they are ready)");
	return 0;
}

static int set_validation_command(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
				  const char *key, void *obj)
{
	struct dk_config_validation *v = obj;

	return get_argv(w, n, key, &v->argv, &v->n_argv);
}

static const struct dk_yaml_field validation_fields[] = {
	{.name = "command", .required = true, .set = set_validation_command},
	{.name = "timeout", .set = set_dk_config_validation_timeout_ms},
	{.name = "interval", .set = set_dk_config_validation_interval_ms},
};

int dk_config_set_validation(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
			     const char *key, void *obj)
{
	struct dk_config *cfg = obj;

	if (dk_yaml_is_null(n))
		return 0;
	cfg->validation = calloc(1, sizeof(*cfg->validation));
	if (!cfg->validation)
		return dk_error_set(w->err, ENOMEM, "out of memory");
	cfg->validation->timeout_ms = VALIDATION_TIMEOUT_MS;
	cfg->validation->interval_ms = VALIDATION_INTERVAL_MS;
	return dk_yaml_walk_mapping(w, n, key, validation_fields,
				    ARRAY_SIZE(validation_fields), cfg->validation);
}

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void dk_config_daemons_release(struct dk_config *cfg)
{
	for (size_t i = 0; i < cfg->n_daemons; i++) {
		struct dk_config_daemon *d = &cfg->daemons[i];

		free(d->name);
		strv_free(d->argv, d->n_argv);
		strv_free(d->env, d->n_env);
		free(d->user);
		strv_free(d->ready.argv, d->ready.n_argv);
		free(d->ready.path);
		free(d->ready.host);
		free(d->when.path_exists);
		free(d->when.path_not_empty);
	}
	free(cfg->daemons);
	strv_free(cfg->daemon_stop_order, cfg->n_daemon_stop_order);
	if (cfg->validation) {
		strv_free(cfg->validation->argv, cfg->validation->n_argv);
		free(cfg->validation);
	}
	free(cfg->daemons_status_file);
}
