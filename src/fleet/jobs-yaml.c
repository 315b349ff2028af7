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
#include "shared/yaml-writer.h"

#include "base/sha256.h"
#include "fleet/jobs.h"

/* The builder's image, pinned: rootless buildah runs as its user "build" (uid 1000),
 * which has subordinate ids for the user namespace. */
#define BUILDAH_IMAGE "quay.io/buildah/stable:v1.38.0"
#define AUTH_DIR "/run/drvkit/registry-auth"
/* Both kinds of Job: buildah's storage and the optional registry credentials. */
static const char k8s_volumes[] = "      volumes:\n"
				  "        - name: \"containers\"\n"
				  "          emptyDir: {}\n"
				  "        - name: \"registry-auth\"\n"
				  "          secret:\n"
				  "            secretName: \"drvkit-registry-auth\"\n"
				  "            optional: true\n";

/* The Job's program, given the buildah argv as "$@" and the image as $IMAGE: skip
 * an image the registry has, else build and push it. No value is pasted into it.
 */
static const char build_script[] =
	"set -eu\n"
	"if [ -f " AUTH_DIR "/.dockerconfigjson ]; then\n"
	"  export REGISTRY_AUTH_FILE=" AUTH_DIR "/.dockerconfigjson\n"
	"fi\n"
	"if command -v skopeo >/dev/null 2>&1; then\n"
	"  if skopeo inspect --raw \"docker://$IMAGE\" >/dev/null 2>&1; then\n"
	"    echo \"drvkit: $IMAGE exists in the registry: not building it "
	"again\"; exit "
	"0\n"
	"  fi\n"
	"elif buildah --storage-driver vfs pull --quiet \"docker://$IMAGE\" "
	">/dev/null "
	"2>&1; "
	"then\n"
	"  echo \"drvkit: $IMAGE exists in the registry: not building it "
	"again\"; exit "
	"0\n"
	"fi\n"
	"buildah \"$@\"\n"
	"exec buildah --storage-driver vfs push \"$IMAGE\" \"docker://$IMAGE\"\n";

/* An image of two arches: each arch's Job pushes IMAGE-ARCH, and a manifest Job joins
 * them into the list IMAGE (retried until every arch is there). */
static const char manifest_script[] =
	"set -eu\n"
	"if [ -f " AUTH_DIR "/.dockerconfigjson ]; then\n"
	"  export REGISTRY_AUTH_FILE=" AUTH_DIR "/.dockerconfigjson\n"
	"fi\n"
	"buildah --storage-driver vfs manifest create \"$IMAGE\"\n"
	"for arch in \"$@\"; do\n"
	"  buildah --storage-driver vfs manifest add \"$IMAGE\" "
	"\"docker://$IMAGE-$arch\"\n"
	"done\n"
	"exec buildah --storage-driver vfs manifest push --all \"$IMAGE\" "
	"\"docker://$IMAGE\"\n";

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
		yaml_item_kv(&b, 2, "DK_IMAGE", j->image);
		yaml_kv(&b, 3, "DK_KIND", dk_job_kind_name(j->kind));
		yaml_kv(&b, 3, "DK_ARCH", j->arch);
		yaml_kv(&b, 3, "DK_DOCKERFILE", j->dockerfile);
		for (size_t a = 0; a < j->n_args; a++)
			strbuf_printf(&names, "%s%s", a ? " " : "", j->args[a].name);
		yaml_kv(&b, 3, "DK_BUILD_ARGS", strbuf_str(&names));
		for (size_t a = 0; a < j->n_args; a++)
			yaml_kv(&b, 3, j->args[a].name, j->args[a].value);
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

/* Whether another job makes the same image for another arch. */
static bool multi_arch(const struct dk_jobs *js, const char *image, const char *arch)
{
	for (size_t i = 0; i < js->n_jobs; i++)
		if (streq(js->jobs[i].image, image) && !streq(js->jobs[i].arch, arch))
			return true;
	return false;
}

/* What one Job pushes and builds from: a multi-arch image's arch pushes IMAGE-ARCH; a
 * precompiled image whose build image is multi-arch starts FROM that arch's push. */
struct k8s_target {
	char *push;	   /* IMAGE or IMAGE-ARCH */
	char *build_image; /* BUILD_IMAGE's value, NULL when the job has none */
};

static int k8s_target(const struct dk_jobs *js, const struct dk_job *j,
		      struct k8s_target *t)
{
	const char *bi = dk_job_arg(j, "BUILD_IMAGE");

	t->push = multi_arch(js, j->image, j->arch)
			  ? dk_strdup_printf("%s-%s", j->image, j->arch)
			  : strdup(j->image);
	t->build_image = !bi ? NULL
			 : multi_arch(js, bi, j->arch)
				 ? dk_strdup_printf("%s-%s", bi, j->arch)
				 : strdup(bi);
	return t->push && (!bi || t->build_image) ? 0 : -ENOMEM;
}

