/* addr-generic.c: one allocator for every kind of device address
 *
 * The generic address allocator of seeds/004: any address that is a fixed
 * list of integers (PCI bus:slot.function, IPv4 a.b.c.d, SCSI disk
 * indices) lives in an AsmAddrSpace made of pools, from which exact
 * addresses, whole boxes and "any free address within these ranges" are
 * reserved and released.  The example walks through the seed's three
 * cases:
 *
 *   - PCI: the pool {0..1}:{0..31}.{0..7} (two buses), the reservation of
 *     0:13.2, a whole slot reserved at once, and the lowest free address;
 *   - IPv4: the router's fixed 192.168.1.254, then any free address in
 *     192.168.1.{1..254} for each computer;
 *   - SCSI: disk names sda, sdz and sdaa mapped to indices 0, 25 and 26
 *     with asm_disk_name_parse(), reserved, and formatted back.
 *
 * Every answer is checked; the program exits with status 1 on a wrong one.
 *
 * Build: cc addr-generic.c $(pkg-config --cflags --libs asm-1)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <asm/asm.h>

#include <stdio.h>
#include <stdlib.h>

static void
check (gboolean ok, const char *what)
{
  if (!ok)
    {
      fprintf (stderr, "addr-generic: wrong answer: %s\n", what);
      exit (1);
    }
}

static void
die (const char *what, GError *error)
{
  fprintf (stderr, "addr-generic: %s: %s\n", what, error->message);
  exit (1);
}

/* The text form of a bus:slot.function tuple, as the seed writes it. */
static char *
format_pci (const guint64 *addr, guint n_dims, gpointer user_data)
{
  return g_strdup_printf ("%" G_GUINT64_FORMAT ":%" G_GUINT64_FORMAT
                          ".%" G_GUINT64_FORMAT,
                          addr[0], addr[1], addr[2]);
}

static gboolean
parse_pci (const char *text, guint64 *out_addr, guint n_dims,
           gpointer user_data, GError **error)
{
  guint64 v[3];
  char end;

  if (sscanf (text,
              "%" G_GUINT64_FORMAT ":%" G_GUINT64_FORMAT ".%" G_GUINT64_FORMAT
              "%c",
              &v[0], &v[1], &v[2], &end) != 3)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_PARSE,
                   "'%s' is not bus:slot.function", text);
      return FALSE;
    }
  out_addr[0] = v[0];
  out_addr[1] = v[1];
  out_addr[2] = v[2];
  return TRUE;
}

static void
pci_example (void)
{
  static const guint8 bits[] = { 8, 5, 3 }; /* bus, slot, function */
  const AsmRange pool[] = { ASM_RANGE (0, 1), ASM_RANGE (0, 31),
                            ASM_RANGE (0, 7) };
  const guint64 reserved[] = { 0, 13, 2 };
  const AsmRange slot14[] = { ASM_VALUE (0), ASM_VALUE (14), ASM_RANGE (0, 7) };
  const AsmRange bus1[] = { ASM_VALUE (1), ASM_RANGE (0, 31),
                            ASM_RANGE (0, 7) };
  g_autoptr (GError) error = NULL;
  g_autoptr (AsmAddrSpace) pci = NULL;
  g_autofree char *text = NULL;
  guint64 addr[3], parsed[3];

  printf ("PCI: bus:slot.function, pool {0..1}:{0..31}.{0..7}\n");
  pci = asm_addr_space_new ("pci", G_N_ELEMENTS (bits), bits, &error);
  if (pci == NULL)
    die ("new", error);
  asm_addr_space_set_formatter (pci, format_pci, parse_pci, NULL, NULL);
  if (!asm_addr_space_add_pool (pci, pool, &error))
    die ("add_pool", error);

  /* An address fixed by configuration. */
  if (!asm_addr_space_reserve (pci, reserved, &error))
    die ("reserve 0:13.2", error);
  text = asm_addr_space_format (pci, reserved);
  printf ("  reserve %s\n", text);
  check (g_str_equal (text, "0:13.2"), "the text form of 0:13.2");
  check (!asm_addr_space_is_free (pci, reserved), "0:13.2 is taken");

  /* The same address again: a collision caught. */
  check (!asm_addr_space_reserve (pci, reserved, &error),
         "reserving 0:13.2 twice");
  check (g_error_matches (error, ASM_ERROR, ASM_ERROR_IN_USE),
         "a collision is IN_USE");
  printf ("  reserve 0:13.2 again: refused: %s\n", error->message);
  g_clear_error (&error);

  /* A whole slot at once, all or nothing. */
  if (!asm_addr_space_reserve_box (pci, slot14, &error))
    die ("reserve_box 0:14.{0..7}", error);
  printf ("  reserve the whole slot 0:14.{0..7}\n");

  /* Any free address: the lowest one. */
  if (!asm_addr_space_reserve_any (pci, NULL, addr, &error))
    die ("reserve_any", error);
  g_free (text);
  text = asm_addr_space_format (pci, addr);
  printf ("  any free address: %s\n", text);
  check (addr[0] == 0 && addr[1] == 0 && addr[2] == 0, "the lowest is 0:0.0");

  /* Any free address on bus 1. */
  if (!asm_addr_space_reserve_any (pci, bus1, addr, &error))
    die ("reserve_any on bus 1", error);
  g_free (text);
  text = asm_addr_space_format (pci, addr);
  printf ("  any free address on bus 1: %s\n", text);
  check (addr[0] == 1 && addr[1] == 0 && addr[2] == 0, "bus 1 starts at 1:0.0");

  /* Parse text back with the space's parser, and release one function. */
  if (!asm_addr_space_parse (pci, "0:14.3", parsed, &error) ||
      !asm_addr_space_release (pci, parsed, &error))
    die ("release 0:14.3", error);
  printf ("  release 0:14.3 (one function of the slot)\n");
  check (asm_addr_space_is_free (pci, parsed), "0:14.3 is free again");

  /* Outside the pool is malformed input, not "taken". */
  {
    const guint64 outside[] = { 2, 0, 0 };

    check (!asm_addr_space_reserve (pci, outside, &error),
           "reserving outside the pool");
    check (g_error_matches (error, ASM_ERROR, ASM_ERROR_INVALID),
           "outside the pool is INVALID");
    printf ("  reserve 2:0.0: refused: %s\n", error->message);
    g_clear_error (&error);
  }

  printf ("  reserved: %" G_GUINT64_FORMAT " addresses\n",
          asm_addr_space_get_n_reserved (pci));
  check (asm_addr_space_get_n_reserved (pci) == 1 + 8 + 2 - 1,
         "0:13.2, slot 14 less one function, 0:0.0 and 1:0.0");
  if (!asm_addr_space_check (pci, &error))
    die ("check", error);
}

