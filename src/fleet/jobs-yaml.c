/* SPDX-License-Identifier: Apache-2.0 */
/* The YAML renderings of the jobs: GitLab's parallel:matrix and Kubernetes Jobs that
 * build the images in a cluster with rootless buildah. Every string is written as a JSON
 * string (YAML reads JSON's escapes), so no value can change the document's shape. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "shared/cleanup.h"
#include "shared/json-writer.h"
#include "shared/strbuf.h"

#include "base/sha256.h"
#include "fleet/jobs.h"

/* The builder's image, pinned: rootless buildah runs as its user "build" (uid 1000),
 * which has subordinate ids for the user namespace. */
#define BUILDAH_IMAGE "quay.io/buildah/stable:v1.38.0"
#define AUTH_DIR "/run/drvkit/registry-auth"

/* The Job's program, given the buildah argv as "$@" and the image as $IMAGE: skip an
 * image the registry has, else build and push it. No value is pasted into it. */
static const char build_script[] =
	"set -eu\n"
	"if [ -f " AUTH_DIR "/.dockerconfigjson ]; then\n"
	"  export REGISTRY_AUTH_FILE=" AUTH_DIR "/.dockerconfigjson\n"
	"fi\n"
	"if command -v skopeo >/dev/null 2>&1; then\n"
	"  if skopeo inspect --raw \"docker://$IMAGE\" >/dev/null 2>&1; then\n"
	"    echo \"drvkit: $IMAGE exists in the registry: not building it again\"; exit "
	"0\n"
	"  fi\n"
	"elif buildah --storage-driver vfs pull --quiet \"docker://$IMAGE\" >/dev/null "
	"2>&1; "
	"then\n"
	"  echo \"drvkit: $IMAGE exists in the registry: not building it again\"; exit "
	"0\n"
	"fi\n"
	"buildah \"$@\"\n"
	"exec buildah --storage-driver vfs push \"$IMAGE\" \"docker://$IMAGE\"\n";

static void ys(struct strbuf *b, const char *s)
{
	strbuf_putc(b, '"');
	json_escape(b, s ? s : "");
	strbuf_putc(b, '"');
}

/* indent + key: "value" */
static void ykv(struct strbuf *b, int indent, const char *key, const char *value)
{
	strbuf_printf(b, "%*s", indent, "");
	ys(b, key);
	strbuf_puts(b, ": ");
	ys(b, value);
	strbuf_putc(b, '\n');
}

static void ykv_first(struct strbuf *b, int indent, const char *key, const char *value)
{
	strbuf_printf(b, "%*s- ", indent, "");
	ys(b, key);
	strbuf_puts(b, ": ");
	ys(b, value);
	strbuf_putc(b, '\n');
}

int dk_jobs_render_gitlab(const struct dk_jobs *js, char **out, struct dk_error **err)
{
	struct strbuf b;

	strbuf_init(&b);
	strbuf_puts(&b, "# drvkit matrix --format gitlab: one entry per image; pass the "
			"variables named in DK_BUILD_ARGS as --build-arg\n"
			"parallel:\n  matrix:\n");
	if (js->n_jobs == 0)
		strbuf_puts(&b, "    []\n");
	for (size_t i = 0; i < js->n_jobs; i++) {
		const struct dk_job *j = &js->jobs[i];
		_cleanup_strbuf_ struct strbuf names;

		strbuf_init(&names);
		ykv_first(&b, 4, "DK_IMAGE", j->image);
		ykv(&b, 6, "DK_KIND", dk_job_kind_name(j->kind));
		ykv(&b, 6, "DK_ARCH", j->arch);
		ykv(&b, 6, "DK_DOCKERFILE", j->dockerfile);
		for (size_t a = 0; a < j->n_args; a++)
			strbuf_printf(&names, "%s%s", a ? " " : "", j->args[a].name);
		ykv(&b, 6, "DK_BUILD_ARGS", strbuf_str(&names));
		for (size_t a = 0; a < j->n_args; a++)
			ykv(&b, 6, j->args[a].name, j->args[a].value);
	}
	*out = strbuf_steal(&b);
	return *out ? 0 : dk_error_set(err, ENOMEM, "out of memory");
}

