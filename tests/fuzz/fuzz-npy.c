/* libFuzzer harness for the .npy reader. */
#include "fuzz.h"

static int read_npy(struct ms_checkpoint *ck, struct ms_bytes in,
		    struct ms_error *err)
{
	return ms_read_npy(ck, "array", in, err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_run(read_npy, data, size);
	return 0;
}
