/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shared/macro.h"

#include "base/error.h"

/* One Module.symvers line:
 * 0x<crc>\t<symbol>\t<module>\tEXPORT_SYMBOL[_GPL]\t<namespace> */
struct dk_symvers_entry {
	uint32_t crc;
	const char *symbol;
	const char *module;
	const char *export_type;
	const char *ns; /* "" when none (or a 4-column file from before 5.4) */
	bool gpl;
};

struct dk_symvers;

/* Reads path. -ENOENT when missing; -EBADMSG naming "path:line" for a malformed line.
 */
int dk_symvers_load(const char *path, struct dk_symvers **out,
		    struct dk_error **err) _must_check_ _nonnull_(1, 2);
/* Parses text (need not be NUL-terminated); name is used in messages. */
int dk_symvers_parse(const char *name, const char *text, size_t len,
		     struct dk_symvers **out, struct dk_error **err) _must_check_
	_nonnull_(1, 4);
void dk_symvers_free(struct dk_symvers *sv);
static inline void dk_symvers_freep(struct dk_symvers **sv)
{
	dk_symvers_free(*sv);
}
#define _cleanup_symvers_ __attribute__((cleanup(dk_symvers_freep)))

/* Binary search by symbol name; NULL when absent. */
const struct dk_symvers_entry *dk_symvers_find(const struct dk_symvers *sv,
					       const char *symbol);
size_t dk_symvers_count(const struct dk_symvers *sv);