char *dk_jobs_k8s_name(const char *s)
{
	char hex[DK_SHA256_HEX_LEN + 1];
	struct strbuf b;
	size_t len;

	strbuf_init(&b);
	for (const char *p = s; *p; p++) {
		char c = *p >= 'A' && *p <= 'Z' ? (char)(*p - 'A' + 'a') : *p;

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
			c = '-';
		if (c == '-' && (b.len == 0 || b.s[b.len - 1] == '-'))
			continue;
		strbuf_putc(&b, c);
	}
	while (b.len > 0 && b.s[b.len - 1] == '-')
		b.s[--b.len] = '\0';
	if (b.len > 63) {
		if (dk_sha256_buffer(s, strlen(s), hex) < 0) {
			strbuf_release(&b);
			return NULL;
		}
		len = 54;
		while (len > 0 && b.s[len - 1] == '-')
			len--;
		b.len = len;
		b.s[len] = '\0';
		strbuf_printf(&b, "-%.8s", hex);
	}
	return strbuf_steal(&b);
}

static void k8s_labels(struct strbuf *b, int indent, const struct dk_job *j)
{
	strbuf_printf(b, "%*slabels:\n", indent, "");
	ykv(b, indent + 2, "app.kubernetes.io/name", "drvkit-image-build");
	ykv(b, indent + 2, "app.kubernetes.io/managed-by", "drvkit");
	ykv(b, indent + 2, "drvkit.io/image-kind", dk_job_kind_name(j->kind));
	ykv(b, indent + 2, "drvkit.io/arch", j->arch);
}

static void k8s_list_item(struct strbuf *b, int indent, const char *s)
{
	strbuf_printf(b, "%*s- ", indent, "");
	ys(b, s);
	strbuf_putc(b, '\n');
}

/* buildah's argv: global options, bud and its options, the context last. */
static void k8s_args(struct strbuf *b, const struct dk_job *j, const char *context)
{
	_cleanup_free_ char *platform = dk_strdup_printf("linux/%s", j->arch);
	static const char *const head[] = {"--storage-driver", "vfs",	 "bud",
					   "--isolation",      "chroot", "--layers=false",
					   "--platform"};

	strbuf_puts(b, "          args:\n");
	for (size_t i = 0; i < ARRAY_SIZE(head); i++)
		k8s_list_item(b, 12, head[i]);
	k8s_list_item(b, 12, platform);
	k8s_list_item(b, 12, "--file");
	k8s_list_item(b, 12, j->dockerfile);
	k8s_list_item(b, 12, "--tag");
	k8s_list_item(b, 12, j->image);
	for (size_t a = 0; a < j->n_args; a++) {
		_cleanup_free_ char *kv =
			dk_strdup_printf("%s=%s", j->args[a].name, j->args[a].value);

		k8s_list_item(b, 12, "--build-arg");
		k8s_list_item(b, 12, kv);
	}
	k8s_list_item(b, 12, context);
}

static void k8s_env(struct strbuf *b, const char *name, const char *value)
{
	strbuf_puts(b, "            - name: ");
	ys(b, name);
	strbuf_puts(b, "\n              value: ");
	ys(b, value);
	strbuf_putc(b, '\n');
}

