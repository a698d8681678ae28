/* The description language: parsing, expansion, shapes, binding to
 * in-memory checkpoints, every error path with its message and position,
 * and drafts from ms_net_describe() that parse again. */
#define _POSIX_C_SOURCE 200809L  /* strdup in ckmem.h, open_memstream */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckmem.h"
#include "model.h"
#include "tap.h"

static int parse(const char *text, const struct ms_checkpoint *ck,
		 struct ms_net *net, struct ms_error *err)
{
	return ms_net_parse("t.net", text, strlen(text), ck, net, err);
}

/* Checks that TEXT fails with exactly MESSAGE. */
static void fails(const char *text, const char *message, const char *what)
{
	struct ms_net net;
	struct ms_error err = { "" };

	if (!tap_ok(parse(text, NULL, &net, &err) == -1, "error: %s fails",
		    what))
		ms_net_free(&net);
	tap_str(err.msg, message, "error: %s message and position", what);
}

static void error_paths(void)
{
	fails("input 3 8 8\nconv c out=4 k=3 pad=1\nconv c out=4 k=3 @\n",
	      "t.net:3:18: expected an option (KEY=VALUE or a flag) but "
	      "found '@'", "bad option character");
	fails("input 3 8 8\nwibble x\n",
	      "t.net:2:1: unknown statement 'wibble': expected a layer kind "
	      "or a keyword (see microscore-net(5))", "unknown statement");
	fails("input 3 8 8\nblock b {\nrelu\n",
	      "t.net:4:1: expected '}' to close the block opened at 2:9",
	      "unclosed block");
	fails("input 3 8 8\n}\n", "t.net:2:1: '}' without a matching '{'",
	      "stray brace");
	fails("input 3 8 (8\n", "t.net:1:13: expected ')' but found end of "
	      "line", "unclosed parenthesis");
	fails("input 3 8 )\n", "t.net:1:11: expected a number, a parameter "
	      "or '(' but found ')'", "missing operand");
	fails("input 3 8 8 *\n", "t.net:1:14: expected a number, a "
	      "parameter or '(' but found end of line", "operator at the "
	      "end of a line");
	fails("input 3 8 99999999999999999999\n",
	      "t.net:1:11: integer '99999999999999999999' is too large",
	      "integer too large");
	fails("param a 5\n", "t.net:1:9: expected '=' after the name but "
	      "found '5'", "param without '='");
	fails("param = 5\n", "t.net:1:7: expected a parameter name but found "
	      "'='", "param without name");
	fails("input 3 8 8\nrepeat 4 { relu }\n", "t.net:2:8: expected a "
	      "loop variable name but found '4'", "repeat without variable");
	fails("input 3 8 8\nblock b { relu } relu\n", "t.net:2:18: expected "
	      "the end of the statement but found 'relu'", "text after a "
	      "closing brace");
	fails("input 3 8 8\nrelu }\n", "t.net:2:6: '}' without a matching "
	      "'{'", "closing brace at the top");
	fails("input 3 8 8\nrelu\nshortcut { relu }\n", "t.net:3:1: "
	      "'shortcut' must follow the '}' of a residual block",
	      "lone shortcut");
	fails("input 3 8 8\nconv \"c\n", "t.net:2:6: quoted name is not "
	      "closed on its line", "unclosed quote");
	fails("input 3 8 8\nconv ${1 + } out=2\n", "t.net:2:12: expected "
	      "a number, a parameter or '(' but found '}'",
	      "bad interpolation");
	fails("input 3 8 8\nconv ${1 out=2\n", "t.net:2:10: expected '}' to "
	      "close '${' but found 'out'", "unclosed interpolation");

	/* Expansion and shapes */
	fails("input 3 8 8\nconv c out=x k=1\n", "t.net:2:12: unknown "
	      "name 'x': not a parameter, let variable or loop variable in "
	      "scope", "unknown parameter");
	fails("input 3 8 8\nblock b { let w = 4 }\nconv c out=w k=1\n",
	      "t.net:3:12: unknown name 'w': not a parameter, let variable "
	      "or loop variable in scope", "let variable out of scope");
	fails("input 3 8 8\nrepeat i 2 { relu }\nconv c out=i k=1\n",
	      "t.net:3:12: unknown name 'i': not a parameter, let variable "
	      "or loop variable in scope", "loop variable after its loop");
	fails("input 3 8 8\nscale s wbits=8\n", "t.net:2:9: scale takes no "
	      "wbits: the scorer counts scale and bn at the policy's 16- or "
	      "32-bit float precision", "wbits on scale");
	fails("input 3 8 8\nbn b abits=4\n", "t.net:2:6: bn takes no "
	      "abits: the scorer counts scale and bn at the policy's 16- or "
	      "32-bit float precision", "abits on bn");
	fails("input 3 8 8\nbn b wbits=auto\n", "t.net:2:6: bn takes no "
	      "wbits: the scorer counts scale and bn at the policy's 16- or "
	      "32-bit float precision", "wbits=auto on bn");
	fails("input 3 8 8 / 0\n", "t.net:1:13: division by zero",
	      "division by zero");
	fails("param a = 4611686018427387904 * 4\ninput 3 8 8\n",
	      "t.net:1:31: integer overflow in the expression", "overflow");
	fails("param a = 1 << 63\ninput 3 8 8\n", "t.net:1:13: shift count "
	      "63 is out of range (0 to 62)", "shift out of range");
	fails("param a = 1\nparam a = 2\ninput 3 8 8\n", "t.net:2:1: 'a' "
	      "is already defined", "parameter defined twice");
	fails("relu\n", "t.net:1:1: a layer comes before the 'input C H W' "
	      "statement; put 'input' first",
	      "layer before input");
	fails("input 3 8 8\ninput 3 8 8\n", "t.net:2:1: 'input' is given "
	      "more than once", "input twice");
	fails("input 0 8 8\n", "t.net:1:7: input size 0 is out of range "
	      "(1 to 2147483648)", "input size zero");
	fails("param a = 2\n", "t.net:1:1: the description has no 'input C "
	      "H W' statement", "no input");
	fails("input 3 8 8\nblock b { param x = 1 }\n", "t.net:2:11: 'param' "
	      "is only allowed at the top level, outside any block",
	      "param inside a block");
	fails("input 3 8 8\nrepeat i 5000 { relu }\n", "t.net:2:10: repeat "
	      "count 5000 is out of range (0 to 4096)", "repeat too long");
	fails("input 3 8 8\nrepeat i 4096 { repeat j 4096 { repeat k 4096 "
	      "{ } } }\n", "t.net:2:33: description expands to more than "
	      "10000000 statements", "too many statements");
	fails("input 3 8 8\nconv c k=3\n", "t.net:2:1: layer 'c': out= is "
	      "not given and no tensor 'c.weight' gives it", "conv without "
	      "out");
	fails("input 3 8 8\nconv c out=4\n", "t.net:2:1: layer 'c': the "
	      "kernel size is not given (k=) and no tensor 'c.weight' gives "
	      "it", "conv without kernel");
	fails("input 3 8 8\nconv c out=4 k=3 groups=2\n", "t.net:2:1: layer "
	      "'c': groups=2 does not divide its 3 input and 4 output "
	      "channels", "groups not dividing");
	fails("input 3 8 8\nconv c out=4 k=9\n", "t.net:2:1: layer 'c': "
	      "input 3x8x8 is too small for its window", "kernel too big");
	fails("input 3 8 8\nconv out=4 k=1\n", "t.net:2:1: conv needs a "
	      "name: the prefix of its tensors", "conv without name");
	fails("input 3 8 8\nconv c out=4 k=1 wobble=2\n", "t.net:2:18: conv "
	      "takes no option 'wobble'", "unknown option");
	fails("input 3 8 8\nconv c out=4 k=1 k=2\n", "t.net:2:18: option 'k' "
	      "is given twice", "option twice");
	fails("input 3 8 8\nconv c out=4 k=1 ceil\n", "t.net:2:18: conv "
	      "takes no option 'ceil'", "flag of another kind");
	fails("input 3 8 8\nconv c out k=1\n", "t.net:2:8: 'out' needs a "
	      "value (out=...)", "option without value");
	fails("input 3 8 8\nrelu wbits=4\n", "t.net:2:6: relu has no "
	      "weights, so it takes no wbits", "wbits on relu");
	fails("input 3 8 8\nconv c out=4 k=1 wbits=33\n", "t.net:2:24: wbits "
	      "must be 1 to 32, not 33", "wbits too large");
	fails("input 3 8 8\nconv c out=4 k=1 accum=slow\n", "t.net:2:18: "
	      "accum must be tree, fixed, fp32 or default", "bad accum");
	fails("input 3 8 8\ndefault k=3\n", "t.net:2:9: 'default' takes "
	      "wbits, abits, signed, unsigned and accum, not 'k'",
	      "default with a layer option");
	fails("input 3 8 8\nlinear fc out=10\n", "t.net:2:1: layer 'fc': "
	      "linear needs a flat input (Cx1x1) but gets 3x8x8; add "
	      "'flatten' or 'globalpool' before it", "linear on a map");
	fails("input 3 8 8\navgpool\n", "t.net:2:1: layer 'avgpool': avgpool "
	      "needs a window size (k=)", "pool without window");
	fails("input 3 8 8\navgpool k=2 pad=2\n", "t.net:2:17: pad=2 is out "
	      "of range (0 to 1)", "pool padding over half the window");
	fails("input 3 8 8\nconcat\n", "t.net:2:1: layer 'concat': concat "
	      "needs the channels it appends (channels=)", "concat without "
	      "channels");
	fails("input 3 8 8\nupsample\n", "t.net:2:1: layer 'upsample': "
	      "upsample needs its factor (factor=)", "upsample without "
	      "factor");
	fails("input 3 8 8\nresidual r { conv c out=4 k=1 }\n", "t.net:2:1: "
	      "residual body gives 4x8x8 but its shortcut gives 3x8x8",
	      "residual shape mismatch");
	fails("input 3 8 8\ndense d { avgpool k=2 }\n", "t.net:2:1: dense "
	      "body changes the size from 8x8 to 4x4; concat needs equal "
	      "sizes", "dense size change");
	fails("input 3 8 8\ngate g { globalpool\n conv c out=2 k=1 }\n",
	      "t.net:2:1: gate body gives 2x1x1 but must give 3x1x1 or "
	      "3x8x8", "gate channel mismatch");
	fails("input 3 8 8\nresidual r if 0 { relu } shortcut { relu }\n",
	      "t.net:2:1: a residual whose 'if' is false must not have a "
	      "shortcut", "disabled residual with shortcut");
}

