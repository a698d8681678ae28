/* Drafts from ms_net_describe() for real torchvision checkpoints: which
 * groups values they guess, and that every guess is marked. The expected
 * structure is torchvision 0.14's: resnet18 has only groups-1 convs, and
 * its downsample convs read the block input (64 -> 128 in layer2), while
 * every MobileNetV2 depthwise conv has groups equal to its channels. */
#define _POSIX_C_SOURCE 200809L  /* open_memstream, strndup */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "model.h"
#include "tap.h"

/* Returns the draft of fixture NAME as a string to free, or NULL. */
static char *draft_of(const char *srcdir, const char *name)
{
	char path[1024], *text = NULL;
	size_t len = 0;
	struct ms_checkpoint ck;
	struct ms_error err;
	FILE *f;

	snprintf(path, sizeof path, "%s/fixtures/%s", srcdir, name);
	if (ms_checkpoint_open(path, &ck, &err) < 0) {
		printf("# %s\n", err.msg);
		return NULL;
	}
	f = open_memstream(&text, &len);
	if (f == NULL || ms_net_describe(f, &ck, &err) < 0) {
		printf("# %s\n", err.msg);
		if (f != NULL)
			fclose(f);
		free(text);
		ms_checkpoint_close(&ck);
		return NULL;
	}
	fclose(f);
	ms_checkpoint_close(&ck);
	return text;
}

/* Returns a copy of the draft line that starts with PREFIX, or NULL. */
static char *line_of(const char *text, const char *prefix)
{
	for (const char *p = text; *p != '\0';) {
		size_t len, skip = strspn(p, "\t");

		p += skip;
		len = strcspn(p, "\n");
		if (strncmp(p, prefix, strlen(prefix)) == 0)
			return strndup(p, len);
		p += len + (p[len] == '\n');
	}
	return NULL;
}

/* Checks that every line with "groups=" marks it as a guess. */
static void groups_marked(const char *text, const char *what)
{
	int lines = 0, marked = 0;

	for (const char *p = text; *p != '\0';) {
		size_t len = strcspn(p, "\n");
		char *line = strndup(p, len);

		if (strstr(line, "groups=") != NULL) {
			char *comment = strchr(line, '#');

			lines++;
			marked += comment != NULL &&
				  strstr(comment, "guess") != NULL &&
				  strstr(comment, "groups=") != NULL;
		}
		free(line);
		p += len + (p[len] == '\n');
	}
	tap_ok(lines == marked, "%s: all %d groups values marked as guesses "
	       "(%d marked)", what, lines, marked);
}

/* Returns a copy of the first line that starts with PREFIX after the line
 * that starts with BLOCK, indentation ignored, or NULL. */
static char *block_line_of(const char *text, const char *block,
			   const char *prefix)
{
	char *head = line_of(text, block);
	const char *start;

	if (head == NULL)
		return NULL;
	start = strstr(text, head);
	free(head);
	return line_of(start, prefix);
}

static void resnet18(const char *srcdir)
{
	char *text = draft_of(srcdir, "arch-resnet18.pth.gz");
	char *line;
	const char *start, *end;

	if (!tap_ok(text != NULL, "resnet18: draft written"))
		return;
	tap_ok(strstr(text, "groups=") == NULL, "resnet18: no groups "
	       "option anywhere");

	/* torchvision 0.14 builds layer2.0.downsample.0 as Conv2d(64, 128,
	 * 1, stride 2) and puts the block's stride on conv1, its first 3x3
	 * conv (BasicBlock). */
	line = block_line_of(text, "block layer2.0 {", "conv downsample.0 ");
	if (tap_ok(line != NULL, "resnet18: downsample conv written")) {
		tap_ok(strstr(line, " out=128 kh=1 kw=1 stride=2 pad=0 ") !=
		       NULL, "resnet18: downsample options");
		tap_ok(strstr(line, "# guess: stride 2") != NULL,
		       "resnet18: downsample stride marked as a guess");
	}
	free(line);
	line = block_line_of(text, "block layer2.0 {", "conv conv1 ");
	if (tap_ok(line != NULL, "resnet18: strided block conv written"))
		tap_ok(strstr(line, " stride=2 ") != NULL &&
		       strstr(line, "# guess: stride 2") != NULL,
		       "resnet18: block conv1 has a guessed stride 2");
	free(line);

	/* layer1.0 has no downsample: an identity shortcut, stride 1. */
	line = block_line_of(text, "block layer1.0 {", "conv conv1 ");
	if (tap_ok(line != NULL, "resnet18: block conv written"))
		tap_ok(strstr(line, "stride=") == NULL,
		       "resnet18: first stage keeps stride 1");
	free(line);
	start = strstr(text, "block layer1.0 {");
	end = strstr(text, "block layer1.1 {");
	if (tap_ok(start != NULL && end > start, "resnet18: layer1 blocks "
		   "written")) {
		char *first = strndup(start, (size_t)(end - start));

		tap_ok(first != NULL && strstr(first, "shortcut") == NULL,
		       "resnet18: identity shortcut in layer1.0");
		free(first);
	}
	groups_marked(text, "resnet18");
	free(text);
}

/* Adds the params and MACs of one bound layer: conv and linear weights and
 * biases, batch-norm weights and biases (PyTorch's parameters(), without
 * running statistics), and one MAC per weight use per output element. */
static void count_layer(const struct ms_layer *l, uint64_t *params,
			uint64_t *macs)
{
	uint64_t per_output;

	if (l->weight != NULL)
		*params += (uint64_t)l->weight->stats.elements;
	if (l->bias_tensor != NULL)
		*params += (uint64_t)l->bias_tensor->stats.elements;
	if (l->kind == MS_LAYER_CONV) {
		per_output = (uint64_t)(l->in.c / l->groups * l->kh * l->kw);
		*macs += per_output * (uint64_t)(l->out.c * l->out.h *
						 l->out.w);
	} else if (l->kind == MS_LAYER_LINEAR) {
		*macs += (uint64_t)(l->in.c * l->in.h * l->in.w * l->out.c);
	}
}

