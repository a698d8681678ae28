/* libFuzzer harness for the zip-based readers: each input goes to the
 * torch zip reader and then to the npz reader, which share the zip
 * layer. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_run(ms_read_torch_zip, data, size);
	fuzz_run(ms_read_npz, data, size);
	return 0;
}