static void k8s_target_release(struct k8s_target *t)
{
	free(t->push);
	free(t->build_image);
}

/* A build argument's value as the Job passes it. */
static const char *k8s_arg(const struct dk_job_arg *a, const struct k8s_target *t)
{
	return t->build_image && streq(a->name, "BUILD_IMAGE") ? t->build_image
							       : a->value;
}

static void k8s_labels(struct strbuf *b, int level, const struct dk_job *j)
{
	yaml_key(b, level, "labels");
	yaml_kv(b, level + 1, "app.kubernetes.io/name", "drvkit-image-build");
	yaml_kv(b, level + 1, "app.kubernetes.io/managed-by", "drvkit");
	yaml_kv(b, level + 1, "drvkit.io/image-kind", dk_job_kind_name(j->kind));
	yaml_kv(b, level + 1, "drvkit.io/arch", j->arch);
}

/* buildah's argv: global options, bud and its options, the context last. */
static void k8s_args(struct strbuf *b, const struct dk_job *j, const struct k8s_target *t,
		     const char *context)
{
	_cleanup_free_ char *platform = dk_strdup_printf("linux/%s", j->arch);
	static const char *const head[] = {"--storage-driver", "vfs",	 "bud",
					   "--isolation",      "chroot", "--layers=false",
					   "--platform"};

	strbuf_puts(b, "          args:\n");
	for (size_t i = 0; i < ARRAY_SIZE(head); i++)
		yaml_item(b, 6, head[i]);
	yaml_item(b, 6, platform);
	yaml_item(b, 6, "--file");
	yaml_item(b, 6, j->dockerfile);
	yaml_item(b, 6, "--tag");
	yaml_item(b, 6, t->push);
	for (size_t a = 0; a < j->n_args; a++) {
		_cleanup_free_ char *kv = dk_strdup_printf("%s=%s", j->args[a].name,
							   k8s_arg(&j->args[a], t));

		yaml_item(b, 6, "--build-arg");
		yaml_item(b, 6, kv);
	}
	yaml_item(b, 6, context);
}

static void k8s_env(struct strbuf *b, const char *name, const char *value)
{
	strbuf_puts(b, "            - name: ");
	yaml_str(b, name);
	strbuf_puts(b, "\n              value: ");
	yaml_str(b, value);
	strbuf_putc(b, '\n');
}

/* The buildah container's head: image and `sh -c SCRIPT NAME` (the script is fixed
 * text; its values come as "$@" and environment variables). */
static void k8s_buildah(struct strbuf *b, const char *script, const char *name)
{
	strbuf_puts(b,
		    "      containers:\n        - name: \"buildah\"\n          image: ");
	yaml_str(b, BUILDAH_IMAGE);
	strbuf_puts(b, "\n          command:\n");
	yaml_item(b, 6, "/bin/sh");
	yaml_item(b, 6, "-c");
	yaml_item(b, 6, script);
	yaml_item(b, 6, name);
}

