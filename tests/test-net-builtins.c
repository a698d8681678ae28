/* Every built-in description parses, infers its shapes, binds every
 * tensor of a state_dict made by real PyTorch (tests/nets/NAME.shapes)
 * and gives the dense params and multiply-accumulates that PyTorch
 * measured, and the published figures where the description cites them. */
#define _POSIX_C_SOURCE 200809L  /* strdup */

#include <stdlib.h>
#include <string.h>

#include "ckmem.h"
#include "model.h"
#include "tap.h"

/* Dense counts as PyTorch defines them: multiply-accumulates of conv and
 * linear layers (weight elements times output positions), and params =
 * weights and biases of conv and linear, weight and bias vectors of
 * batch norm and scale layers (running statistics are buffers). */
static void count(const struct ms_net *net, double *macs, double *params)
{
	*macs = 0;
	*params = 0;
	for (size_t i = 0; i < net->count; i++) {
		const struct ms_layer *l = &net->layers[i];

		if (l->kind == MS_LAYER_CONV || l->kind == MS_LAYER_LINEAR)
			*macs += (double)l->weight_elements * l->out.h *
				 l->out.w;
		*params += (double)l->weight_elements;
		if (l->bias)
			*params += (double)l->out.c;
	}
}

struct published {
	const char *name;
	double params, macs;   /* 0 when not published */
	int digits;
};

/* From the torchvision documentation pages cited in each description. */
static const struct published published[] = {
	{ "resnet-18", 11689512, 1.81e9, 3 },
	{ "resnet-50", 25557032, 4.09e9, 3 },
	{ "efficientnet-b0", 5288548, 0.39e9, 2 },
	{ "wrn-28-10", 36.5e6, 0, 3 },
	{ "resnet-20", 0.27e6, 0, 2 },
	{ "resnet-32", 0.46e6, 0, 2 },
};

static void check_builtin(const char *srcdir, const char *name)
{
	char path[1024];
	struct ms_checkpoint ck;
	struct ms_net net;
	struct ms_error err;
	double want_params, want_macs, macs, params;
	int n;

	snprintf(path, sizeof path, "%s/nets/%s.shapes", srcdir, name);
	want_params = ckmem_header_value(path, "params");
	want_macs = ckmem_header_value(path, "macs");
	tap_ok(want_params > 0 && want_macs > 0, "%s: fixture %s read", name,
	       path);

	/* Without a checkpoint: dense at the declared shapes. */
	if (!tap_ok(ms_net_load(name, NULL, &net, &err) == 0,
		    "%s: loads without a checkpoint", name)) {
		printf("# %s\n", err.msg);
		return;
	}
	count(&net, &macs, &params);
	tap_close(macs, want_macs, 0, "%s: dense MACs as PyTorch measures",
		  name);
	tap_close(params, want_params, 0, "%s: dense params as PyTorch "
		  "counts", name);
	for (size_t i = 0; i < sizeof published / sizeof published[0]; i++) {
		const struct published *p = &published[i];
		double tol = p->digits == 2 ? 5e-2 : 5e-3;

		if (strcmp(p->name, name) != 0)
			continue;
		tap_close(params, p->params, tol, "%s: params %.4g as "
			  "published", name, p->params);
		if (p->macs > 0)
			tap_close(macs, p->macs, tol, "%s: MACs %.3g as "
				  "published", name, p->macs);
	}
	tap_ok(net.missing == NULL && net.unused == NULL,
	       "%s: no missing or unused lists without a checkpoint", name);
	ms_net_free(&net);

	/* Bound to the state_dict of the PyTorch model. */
	memset(&ck, 0, sizeof ck);
	n = ckmem_load_shapes(&ck, path);
	if (!tap_ok(ms_net_load(name, &ck, &net, &err) == 0,
		    "%s: binds its PyTorch state_dict", name)) {
		printf("# %s\n", err.msg);
		ckmem_free(&ck);
		return;
	}
	tap_ok(net.missing_count == 0, "%s: no tensor missing (%zu, first "
	       "%s)", name, net.missing_count,
	       net.missing_count ? net.missing[0] : "-");
	tap_ok(net.unused_count == 0, "%s: all %d tensors used (%zu unused, "
	       "first %s)", name, n, net.unused_count,
	       net.unused_count ? net.unused[0] : "-");
	count(&net, &macs, &params);
	tap_close(macs, want_macs, 0, "%s: bound MACs as PyTorch measures",
		  name);
	tap_close(params, want_params, 0, "%s: bound params as PyTorch "
		  "counts", name);
	ms_net_free(&net);

	char *found = ms_net_detect(&ck);

	tap_str(found, name, "%s: detected from its tensor names", name);
	free(found);
	ckmem_free(&ck);
}

int main(void)
{
	const char *srcdir = getenv("TESTS_SRCDIR");
	char **names;
	size_t count_names = 0;
	static const char *const expected[] = {
		"densenet-bc-100", "efficientnet-b0", "mobilenet-v2-1.4",
		"resnet-18", "resnet-20", "resnet-32", "resnet-50",
		"wrn-28-10",
	};

	if (srcdir == NULL || getenv("MICROSCORE_DATADIR") == NULL)
		return tap_skip_all("TESTS_SRCDIR and MICROSCORE_DATADIR are "
				    "not set (run under make check)");
	names = ms_net_builtins();
	while (names != NULL && names[count_names] != NULL)
		count_names++;
	tap_ok(count_names == sizeof expected / sizeof expected[0],
	       "builtins: %zu listed", count_names);
	for (size_t i = 0; i < count_names && i < 8; i++)
		tap_str(names[i], expected[i], "builtins: sorted entry %zu", i);
	ms_net_free_names(names);

	for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++)
		check_builtin(srcdir, expected[i]);
	return tap_done();
}
