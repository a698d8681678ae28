/* libFuzzer harness for the safetensors reader and its JSON parser. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_run(ms_read_safetensors, data, size);
	return 0;
}