static void
ipv4_example (void)
{
  static const guint8 bits[] = { 8, 8, 8, 8 };
  const AsmRange subnet[] = { ASM_VALUE (192), ASM_VALUE (168), ASM_VALUE (1),
                              ASM_RANGE (1, 254) };
  const guint64 router[] = { 192, 168, 1, 254 };
  g_autoptr (GError) error = NULL;
  g_autoptr (AsmAddrSpace) ipv4 = NULL;
  guint64 addr[4];
  guint i;

  printf ("\nIPv4: a.b.c.d, pool 192.168.1.{1..254}\n");
  ipv4 = asm_addr_space_new ("ipv4", G_N_ELEMENTS (bits), bits, &error);
  if (ipv4 == NULL || !asm_addr_space_add_pool (ipv4, subnet, &error))
    die ("ipv4 space", error);

  /* The router's address is fixed: reserve it first, so that no computer
   * gets it and a second claim on it is caught. */
  if (!asm_addr_space_reserve (ipv4, router, &error))
    die ("reserve the router", error);
  printf ("  router: 192.168.1.254\n");

  /* Then each computer gets any free address in the subnet.  The default
   * text form joins the values with '.', which reads as IPv4. */
  for (i = 0; i < 3; i++)
    {
      g_autofree char *text = NULL;

      if (!asm_addr_space_reserve_any (ipv4, subnet, addr, &error))
        die ("reserve_any", error);
      text = asm_addr_space_format (ipv4, addr);
      printf ("  computer %u: %s\n", i + 1, text);
      check (addr[3] == i + 1, "computers get .1, .2, .3");
    }

  /* A computer leaves; the next one gets its address. */
  addr[3] = 2;
  if (!asm_addr_space_release (ipv4, addr, &error) ||
      !asm_addr_space_reserve_any (ipv4, subnet, addr, &error))
    die ("release and reserve again", error);
  printf ("  computer 2 leaves; the next computer gets "
          "192.168.1.%" G_GUINT64_FORMAT "\n",
          addr[3]);
  check (addr[3] == 2, "a released address is the lowest free again");

  check (asm_addr_space_get_n_reserved (ipv4) == 4,
         "the router and three computers");
  if (!asm_addr_space_check (ipv4, &error))
    die ("check", error);
}

static void
scsi_example (void)
{
  static const guint8 bits[] = { 16 };
  static const char *const names[] = { "sda", "sdz", "sdaa" };
  static const guint64 indices[] = { 0, 25, 26 };
  const AsmRange pool[] = { ASM_RANGE (0, 701) }; /* sda to sdzz */
  g_autoptr (GError) error = NULL;
  g_autoptr (AsmAddrSpace) disks = NULL;
  guint64 index;
  guint i;

  printf ("\nSCSI disks: names sda..sdzz as indices 0..701\n");
  disks = asm_addr_space_new ("scsi-disks", G_N_ELEMENTS (bits), bits, &error);
  if (disks == NULL || !asm_addr_space_add_pool (disks, pool, &error))
    die ("disk space", error);

  for (i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *prefix = NULL;
      g_autofree char *back = NULL;

      if (!asm_disk_name_parse (names[i], &prefix, &index, &error))
        die ("disk_name_parse", error);
      if (!asm_addr_space_reserve (disks, &index, &error))
        die ("reserve a disk", error);
      back = asm_disk_name_format (prefix, index);
      printf ("  %-5s -> prefix %s, index %2" G_GUINT64_FORMAT " -> %s\n",
              names[i], prefix, index, back);
      check (g_str_equal (prefix, "sd"), "the prefix of a SCSI disk is sd");
      check (index == indices[i], "sda = 0, sdz = 25, sdaa = 26");
      check (g_str_equal (back, names[i]), "a name formats back to itself");
    }

  /* The next disk without a name in the configuration. */
  if (!asm_addr_space_reserve_any (disks, NULL, &index, &error))
    die ("reserve_any", error);
  {
    g_autofree char *name = asm_disk_name_format ("sd", index);

    printf ("  next free disk: %s\n", name);
    check (g_str_equal (name, "sdb"), "the next free disk is sdb");
  }

  /* A partition is not a disk. */
  check (!asm_disk_name_parse ("sda1", NULL, NULL, &error),
         "parsing a partition name");
  check (g_error_matches (error, ASM_ERROR, ASM_ERROR_PARSE),
         "a partition name is a PARSE error");
  printf ("  sda1: refused: %s\n", error->message);
  g_clear_error (&error);

  if (!asm_addr_space_check (disks, &error))
    die ("check", error);
}

int
main (void)
{
  pci_example ();
  ipv4_example ();
  scsi_example ();
  printf ("\nall answers are right\n");
  return 0;
}
