/* Measures one way of reading a checkpoint file, for the benchmark:
 *
 *   bench-read read FILE   read() the file sequentially into a 1 MiB buffer
 *   bench-read open FILE   ms_checkpoint_open() (read and scan every
 *                          tensor), then ms_checkpoint_close()
 *
 * Prints one line: "MODE BYTES SECONDS PEAK_RSS_KIB TENSORS". Peak RSS
 * comes from getrusage() and counts the file pages that a memory-mapped
 * reader touched. */
#define _POSIX_C_SOURCE 200809L

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tensor.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int read_plain(const char *path, long long *bytes)
{
	static char buf[1 << 20];
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	*bytes = 0;
	while ((n = read(fd, buf, sizeof buf)) > 0)
		*bytes += n;
	close(fd);
	return n < 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
	struct ms_checkpoint ck;
	struct ms_error err;
	struct rusage ru;
	struct stat st;
	long long bytes = 0;
	size_t tensors = 0;
	double start;

	if (argc != 3 || (strcmp(argv[1], "read") != 0 &&
			  strcmp(argv[1], "open") != 0)) {
		fprintf(stderr, "usage: bench-read read|open FILE\n");
		return 2;
	}
	if (stat(argv[2], &st) != 0) {
		perror(argv[2]);
		return 1;
	}
	start = now();
	if (strcmp(argv[1], "read") == 0) {
		if (read_plain(argv[2], &bytes) != 0) {
			perror(argv[2]);
			return 1;
		}
	} else {
		if (ms_checkpoint_open(argv[2], &ck, &err) != 0) {
			fprintf(stderr, "bench-read: %s\n", err.msg);
			return 1;
		}
		tensors = ck.count;
		ms_checkpoint_close(&ck);
		bytes = (long long)st.st_size;
	}
	start = now() - start;
	getrusage(RUSAGE_SELF, &ru);
	printf("%s %lld %.6f %ld %zu\n", argv[1], bytes, start, ru.ru_maxrss,
	       tensors);
	return 0;
}
