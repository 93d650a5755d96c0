/* asm-backend.c: the backend handle
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * An AsmBackend pairs a const ops table with the state it works on and
 * counts references, so a fabric and its creator can share it.  Nothing
 * else lives here: what the operations mean is documented on
 * AsmBackendOps, and how the fabric drives them in asm-ftxn.c.
 */
#include <asm/asm-backend.h>

#include "asm-backend-private.h"
#include "asm-boxed-private.h"

ASM_DEFINE_VALUE_TYPE (AsmXlatEntry, asm_xlat_entry)
ASM_DEFINE_VALUE_TYPE (AsmBackendOps, asm_backend_ops)
G_DEFINE_BOXED_TYPE (AsmBackend, asm_backend, asm_backend_ref,
                     asm_backend_unref)

struct _AsmBackend {
  gint ref;
  const AsmBackendOps *ops;
  gpointer self;
};

/**
 * asm_backend_new:
 * @ops: (not nullable): the operations; must outlive the backend (a
 *   static const table)
 * @self: (nullable): the state the operations receive; @ops->destroy frees
 *   it with the last reference
 *
 * Wraps a backend implementation.
 *
 * Returns: (transfer full): the backend
 *
 * Since: 0.1
 */
AsmBackend *
asm_backend_new (const AsmBackendOps *ops, gpointer self)
{
  AsmBackend *b;

  g_return_val_if_fail (ops != NULL, NULL);
  b = g_new0 (AsmBackend, 1);
  b->ref = 1;
  b->ops = ops;
  b->self = self;
  return b;
}

/**
 * asm_backend_ref:
 * @backend: a backend
 *
 * Takes a reference on a backend.
 *
 * Returns: (transfer full): @backend
 *
 * Since: 0.1
 */
AsmBackend *
asm_backend_ref (AsmBackend *backend)
{
  g_return_val_if_fail (backend != NULL, NULL);
  g_atomic_int_inc (&backend->ref);
  return backend;
}

/**
 * asm_backend_unref:
 * @backend: (nullable) (transfer full): a backend
 *
 * Drops a reference; the last one calls the ops' `destroy`.
 *
 * Since: 0.1
 */
void
asm_backend_unref (AsmBackend *backend)
{
  if (backend == NULL || !g_atomic_int_dec_and_test (&backend->ref))
    return;
  if (backend->ops->destroy != NULL)
    backend->ops->destroy (backend->self);
  g_free (backend);
}

/**
 * asm_backend_get_name:
 * @backend: a backend
 *
 * Gets the name of the backend.
 *
 * Returns: (transfer none): the ops table's name
 *
 * Since: 0.1
 */
const char *
asm_backend_get_name (AsmBackend *backend)
{
  g_return_val_if_fail (backend != NULL, NULL);
  return backend->ops->name ? backend->ops->name : "unnamed";
}

/**
 * asm_backend_get_caps:
 * @backend: a backend
 *
 * Gets what the backend applies to hardware.
 *
 * Returns: the #AsmBackendCaps of the backend
 *
 * Since: 0.1
 */
guint32
asm_backend_get_caps (AsmBackend *backend)
{
  g_return_val_if_fail (backend != NULL, 0);
  return backend->ops->caps;
}

/**
 * asm_backend_get_self:
 * @backend: a backend
 *
 * Gets the state of the backend, the pointer its operations receive.
 *
 * Returns: (transfer none): the state given to asm_backend_new()
 *
 * Since: 0.1
 */
gpointer
asm_backend_get_self (AsmBackend *backend)
{
  g_return_val_if_fail (backend != NULL, NULL);
  return backend->self;
}

const AsmBackendOps *
asm_backend_get_ops (AsmBackend *backend)
{
  return backend->ops;
}
