/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <curl/curl.h>

#include "base/dlib.h"

/* libcurl, loaded on first use (dlib.h). Call dk_curl_load() before any dk_sym_curl_*.
 * Tests may set DRVKIT_TEST_LIBCURL to another library name (e.g. one that does not
 * exist) to check the not-installed error. */
int dk_curl_load(struct dk_error **err) _must_check_;

DK_DLSYM_DECLARE(curl_easy_cleanup);
DK_DLSYM_DECLARE(curl_easy_getinfo);
DK_DLSYM_DECLARE(curl_easy_init);
DK_DLSYM_DECLARE(curl_easy_setopt);
DK_DLSYM_DECLARE(curl_easy_strerror);
DK_DLSYM_DECLARE(curl_global_cleanup);
DK_DLSYM_DECLARE(curl_global_init);
DK_DLSYM_DECLARE(curl_multi_add_handle);
DK_DLSYM_DECLARE(curl_multi_cleanup);
DK_DLSYM_DECLARE(curl_multi_info_read);
DK_DLSYM_DECLARE(curl_multi_init);
DK_DLSYM_DECLARE(curl_multi_perform);
DK_DLSYM_DECLARE(curl_multi_poll);
DK_DLSYM_DECLARE(curl_multi_remove_handle);
