/* stand-in for the kernel header of this name: see linux-shim.h
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include <linux-shim.h>
