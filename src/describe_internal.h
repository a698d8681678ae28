/* The layers a draft description is made from, shared by the flat draft
 * (describe.c) and the residual-block drafts (describe_residual.c). Not
 * part of the public core API. */
#ifndef MS_DESCRIBE_INTERNAL_H
#define MS_DESCRIBE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "tensor.h"

/* One layer found in the checkpoint: the tensors sharing a prefix. */
struct draft_layer {
	char *prefix;
	const struct ms_tensor *weight, *bias;
	bool batchnorm;          /* has running statistics */
};

/* Writes the layers of a torchvision ResNet (blocks "layerN.M") or of a
 * WideResNet (blocks "blockN.layer.M") as residual blocks, stem and head
 * included, when the N LAYERS in checkpoint order match one of these
 * layouts with consistent channel counts. Returns true when it wrote the
 * draft, false when the layers match neither layout; then it has written
 * nothing. */
bool describe_residual(FILE *out, const struct draft_layer *layers, long n);

#endif