static void nul_byte(void)
{
	static const char text[] = "input 3 8 8\nrelu\0\n";
	struct ms_net net;
	struct ms_error err = { "" };

	tap_ok(ms_net_parse("t.net", text, sizeof text - 1, NULL, &net,
			    &err) == -1, "error: NUL byte fails");
	tap_str(err.msg, "t.net:2:5: NUL byte in the description",
		"error: NUL byte message and position");
}

static void nesting_limit(void)
{
	char text[400] = "input 3 8 8\n";

	for (int i = 0; i < 33; i++)
		strcat(text, "block b {");
	/* The 33rd brace is at column 33 x 9 = 297 of line 2. */
	fails(text, "t.net:2:297: blocks nested deeper than 32",
	      "nesting too deep");
}

/* Labels count per kind and prefix; a separator keeps the count apart
 * from a kind that ends in a digit. */
static void labels(void)
{
	static const char *const want[] = {
		"relu6", "relu6_2", "quant", "quant2", "relu6_3",
		"b.relu6", "b.relu6_2", "b.relu",
	};
	struct ms_net net;
	struct ms_error err;
	size_t n = sizeof want / sizeof want[0];

	if (!tap_ok(parse("input 3 8 8\nrelu6; relu6; quant; quant; relu6\n"
			  "block b { relu6; relu6; relu }\n", NULL, &net,
			  &err) == 0, "labels: parses")) {
		printf("# %s\n", err.msg);
		return;
	}
	tap_ok(net.count == n, "labels: %zu layers (%zu)", n, net.count);
	for (size_t i = 0; i < n && i < net.count; i++)
		tap_str(net.layers[i].name, want[i], "labels: layer %zu", i);
	ms_net_free(&net);
}

