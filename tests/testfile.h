/* Reading a whole file into memory, for the tests that feed fixture bytes
 * to the readers directly. */
#ifndef MS_TEST_TESTFILE_H
#define MS_TEST_TESTFILE_H

#include <stdio.h>
#include <stdlib.h>

/* Reads PATH into a new buffer (free it) and stores its length in *SIZE.
 * An empty file gives a 1-byte buffer and size 0. Returns NULL when the
 * file cannot be opened or read. */
static inline __attribute__((unused))
unsigned char *read_whole_file(const char *path, size_t *size)
{
	FILE *f = fopen(path, "rb");
	unsigned char *data = NULL;
	long n;

	*size = 0;
	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0) {
		data = malloc(n > 0 ? (size_t)n : 1);
		if (data != NULL && fread(data, 1, (size_t)n, f) != (size_t)n) {
			free(data);
			data = NULL;
		}
		if (data != NULL)
			*size = (size_t)n;
	}
	fclose(f);
	return data;
}

#endif
