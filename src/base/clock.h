/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdint.h>

/* CLOCK_MONOTONIC in milliseconds: the one clock for deadlines, backoff and elapsed
 * times (wall-clock jumps must not stretch or cut a wait). */
int64_t dk_now_ms(void);
