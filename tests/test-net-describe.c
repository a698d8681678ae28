/* Drafts from ms_net_describe() for real torchvision checkpoints: which
 * groups values they guess, and that every guess is marked. The expected
 * structure is torchvision 0.14's: resnet18 has only groups-1 convs, and
 * its downsample convs read the block input (64 -> 128 in layer2), while
 * every MobileNetV2 depthwise conv has groups equal to its channels. */
#define _POSIX_C_SOURCE 200809L  /* open_memstream, strndup */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
		size_t len = strcspn(p, "\n");

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

static void resnet18(const char *srcdir)
{
	char *text = draft_of(srcdir, "arch-resnet18.pth.gz");
	char *line;

	if (!tap_ok(text != NULL, "resnet18: draft written"))
		return;
	tap_ok(strstr(text, "groups=") == NULL, "resnet18: no groups "
	       "option anywhere");

	/* layer2.0.downsample.0 is Conv2d(64, 128, 1, stride 2): a 1x1
	 * weight of 128x64 after a layer of 128 channels. */
	line = line_of(text, "conv layer2.0.downsample.0 ");
	if (tap_ok(line != NULL, "resnet18: downsample conv written")) {
		tap_ok(strstr(line, " out=128 kh=1 kw=1 pad=0 ") != NULL,
		       "resnet18: downsample options");
		tap_ok(strstr(line, "# guess:") != NULL &&
		       strstr(line, "input channels 64") != NULL &&
		       strstr(line, "gives 128") != NULL,
		       "resnet18: input channels marked as a guess");
	}
	free(line);

	/* layer1.0.conv1 is Conv2d(64, 64, 3) after 64 channels. */
	line = line_of(text, "conv layer1.0.conv1 ");
	if (tap_ok(line != NULL, "resnet18: block conv written"))
		tap_ok(strstr(line, "input channels") == NULL,
		       "resnet18: matching input channels not marked");
	free(line);
	groups_marked(text, "resnet18");
	free(text);
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
	return tap_done();
}
