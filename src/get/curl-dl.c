/* SPDX-License-Identifier: Apache-2.0 */
#include "get/curl-dl.h"

/* Set once by dk_dlib_load() and read-only afterwards: what the dynamic linker would
 * otherwise have written into the GOT at exec. */
DK_DLSYM_DEFINE(curl_easy_cleanup);
DK_DLSYM_DEFINE(curl_easy_getinfo);
DK_DLSYM_DEFINE(curl_easy_init);
DK_DLSYM_DEFINE(curl_easy_setopt);
DK_DLSYM_DEFINE(curl_easy_strerror);
DK_DLSYM_DEFINE(curl_global_cleanup);
DK_DLSYM_DEFINE(curl_global_init);
DK_DLSYM_DEFINE(curl_multi_add_handle);
DK_DLSYM_DEFINE(curl_multi_cleanup);
DK_DLSYM_DEFINE(curl_multi_info_read);
DK_DLSYM_DEFINE(curl_multi_init);
DK_DLSYM_DEFINE(curl_multi_perform);
DK_DLSYM_DEFINE(curl_multi_poll);
DK_DLSYM_DEFINE(curl_multi_remove_handle);

static const struct dk_dlib_sym curl_syms[] = {
	DK_DLSYM_ENTRY(curl_easy_cleanup),  DK_DLSYM_ENTRY(curl_easy_getinfo),
	DK_DLSYM_ENTRY(curl_easy_init),	    DK_DLSYM_ENTRY(curl_easy_setopt),
	DK_DLSYM_ENTRY(curl_easy_strerror), DK_DLSYM_ENTRY(curl_global_cleanup),
	DK_DLSYM_ENTRY(curl_global_init),   DK_DLSYM_ENTRY(curl_multi_add_handle),
	DK_DLSYM_ENTRY(curl_multi_cleanup), DK_DLSYM_ENTRY(curl_multi_info_read),
	DK_DLSYM_ENTRY(curl_multi_init),    DK_DLSYM_ENTRY(curl_multi_perform),
	DK_DLSYM_ENTRY(curl_multi_poll),    DK_DLSYM_ENTRY(curl_multi_remove_handle),
};

static struct dk_dlib curl_lib =
	DK_DLIB_INIT("libcurl.so.4", "DRVKIT_TEST_LIBCURL",
		     "libcurl4 (Debian) / libcurl (RHEL)", curl_syms);

int dk_curl_load(struct dk_error **err)
{
	return dk_dlib_load(&curl_lib, err);
}
