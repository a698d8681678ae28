/* libFuzzer harness for the legacy torch reader and its pickle
 * interpreter. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_run(ms_read_torch_legacy, data, size);
	return 0;
}