static void expansion(void)
{
	struct ms_net net;
	struct ms_error err;
	const char *text =
		"# comment\n"
		"net tiny\n"
		"param depth = 3\n"
		"param width = 2 * (3 + 1) % 5   # 8 % 5 = 3\n"
		"input 3 (16) 16\n"
		"default wbits=4 abits=8 unsigned\n"
		"repeat i depth {\n"
		"  block stage${i + 1}.${i * 10} {\n"
		"    let w = width + i\n"
		"    conv conv out=w k=3 pad=same stride=1 + (i == 1)\n"
		"    quant\n"
		"    quant\n"
		"  }\n"
		"}\n"
		"if depth > 2 { relu6 } else { relu }\n"
		"block head { default wbits=2; conv c out=5 k=1 }\n"
		"conv last out=in_c k=1; upsample factor=3; flatten\n";

	if (!tap_ok(parse(text, NULL, &net, &err) == 0, "expansion: parses")) {
		printf("# %s\n", err.msg);
		return;
	}
	tap_str(net.name, "tiny", "expansion: net name");
	tap_ok(net.count == 14, "expansion: 14 layers (%zu)", net.count);
	if (net.count != 14)
		return;
	tap_str(net.layers[0].name, "stage1.0.conv", "expansion: name with "
		"interpolation");
	tap_str(net.layers[3].name, "stage2.10.conv", "expansion: second "
		"iteration name");
	tap_str(net.layers[1].name, "stage1.0.quant", "expansion: first "
		"label");
	tap_str(net.layers[2].name, "stage1.0.quant2", "expansion: second "
		"label numbered");
	tap_ok(net.layers[0].has_tensors && !net.layers[1].has_tensors,
	       "expansion: conv has tensors, quant has none");
	tap_ok(net.layers[0].out.c == 3 && net.layers[3].out.c == 4 &&
	       net.layers[6].out.c == 5, "expansion: let and width");
	/* pad=same with stride 2 on 16: ceil(16 / 2) = 8; total padding
	 * (8 - 1) x 2 + 3 - 16 = 1, so pad_h = 0. */
	tap_ok(net.layers[3].out.h == 8 && net.layers[3].pad_h == 0,
	       "expansion: same padding with stride 2");
	tap_ok(net.layers[0].out.h == 16 && net.layers[0].pad_h == 1,
	       "expansion: same padding with stride 1");
	tap_ok(net.layers[9].kind == MS_LAYER_RELU6, "expansion: if branch");
	tap_ok(net.layers[0].weight_bits == 4 && net.layers[0].act_bits == 8 &&
	       !net.layers[0].act_signed, "expansion: defaults apply");
	tap_ok(net.layers[10].weight_bits == 2 && net.layers[11].weight_bits == 4,
	       "expansion: defaults end with their block");
	tap_ok(net.layers[11].out.c == 5, "expansion: in_c");
	tap_ok(net.layers[12].out.h == 24 && net.layers[13].out.h == 1 &&
	       net.layers[13].out.c == 5 * 24 * 24,
	       "expansion: upsample by 3, flatten");
	tap_ok(net.layers[0].depth == 1 && net.layers[9].depth == 0,
	       "expansion: depth");
	tap_ok(net.layers[0].line == 10, "expansion: line of the layer");
	ms_net_free(&net);
}

