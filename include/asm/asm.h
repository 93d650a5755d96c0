/* asm.h: the umbrella header of asm, the Address Space Manager
 *
 * Include only this file: `#include <asm/asm.h>` with the flags from
 * `pkg-config --cflags asm-1`.  Every other public header is named
 * `asm-<module>.h` so that none shares a name with a Linux uapi `<asm/...>`
 * header, which live in the same `asm/` namespace.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#define ASM_INSIDE

#include <asm/asm-version.h>
#include <asm/asm-error.h>
#include <asm/asm-range.h>
#include <asm/asm-arena.h>
#include <asm/asm-addr.h>
#include <asm/asm-pci.h>
#include <asm/asm-pci-policy.h>
#include <asm/asm-backend.h>
#include <asm/asm-fabric.h>
#include <asm/asm-sim.h>
#include <asm/asm-qemu.h>

#undef ASM_INSIDE
