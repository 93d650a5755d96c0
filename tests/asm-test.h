/* asm-test.h: what the test programs share
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Failures
 * ========
 *
 * cmocka reports the line of the failing assertion; helpers that take the
 * caller's file and line make a failure point at the test instead:
 *
 *   FAIL_AT (file, line, fmt, ...)  print "file:line: message" and stop
 *   OK (expr)                       expr, which may use `&error`, is TRUE
 *                                   and sets no error
 *   FAILS (expr, CODE, "text")      expr, which may use `&error`, is FALSE
 *                                   with ASM_ERROR_CODE and a message that
 *                                   contains text
 *   test_code_name (code)           "no-space" for ASM_ERROR_NO_SPACE, ...
 *                                   (asm_error_code_to_string()); "ok" for
 *                                   TEST_OK, "?" for anything else
 *
 * In a cmocka test (the default) "stop" is cmocka's _fail().  A program
 * without cmocka -- a fuzz target, a benchmark, a helper of the static
 * test-support library -- defines ASM_TEST_NO_CMOCKA before including this
 * header; a failure then prints to stderr and abort()s.
 *
 * Choices
 * =======
 *
 * Property tests and fuzz targets generate the same operations; only where
 * the choices come from differs.  A ChoiceSource is either a seeded PRNG
 * (splitmix64) or the bytes of a fuzz input.  choice_below (src, n) is a
 * choice among n options: from bytes it reads as few as n needs (one for
 * n <= 256, two for n <= 65536, ...), big-endian, modulo n; past the end
 * of the input it reads zeros and sets `exhausted`, so every byte string is
 * a valid input and a longer one makes more choices.  The same seed or the
 * same bytes always give the same choices.
 */
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <asm/asm.h>

#ifndef ASM_TEST_NO_CMOCKA
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#define ASM_TEST_PRINT print_error
#define ASM_TEST_STOP(file, line) _fail ((file), (line))
#else
#define ASM_TEST_PRINT(...) fprintf (stderr, __VA_ARGS__)
#define ASM_TEST_STOP(file, line) abort ()
#endif

G_BEGIN_DECLS

/* The outcome "success" where outcomes are ASM_ERROR codes (models). */
#define TEST_OK (-1)

const char *test_code_name (int code);

#define FAIL_AT(file, line, ...) \
  G_STMT_START { \
    ASM_TEST_PRINT ("%s:%d: ", (file), (line)); \
    ASM_TEST_PRINT (__VA_ARGS__); \
    ASM_TEST_PRINT ("\n"); \
    ASM_TEST_STOP ((file), (line)); \
  } G_STMT_END

/* OK (expr): expr, which may use `&error`, must succeed. */
#define OK(expr) \
  G_STMT_START { \
    GError *error = NULL; \
    if (!(expr)) \
      FAIL_AT (__FILE__, __LINE__, "%s failed: %s", #expr, \
               error ? error->message : "(no error)"); \
    if (error != NULL) \
      FAIL_AT (__FILE__, __LINE__, "%s succeeded with an error: %s", \
               #expr, error->message); \
  } G_STMT_END

/* FAILS (expr, CODE, "text"): expr must fail with ASM_ERROR_CODE and a
 * message containing text. */
#define FAILS(expr, ecode, text) \
  G_STMT_START { \
    GError *error = NULL; \
    if (expr) \
      FAIL_AT (__FILE__, __LINE__, "%s succeeded, expected %s", #expr, \
               test_code_name (ASM_ERROR_##ecode)); \
    if (error == NULL) \
      FAIL_AT (__FILE__, __LINE__, "%s failed with no error", #expr); \
    if (error->domain != ASM_ERROR || error->code != ASM_ERROR_##ecode) \
      FAIL_AT (__FILE__, __LINE__, "%s: got %s (%s), expected %s", #expr, \
               error->domain == ASM_ERROR \
                   ? test_code_name (error->code) \
                   : g_quark_to_string (error->domain), \
               error->message, test_code_name (ASM_ERROR_##ecode)); \
    if (strstr (error->message, (text)) == NULL) \
      FAIL_AT (__FILE__, __LINE__, "%s: message '%s' lacks '%s'", #expr, \
               error->message, (text)); \
    g_error_free (error); \
  } G_STMT_END

/* An unsigned number from the environment (decimal, or 0x hex), or def. */
guint64 test_env_u64 (const char *name, guint64 def);

typedef struct {
  guint64 state;      /* seeded: the PRNG's state */
  const guint8 *data; /* bytes: the input; NULL when seeded */
  gsize len;
  gsize pos;          /* bytes: the next one to read */
  gboolean exhausted; /* bytes: a choice read past the end */
} ChoiceSource;

void choice_source_init_seed (ChoiceSource *src, guint64 seed);
void choice_source_init_data (ChoiceSource *src, const guint8 *data,
                              gsize len);
/* A choice among n options: 0 .. n - 1 (0 when n <= 1, reading nothing). */
guint64 choice_below (ChoiceSource *src, guint64 n);
/* 64 bits (eight bytes). */
guint64 choice_u64 (ChoiceSource *src);
/* TRUE num times in den. */
gboolean choice_chance (ChoiceSource *src, guint num, guint den);

G_END_DECLS
