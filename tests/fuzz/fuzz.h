/* Shared body of the libFuzzer harnesses: the input bytes go to one
 * container reader through a struct ms_checkpoint, as the loader passes a
 * mapped file, then every tensor is scanned and the checkpoint closed. */
#ifndef MS_FUZZ_H
#define MS_FUZZ_H

/* The build passes -D_GNU_SOURCE, which declares strdup(). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ckpriv.h"
#include "readers.h"

typedef int (*fuzz_reader)(struct ms_checkpoint *ck, struct ms_bytes in,
			   struct ms_error *err);

/* Runs READ over DATA. The bytes are registered as the checkpoint's
 * mapping, so that ms_ck_add() accepts storages inside them, and
 * unregistered before closing, because libFuzzer owns them. */
static inline void fuzz_run(fuzz_reader read, const uint8_t *data,
			    size_t size)
{
	struct ms_checkpoint ck;
	struct ms_error err;
	struct ms_ck_priv *pv;
	struct ms_bytes in = { data, size };

	memset(&ck, 0, sizeof ck);
	ck.path = strdup("fuzz-input");
	pv = ms_ck_priv(&ck);
	if (ck.path == NULL || pv == NULL)
		abort();
	pv->map = in;
	if (read(&ck, in, &err) == 0) {
		for (size_t i = 0; i < ck.count; i++)
			if (ms_tensor_scan(&ck.tensors[i], NULL, &err))
				break;
	}
	pv->map.data = NULL;
	pv->map.size = 0;
	ms_checkpoint_close(&ck);
}

#endif