static void k8s_container(struct strbuf *b, const struct dk_job *j,
			  const struct k8s_target *t, const char *context)
{
	k8s_buildah(b, build_script, "drvkit-image-build");
	k8s_args(b, j, t, context);
	strbuf_puts(b, "          env:\n");
	k8s_env(b, "IMAGE", t->push);
	k8s_env(b, "STORAGE_DRIVER", "vfs");
	k8s_env(b, "BUILDAH_ISOLATION", "chroot");
	k8s_env(b, "HOME", "/home/build");
	for (size_t a = 0; a < j->n_args; a++)
		k8s_env(b, j->args[a].name, k8s_arg(&j->args[a], t));
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

static void k8s_job(struct strbuf *b, const struct dk_job *j, const struct k8s_target *t,
		    const struct dk_jobs_k8s *k)
{
	_cleanup_free_ char *raw = dk_strdup_printf(
		"drvkit-%s-%s-%s-%s", j->kind == DK_JOB_BUILD ? "build" : "pre",
		j->driver->name, j->tag, j->arch);
	_cleanup_free_ char *name = raw ? dk_jobs_k8s_name(raw) : NULL;

	strbuf_puts(b, "---\napiVersion: \"batch/v1\"\nkind: \"Job\"\nmetadata:\n");
	yaml_kv(b, 1, "name", name);
	if (k->namespace)
		yaml_kv(b, 1, "namespace", k->namespace);
	k8s_labels(b, 1, j);
	strbuf_puts(b, "  annotations:\n");
	yaml_kv(b, 2, "drvkit.io/image", j->image);
	strbuf_puts(b,
		    "spec:\n"
		    "  # a precompiled image starts FROM its build image: retried until "
		    "that is pushed\n"
		    "  backoffLimit: 6\n"
		    "  ttlSecondsAfterFinished: 86400\n"
		    "  template:\n"
		    "    metadata:\n");
	k8s_labels(b, 3, j);
	strbuf_puts(b, "    spec:\n"
		       "      restartPolicy: \"Never\"\n"
		       "      nodeSelector:\n");
	yaml_kv(b, 4, "kubernetes.io/arch", j->arch);
	strbuf_puts(b, "      securityContext:\n"
		       "        runAsUser: 1000\n"
		       "        runAsGroup: 1000\n"
		       "        fsGroup: 1000\n");
	k8s_container(b, j, t, k->context);
	strbuf_puts(b, k8s_volumes);
}

/* Job i is the first of a multi-arch image: its manifest Job goes out once. */
static bool first_of_list(const struct dk_jobs *js, size_t i)
{
	if (!multi_arch(js, js->jobs[i].image, js->jobs[i].arch))
		return false;
	for (size_t k = 0; k < i; k++)
		if (streq(js->jobs[k].image, js->jobs[i].image))
			return false;
	return true;
}

/* The Job that joins IMAGE-ARCH of every arch into the manifest list IMAGE. */
static void k8s_manifest_job(struct strbuf *b, const struct dk_jobs *js,
			     const struct dk_job *j, const struct dk_jobs_k8s *k)
{
	_cleanup_free_ char *raw =
		dk_strdup_printf("drvkit-list-%s-%s", j->driver->name, j->tag);
	_cleanup_free_ char *name = raw ? dk_jobs_k8s_name(raw) : NULL;

	strbuf_puts(b, "---\napiVersion: \"batch/v1\"\nkind: \"Job\"\nmetadata:\n");
	yaml_kv(b, 1, "name", name);
	if (k->namespace)
		yaml_kv(b, 1, "namespace", k->namespace);
	strbuf_puts(b, "  labels:\n");
	yaml_kv(b, 2, "app.kubernetes.io/name", "drvkit-image-build");
	yaml_kv(b, 2, "app.kubernetes.io/managed-by", "drvkit");
	yaml_kv(b, 2, "drvkit.io/image-kind", "manifest-list");
	strbuf_puts(b, "  annotations:\n");
	yaml_kv(b, 2, "drvkit.io/image", j->image);
	strbuf_puts(b, "spec:\n"
		       "  # retried until every arch's Job has pushed IMAGE-ARCH\n"
		       "  backoffLimit: 10\n"
		       "  ttlSecondsAfterFinished: 86400\n"
		       "  template:\n"
		       "    spec:\n"
		       "      restartPolicy: \"Never\"\n");
	k8s_buildah(b, manifest_script, "drvkit-manifest");
	strbuf_puts(b, "          args:\n");
	for (size_t i = 0; i < js->n_jobs; i++)
		if (streq(js->jobs[i].image, j->image))
			yaml_item(b, 6, js->jobs[i].arch);
	strbuf_puts(b, "          env:\n");
	k8s_env(b, "IMAGE", j->image);
	k8s_env(b, "HOME", "/home/build");
	strbuf_puts(b,
		    "          securityContext:\n"
		    "            runAsUser: 1000\n"
		    "            runAsNonRoot: true\n"
		    "            allowPrivilegeEscalation: false\n"
		    "          volumeMounts:\n"
		    "            - name: \"containers\"\n"
		    "              mountPath: \"/home/build/.local/share/containers\"\n"
		    "            - name: \"registry-auth\"\n"
		    "              mountPath: \"" AUTH_DIR "\"\n"
		    "              readOnly: true\n");
	strbuf_puts(b, k8s_volumes);
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
		    "# An image of two arches: each arch's Job pushes IMAGE-ARCH and a "
		    "drvkit-list-* Job joins them into IMAGE.\n"
		    "# Registry credentials: a Secret drvkit-registry-auth of type "
		    "kubernetes.io/dockerconfigjson (optional).\n");
	for (size_t i = 0; i < js->n_jobs; i++) {
		struct k8s_target t = {0};
		int r = k8s_target(js, &js->jobs[i], &t);

		if (r >= 0)
			k8s_job(&b, &js->jobs[i], &t, k8s);
		k8s_target_release(&t);
		if (r < 0) {
			strbuf_release(&b);
			return dk_error_set(err, ENOMEM, "out of memory");
		}
	}
	for (size_t i = 0; i < js->n_jobs; i++)
		if (first_of_list(js, i))
			k8s_manifest_job(&b, js, &js->jobs[i], k8s);
	*out = strbuf_steal(&b);
	return *out ? 0 : dk_error_set(err, ENOMEM, "out of memory");
}
