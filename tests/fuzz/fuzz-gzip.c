/* libFuzzer harness for gzip-wrapped content. A gzip input is inflated
 * within its size bound as the loader does. Then the bound function of
 * every reader runs over the result, or over the input itself when it is
 * not gzip, because they parse untrusted headers too. */
#include "fuzz.h"
#include "gunzip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int read_gzip(struct ms_checkpoint *ck, struct ms_bytes in,
		     struct ms_error *err)
{
	struct ms_size_bound bound;
	struct ms_bytes content = in;

	if (in.size >= 2 && in.data[0] == 0x1f && in.data[1] == 0x8b &&
	    ms_ck_gunzip(ck, in, &content, err) < 0)
		return -1;
	ms_torch_legacy_bound(ck->path, content, &bound, err);
	ms_torch_zip_bound(ck->path, content, &bound, err);
	ms_npy_bound(ck->path, content, &bound, err);
	ms_safetensors_bound(ck->path, content, &bound, err);
	return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_run(read_gzip, data, size);
	return 0;
}
