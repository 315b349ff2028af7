/* SPDX-License-Identifier: Apache-2.0 */
typedef int dk_build_placeholder;
