/* Formatting helpers shared by the reports, the tensor listing and the
 * explorer, and the atomic file writer. No curses here. */
#ifndef MS_FORMAT_H
#define MS_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "error.h"
#include "model.h"
#include "tensor.h"

/* Writes the weight shape of L ("48x24x1x1"): the bound tensor's shape, or
 * the declared one, or "-" for a layer without weights. Always
 * NUL-terminates BUF. */
void ms_format_weight_shape(const struct ms_layer *l, char *buf, size_t size);

/* Writes a tensor shape as "d0xd1x...", or "scalar" for 0-d. */
void ms_format_dims(int ndim, const int64_t *dims, char *buf, size_t size);

/* Writes an activation shape as "CxHxW". */
void ms_format_shape(const struct ms_shape *s, char *buf, size_t size);

/* Writes a bit width, or "-" when BITS is 0. */
void ms_format_bits(int bits, char *buf, size_t size);

/* Writes S as a JSON string with quotes and escapes, or null for NULL. */
void ms_json_string(FILE *f, const char *s);

/* Writes S as one CSV field, quoted when it needs to be. */
void ms_csv_field(FILE *f, const char *s);

/* Writes a file through WRITE (which returns 0 on success) atomically: to
 * a temporary file in PATH's directory, flushed to disk, then moved into
 * place. An existing PATH is replaced only when it is a regular file and
 * REPLACE is true. When REPLACE is false *EXISTS (when not NULL) is set for
 * an existing regular file. Directories, devices, FIFOs and symbolic links
 * are never replaced. Nothing is written on failure. Returns 0, or -1 with
 * ERR set to "PATH: problem". */
int ms_save_atomic(const char *path, bool replace,
		   int (*write)(FILE *f, void *arg), void *arg, bool *exists,
		   struct ms_error *err);

#endif