static void overrides(void)
{
	struct ms_net net;
	struct ms_error err;
	const char *params[] = { "width=7", NULL };
	const char *bad[] = { "height=7", NULL };
	char path[] = "/tmp/ms-net-XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");

	fputs("param width = 2\ninput 3 4 4\nconv c out=width k=1\n", f);
	fclose(f);
	if (tap_ok(ms_net_load_params(path, params, NULL, &net, &err) == 0,
		   "override: loads"))
		tap_ok(net.layers[0].out.c == 7, "override: replaces default");
	ms_net_free(&net);
	tap_ok(ms_net_load_params(path, bad, NULL, &net, &err) == -1 &&
	       strstr(err.msg, "parameter 'height' is not declared") != NULL,
	       "override: undeclared parameter rejected");
	remove(path);
	tap_ok(ms_net_load("no-such-net", NULL, &net, &err) == -1 &&
	       strstr(err.msg, "no-such-net: no such built-in network") ==
	       err.msg, "load: unknown built-in named");
}

static void binding(void)
{
	struct ms_checkpoint ck = { 0 };
	struct ms_net net;
	struct ms_error err;
	int64_t w4[4] = { 4, 3, 3, 3 }, b4[1] = { 4 }, s13[3] = { 1, 4, 1 };
	int64_t fc[2] = { 2, 4 }, odd[4] = { 4, 2, 3, 3 };
	float wv[108], sv[4] = { 1, 2, 3, 4 }, zb[4] = { 0 };

	/* Weights: channel c contains c + 1 nonzeros (values -3 .. 3). */
	memset(wv, 0, sizeof wv);
	for (int c = 0; c < 4; c++)
		for (int i = 0; i <= c; i++)
			wv[c * 27 + i] = (float)(i % 2 ? -3 : 3);
	ckmem_add(&ck, "conv.weight", 4, w4, wv);
	ckmem_add(&ck, "conv.bias", 1, b4, sv);
	ckmem_add(&ck, "s.weight", 3, s13, sv);
	ckmem_add(&ck, "s.bias", 3, s13, zb);
	ckmem_add(&ck, "fc.weight", 2, fc, NULL);
	ckmem_add(&ck, "extra.weight", 1, b4, NULL);

	const char *text = "input 3 8 8\nconv conv pad=1 wbits=auto\n"
			   "scale s\nglobalpool\nflatten\nlinear fc\n"
			   "linear gone out=2\n";

	if (tap_ok(parse(text, &ck, &net, &err) == 0, "binding: parses")) {
		const struct ms_layer *l = &net.layers[0];

		tap_ok(l->out.c == 4 && l->kh == 3 && l->out.h == 8,
		       "binding: out and kernel from the weight");
		tap_ok(l->weight_elements == 108 && l->weight_nonzero == 10,
		       "binding: counts from the statistics");
		tap_ok(l->channel_nonzero != NULL && l->weight_channels == 4 &&
		       l->channel_nonzero[3] == 4, "binding: per-channel nonzeros");
		tap_ok(l->bias && l->bias_tensor == &ck.tensors[1],
		       "binding: bias found by name");
		tap_ok(l->weight_bits == 3, "binding: wbits=auto gives 3 bits "
		       "for [-3, 3] (%d)", l->weight_bits);
		tap_ok(net.layers[1].bias_tensor == &ck.tensors[3] &&
		       net.layers[1].weight == &ck.tensors[2],
		       "binding: scale of shape (1, 4, 1)");
		tap_ok(net.missing_count == 1 &&
		       strcmp(net.missing[0], "gone.weight") == 0,
		       "binding: missing tensor listed");
		tap_ok(net.layers[5].weight == NULL &&
		       net.layers[5].weight_elements == 4,
		       "binding: missing layer scored dense");
		tap_ok(net.unused_count == 1 &&
		       strcmp(net.unused[0], "extra.weight") == 0,
		       "binding: unused tensor listed");
		ms_net_free(&net);
	} else {
		printf("# %s\n", err.msg);
	}

	struct ms_net n2;
	struct ms_error e2 = { "" };

	tap_ok(parse("input 3 8 8\nconv conv out=4 k=5\n", &ck, &n2, &e2) == -1,
	       "binding: shape mismatch fails");
	tap_str(e2.msg, "t.net:2:1: layer 'conv' expects weight 4x3x5x5 but "
		"tensor 'conv.weight' is 4x3x3x3", "binding: mismatch names "
		"both shapes");
	tap_ok(parse("input 3 8 8\nconv conv out=4 k=3 nobias\nlinear fc "
		     "out=2\n", &ck, &n2, &e2) == -1, "binding: linear on a map");
	ckmem_free(&ck);

	ckmem_add(&ck, "g.weight", 4, odd, NULL);
	tap_ok(parse("input 3 8 8\nconv g\n", &ck, &n2, &e2) == -1,
	       "binding: input channels differ");
	tap_str(e2.msg, "t.net:2:1: layer 'g' expects weight 4x3x3x3 but "
		"tensor 'g.weight' is 4x2x3x3", "binding: in-channel mismatch "
		"message");
	ckmem_free(&ck);

	ckmem_add(&ck, "s.weight", 1, fc, NULL);
	tap_ok(parse("input 3 8 8\nscale s\n", &ck, &n2, &e2) == -1,
	       "binding: scale length differs");
	tap_str(e2.msg, "t.net:2:1: layer 's' expects a vector of 3 but "
		"tensor 's.weight' is 2", "binding: scale mismatch message");
	ckmem_free(&ck);
}