static void k8s_container(struct strbuf *b, const struct dk_job *j, const char *context)
{
	strbuf_puts(b,
		    "      containers:\n        - name: \"buildah\"\n          image: ");
	ys(b, BUILDAH_IMAGE);
	strbuf_puts(b, "\n          command:\n");
	k8s_list_item(b, 12, "/bin/sh");
	k8s_list_item(b, 12, "-c");
	k8s_list_item(b, 12, build_script);
	k8s_list_item(b, 12, "drvkit-image-build");
	k8s_args(b, j, context);
	strbuf_puts(b, "          env:\n");
	k8s_env(b, "IMAGE", j->image);
	k8s_env(b, "STORAGE_DRIVER", "vfs");
	k8s_env(b, "BUILDAH_ISOLATION", "chroot");
	k8s_env(b, "HOME", "/home/build");
	for (size_t a = 0; a < j->n_args; a++)
		k8s_env(b, j->args[a].name, j->args[a].value);
	strbuf_puts(b,
		    "          securityContext:\n"
		    "            runAsUser: 1000\n"
		    "            runAsGroup: 1000\n"
		    "            runAsNonRoot: true\n"
		    "            privileged: false\n"
		    "            # newuidmap/newgidmap are set-uid: buildah's user "
		    "namespace\n"
		    "            allowPrivilegeEscalation: true\n"
		    "            capabilities:\n"
		    "              add: [\"SETUID\", \"SETGID\"]\n"
		    "            # unshare(CLONE_NEWUSER) and mounts inside it\n"
		    "            seccompProfile:\n"
		    "              type: \"Unconfined\"\n"
		    "            appArmorProfile:\n"
		    "              type: \"Unconfined\"\n"
		    "          resources:\n"
		    "            requests:\n"
		    "              cpu: \"1\"\n"
		    "              memory: \"2Gi\"\n"
		    "          volumeMounts:\n"
		    "            - name: \"containers\"\n"
		    "              mountPath: \"/home/build/.local/share/containers\"\n"
		    "            - name: \"registry-auth\"\n"
		    "              mountPath: \"" AUTH_DIR "\"\n"
		    "              readOnly: true\n");
}

static void k8s_job(struct strbuf *b, const struct dk_job *j, const struct dk_jobs_k8s *k)
{
	_cleanup_free_ char *raw = dk_strdup_printf(
		"drvkit-%s-%s-%s-%s", j->kind == DK_JOB_BUILD ? "build" : "pre",
		j->driver->name, j->tag, j->arch);
	_cleanup_free_ char *name = raw ? dk_jobs_k8s_name(raw) : NULL;

	strbuf_puts(b, "---\napiVersion: \"batch/v1\"\nkind: \"Job\"\nmetadata:\n");
	ykv(b, 2, "name", name);
	if (k->namespace)
		ykv(b, 2, "namespace", k->namespace);
	k8s_labels(b, 2, j);
	strbuf_puts(b, "  annotations:\n");
	ykv(b, 4, "drvkit.io/image", j->image);
	strbuf_puts(b,
		    "spec:\n"
		    "  # a precompiled image starts FROM its build image: retried until "
		    "that is pushed\n"
		    "  backoffLimit: 6\n"
		    "  ttlSecondsAfterFinished: 86400\n"
		    "  template:\n"
		    "    metadata:\n");
	k8s_labels(b, 6, j);
	strbuf_puts(b, "    spec:\n"
		       "      restartPolicy: \"Never\"\n"
		       "      nodeSelector:\n");
	ykv(b, 8, "kubernetes.io/arch", j->arch);
	strbuf_puts(b, "      securityContext:\n"
		       "        runAsUser: 1000\n"
		       "        runAsGroup: 1000\n"
		       "        fsGroup: 1000\n");
	k8s_container(b, j, k->context);
	strbuf_puts(b, "      volumes:\n"
		       "        - name: \"containers\"\n"
		       "          emptyDir: {}\n"
		       "        - name: \"registry-auth\"\n"
		       "          secret:\n"
		       "            secretName: \"drvkit-registry-auth\"\n"
		       "            optional: true\n");
}

int dk_jobs_render_k8s(const struct dk_jobs *js, const struct dk_jobs_k8s *k8s,
		       char **out, struct dk_error **err)
{
	struct strbuf b;

	if (!k8s || !k8s->context || !*k8s->context)
		return dk_error_set(
			err, EINVAL,
			"k8s-jobs needs the build context: --context URL (the git "
			"repository holding dockerfiles/, e.g. "
			"https://example.com/drivers.git#main)");
	strbuf_init(&b);
	strbuf_puts(&b,
		    "# drvkit matrix --format k8s-jobs: one Job per image; each skips an "
		    "image the registry has.\n"
		    "# Registry credentials: a Secret drvkit-registry-auth of type "
		    "kubernetes.io/dockerconfigjson (optional).\n");
	for (size_t i = 0; i < js->n_jobs; i++)
		k8s_job(&b, &js->jobs[i], k8s);
	*out = strbuf_steal(&b);
	return *out ? 0 : dk_error_set(err, ENOMEM, "out of memory");
}