/* Reads the integer KEY of the JSON file PATH into *VALUE. */
static bool json_number(const char *path, const char *key, uint64_t *value)
{
	FILE *f = fopen(path, "rb");
	char *text;
	long len;
	struct ms_json *root = NULL;
	size_t offset;
	const char *what;
	bool ok = false;

	if (f == NULL)
		return false;
	if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) > 0 &&
	    fseek(f, 0, SEEK_SET) == 0 && (text = malloc((size_t)len)) != NULL) {
		if (fread(text, 1, (size_t)len, f) == (size_t)len)
			root = ms_json_parse(text, (size_t)len, &offset, &what);
		ok = root != NULL &&
		     ms_json_u64(ms_json_get(root, key), value) == 0;
		ms_json_free(root);
		free(text);
	}
	fclose(f);
	return ok;
}

/* Drafts fixture arch-ARCH.pth.gz, binds the draft to it, and compares
 * its dense params and MACs with those PyTorch measured for the same
 * model (arch-ARCH.json, from tests/make-arch-fixtures.py). */
static void residual_counts(const char *srcdir, const char *arch,
			    const char *block)
{
	char path[1024], json[1024], *text = NULL;
	size_t len = 0;
	struct ms_checkpoint ck;
	struct ms_net net;
	struct ms_error err;
	uint64_t params = 0, macs = 0, want_params, want_macs;
	FILE *f;

	snprintf(path, sizeof path, "%s/fixtures/arch-%s.pth.gz", srcdir,
		 arch);
	snprintf(json, sizeof json, "%s/fixtures/arch-%s.json", srcdir, arch);
	if (!tap_ok(ms_checkpoint_open(path, &ck, &err) == 0,
		    "%s: checkpoint opens", arch)) {
		printf("# %s\n", err.msg);
		return;
	}
	f = open_memstream(&text, &len);
	if (!tap_ok(f != NULL && ms_net_describe(f, &ck, &err) == 0,
		    "%s: draft written", arch)) {
		if (f != NULL)
			fclose(f);
		free(text);
		ms_checkpoint_close(&ck);
		return;
	}
	fclose(f);
	tap_ok(strstr(text, block) != NULL, "%s: draft has '%s'", arch,
	       block);
	if (!tap_ok(ms_net_parse("draft.net", text, len, &ck, &net, &err) ==
		    0, "%s: draft parses and binds", arch)) {
		printf("# %s\n", err.msg);
		free(text);
		ms_checkpoint_close(&ck);
		return;
	}
	tap_ok(net.missing_count == 0, "%s: no missing tensors (%zu)", arch,
	       net.missing_count);
	tap_ok(net.unused_count == 0, "%s: no unused tensors (%zu)", arch,
	       net.unused_count);
	for (size_t i = 0; i < net.count; i++)
		count_layer(&net.layers[i], &params, &macs);
	if (tap_ok(json_number(json, "params", &want_params) &&
		   json_number(json, "macs", &want_macs),
		   "%s: PyTorch counts read", arch)) {
		tap_ok(params == want_params, "%s: params %llu, PyTorch %llu",
		       arch, (unsigned long long)params,
		       (unsigned long long)want_params);
		tap_ok(macs == want_macs, "%s: MACs %llu, PyTorch %llu", arch,
		       (unsigned long long)macs,
		       (unsigned long long)want_macs);
	}
	ms_net_free(&net);
	free(text);
	ms_checkpoint_close(&ck);
}

static void mobilenet(const char *srcdir)
{
	char *text = draft_of(srcdir, "arch-mobilenet_v2_1.4.pth.gz");
	char *line;

	if (!tap_ok(text != NULL, "mobilenet: draft written"))
		return;

	/* features.1.conv.0.0 is the depthwise Conv2d(48, 48, 3, groups=48)
	 * after the 48-channel stem; features.2.conv.1.0 is the depthwise
	 * conv of the 144-channel expansion (24 x 6). */
	line = line_of(text, "conv features.1.conv.0.0 ");
	if (tap_ok(line != NULL, "mobilenet: first depthwise written"))
		tap_ok(strstr(line, " groups=48 ") != NULL,
		       "mobilenet: first depthwise groups=48");
	free(line);
	line = line_of(text, "conv features.2.conv.1.0 ");
	if (tap_ok(line != NULL, "mobilenet: second depthwise written"))
		tap_ok(strstr(line, " groups=144 ") != NULL,
		       "mobilenet: second depthwise groups=144");
	free(line);

	/* features.2.conv.0.0 is the 1x1 expansion Conv2d(24, 144, 1). */
	line = line_of(text, "conv features.2.conv.0.0 ");
	if (tap_ok(line != NULL, "mobilenet: expansion written"))
		tap_ok(strstr(line, "groups=") == NULL,
		       "mobilenet: expansion has groups 1");
	free(line);
	groups_marked(text, "mobilenet");
	free(text);
}

int main(void)
{
	const char *srcdir = getenv("TESTS_SRCDIR");

	if (srcdir == NULL)
		return tap_skip_all("TESTS_SRCDIR is not set (run under make "
				    "check)");
	resnet18(srcdir);
	mobilenet(srcdir);
	residual_counts(srcdir, "resnet18", "block layer4.1 {");
	residual_counts(srcdir, "resnet50", "block layer4.2 {");
	residual_counts(srcdir, "wrn28_10", "residual block3.layer.3 {");
	return tap_done();
}