static void describe(const char *srcdir)
{
	static const char *const names[] = { "resnet-18", "densenet-bc-100",
					     "mobilenet-v2-1.4" };

	for (size_t i = 0; i < 3; i++) {
		struct ms_checkpoint ck = { 0 };
		struct ms_net net;
		struct ms_error err;
		char path[1024], *text = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&text, &len);

		snprintf(path, sizeof path, "%s/nets/%s.shapes", srcdir,
			 names[i]);
		ckmem_load_shapes(&ck, path);
		ck.path = path;
		tap_ok(ms_net_describe(f, &ck, &err) == 0, "describe: %s "
		       "writes a draft", names[i]);
		fclose(f);
		tap_ok(strstr(text, "# guess:") != NULL, "describe: %s marks "
		       "guesses", names[i]);
		if (tap_ok(ms_net_parse("draft.net", text, len, NULL, &net,
					&err) == 0, "describe: %s draft parses",
			   names[i]))
			ms_net_free(&net);
		else
			printf("# %s\n", err.msg);
		free(text);
		ckmem_free(&ck);
	}
}

int main(void)
{
	const char *srcdir = getenv("TESTS_SRCDIR");

	error_paths();
	nul_byte();
	nesting_limit();
	labels();
	expansion();
	overrides();
	binding();
	if (srcdir != NULL)
		describe(srcdir);
	return tap_done();
}
