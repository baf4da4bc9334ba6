"""SAM's decoder split in two for the browser: what depends only on the image runs once
per image, the rest on every click. The mathematics of ``SamDecoderOnnx(upsample=False)``,
laid out for speed in onnxruntime-web (wasm).

*Image stage* (``image_stage``), once per image:

- input ``image_embeddings`` (1, 256, 64, 64)
- outputs, in token order (row ``i * 64 + j`` is grid cell (i, j)):
  ``image_tokens`` (4096, 256), the embedding less each token's mean; ``t2i_k`` and
  ``t2i_v`` (8, 16, 4096), per attention head and transposed, and ``i2t_q`` (4096, 128):
  the first transformer layer's projections of the image tokens (with the grid's positional
  encoding where SAM adds it). In that layer the image side of the attention depends
  on the prompt only through the dense mask embedding, which is linear in 16 channels:
  the prompt stage adds its small correction, as one product per term in the same
  layout, so that no large tensor is transposed per click.

*Prompt stage* (``decoder``), every click: the four image-stage outputs plus SAM's
``point_coords`` (1, N, 2), ``point_labels`` (1, N), ``mask_input`` (1, 1, 256, 256),
``has_mask_input`` (1,); outputs ``iou_predictions`` (1, 4) and ``low_res_masks``
(1, 4, 256, 256), like the low-res decoder.

Besides the split, the upscaling head works on image tokens as matrix products: a 2x2,
stride-2 transposed convolution is a (256 -> 4 x 64) linear map per grid cell, which
quantizes to int8 like the other projections (SAM's own int8 ONNX decoder leaves its transposed
convolutions fp32); the layer norm runs on the last axis; the
pixels are put in image order once, on the four output masks; and its GELUs use the tanh
form (see ``GELU``). So the fp32 graphs' logits (tens in size) agree with SAM's decoder
to a few hundredths; with ``PromptStage(sam, gelu="none")``, to float rounding.

The three layer norms on the image side (1 million values each) are RMS norms on
mean-free inputs: onnxruntime-web's LayerNormalization is about five times slower than
its SimplifiedLayerNormalization there. Where the input is a sum of linear maps, each
map is made mean-free at build time (its weights minus their mean over the normalized
channels, see ``_centred``), so no mean is computed per click; elsewhere one is.
The image stage's ``image_tokens`` are therefore the embedding minus each token's mean.

The attentions between the prompt's T tokens (T = 7 for one click, 12 for six) and the
4096 image tokens are reassociated where that saves work, so that the image side's
projections fold into the few tokens:

- image to tokens (both layers), the query projection goes into the keys and the output
  projection into the values (``_image_to_tokens``), with the heads laid side by side
  (``_block_diagonal``): two products of 4096 x 256 by 256 x 8T and no transpose. Both
  are products of two activations, made in ``Int8Product`` modules, which the int8 build
  quantizes too, each side with one scale (``graphs.quantize``); softmax weights over T
  tokens lose little to it;
- the final attention, tokens to image, for the five output tokens only (the prompt's own
  tokens are not read after it): the key projection goes into the queries and the value
  projection after the weighted sum (``_tokens_to_image``). Its weights are a softmax over
  4096 image tokens, mostly tiny, so its products stay fp32: two of 4096 x 256 by 256 x 40;
- layer 1's tokens-to-image attention stays SAM's: with all T tokens, its int8
  projections of the image tokens (256 -> 128) cost less than fp32 products by 8T.
"""

from __future__ import annotations

import copy
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn

from inference.modeling.common import LayerNorm2d
from inference.modeling.sam import Sam
from inference.modeling.transformer import Attention, TwoWayAttentionBlock

IMAGE_STAGE_INPUTS = ["image_embeddings"]
IMAGE_STAGE_OUTPUTS = ["image_tokens", "t2i_k", "t2i_v", "i2t_q"]
PROMPT_STAGE_INPUTS = [*IMAGE_STAGE_OUTPUTS, "point_coords", "point_labels", "mask_input",
                       "has_mask_input"]  # fmt: skip
PROMPT_STAGE_OUTPUTS = ["iou_predictions", "low_res_masks"]
# onnxruntime-web's erf-based Gelu runs scalar code in wasm: on the upscaling's 3 million
# activations it took a fifth of a click. The tanh form is cheaper there and differs from
# SAM's by less than 3e-4 per activation (mask IoU 0.998 or more, fp32).
GELU = "tanh"


class _RmsNorm(torch.autograd.Function):
    """``x / sqrt(mean(x^2, last axis) + eps) * weight``: onnxruntime's
    SimplifiedLayerNormalization, which ONNX's opset 17 lacks. On a mean-free ``x`` it
    is the layer norm without its bias."""

    @staticmethod
    def forward(ctx: object, x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight

    @staticmethod
    def symbolic(g: Any, x: Any, weight: Any, eps: float) -> Any:
        out = g.op(
            "com.microsoft::SimplifiedLayerNormalization", x, weight, axis_i=-1, epsilon_f=eps
        )
        out.setType(x.type())
        return out


def _rms_norm(x: torch.Tensor, norm: nn.LayerNorm | LayerNorm2d) -> torch.Tensor:
    """``norm(x)`` less its bias, for ``x`` already mean-free on the last axis."""
    return cast(torch.Tensor, _RmsNorm.apply(x, norm.weight, float(norm.eps)))


def _centred(weight: torch.Tensor, bias: torch.Tensor, group: int) -> nn.Linear:
    """A linear map (weight (out, in), bias (out,)) whose outputs, taken ``group`` at a
    time, are mean-free: each output minus the mean of its group, for any input."""
    out, inp = weight.shape
    w = weight.reshape(out // group, group, inp)
    b = bias.reshape(out // group, group)
    linear = nn.Linear(inp, out)
    linear.weight.data = (w - w.mean(1, keepdim=True)).reshape(out, inp).contiguous()
    linear.bias.data = (b - b.mean(1, keepdim=True)).reshape(out)
    return linear


def _heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    """(n, c) -> (heads, n, c / heads)."""
    n, c = x.shape
    return x.reshape(n, heads, c // heads).transpose(0, 1)


def _merge_heads(x: torch.Tensor) -> torch.Tensor:
    """(heads, n, d) -> (n, heads * d)."""
    return x.transpose(0, 1).reshape(x.shape[1], -1)


def _attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """softmax(q k^T) v per head, q (heads, n, d), k and v (heads, m, d): the caller
    scales whichever of q and k is the smaller (the prompt's tokens) by d ** -0.5."""
    return torch.softmax(q @ k.transpose(1, 2), dim=-1) @ v


def _block_diagonal(k: torch.Tensor, heads: int) -> torch.Tensor:
    """k (T, heads * d) -> (heads * d, heads * T) with head h's k_h^T on the diagonal:
    ``q @ it`` is every head's q_h k_h^T side by side, (n, heads * T), for q (n, heads * d)
    in token layout, with no transpose of q."""
    kt = k.reshape(k.shape[0], heads, -1).permute(1, 2, 0)  # (heads, d, T)
    eye = torch.eye(heads, dtype=k.dtype)
    return (kt[:, :, None, :] * eye[:, None, :, None]).reshape(-1, heads * k.shape[0])


def _values_out(v: torch.Tensor, w_out: torch.Tensor) -> torch.Tensor:
    """v (T, heads * d) and the output projection per head w_out (heads, d, c) ->
    (heads * T, c): each token's value through its head's part of the projection."""
    heads = w_out.shape[0]
    per_head = v.reshape(v.shape[0], heads, -1).transpose(0, 1)  # (heads, T, d)
    return (per_head @ w_out).reshape(-1, w_out.shape[2])


class Int8Product(nn.Module):
    """``a @ b`` for two activations, a (n, k) and b (k, m): made a module so that the
    int8 build finds the products to quantize by the node's name (``INT8_PRODUCTS``)."""

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return a @ b


INT8_PRODUCTS = "int8_product"  # the attribute name, hence the ONNX nodes' scope


def _image_to_tokens(
    logits: torch.Tensor, values_out: torch.Tensor, heads: int, product: Int8Product
) -> torch.Tensor:
    """Image tokens attending to the prompt's T tokens, then SAM's output projection
    (less its bias): logits (n, heads * T) from ``_block_diagonal``, values_out from
    ``_values_out``; (n, c). The projection is folded into the T values, so the n rows
    see one product and no transpose."""
    n = logits.shape[0]
    weights = torch.softmax(logits.reshape(n, heads, -1), dim=-1).reshape(n, -1)
    return product(weights, values_out)


def _tokens_to_image(
    attn: Attention, q: torch.Tensor, keys_pe: torch.Tensor, keys: torch.Tensor, heads: int
) -> torch.Tensor:
    """SAM's attention of the prompt's tokens q (T, c) to the image tokens, keys (n, c)
    and keys_pe (with the positional encoding), output projection included: (T, c).

    The key projection is folded into the T queries (q_h W_k,h; the key bias adds the same
    number to a query's every logit, which the softmax ignores) and the value projection
    applied after the weighted sum (the weights sum to 1, so its bias passes through):
    the n image tokens go through two products and no transpose."""
    t, c = q.shape
    d = attn.q_proj.out_features // heads
    qh = (attn.q_proj(q) * d**-0.5).reshape(t, heads, d).transpose(0, 1)  # (heads, T, d)
    q_img = (qh @ attn.k_proj.weight.reshape(heads, d, c)).reshape(heads * t, c)
    weights = torch.softmax(q_img @ keys_pe.T, dim=-1)  # (heads * T, n)
    pooled = (weights @ keys).reshape(heads, t, c)
    w_v = attn.v_proj.weight.reshape(heads, d, c).transpose(1, 2)  # (heads, c, d)
    out = pooled @ w_v + attn.v_proj.bias.reshape(heads, 1, d)  # (heads, T, d)
    return cast(torch.Tensor, attn.out_proj(_merge_heads(out)))


def _per_head(out_proj: nn.Linear, heads: int) -> torch.Tensor:
    """An output projection's weight (c, heads * d) as (heads, d, c)."""
    return out_proj.weight.detach().T.reshape(heads, -1, out_proj.out_features).contiguous()


class ImageStage(nn.Module):
    """Once per image; see the module docstring."""

    def __init__(self, sam: Sam) -> None:
        super().__init__()
        layer = cast(TwoWayAttentionBlock, sam.mask_decoder.transformer.layers[0])
        self.t2i = layer.cross_attn_token_to_image
        self.i2t = layer.cross_attn_image_to_token
        self.prompt_encoder = sam.prompt_encoder

    def forward(self, image_embeddings: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x = image_embeddings[0].flatten(1).transpose(0, 1)  # (4096, 256)
        pe = self.prompt_encoder.get_dense_pe()[0].flatten(1).transpose(0, 1)
        with_pe = x + pe
        centred = x - x.mean(-1, keepdim=True)  # for the RMS norm, see the module docstring
        heads = self.t2i.num_heads
        return (
            centred,
            _heads(self.t2i.k_proj(with_pe), heads).transpose(1, 2),
            _heads(self.t2i.v_proj(x), heads).transpose(1, 2),
            self.i2t.q_proj(with_pe),
        )


class PromptStage(nn.Module):
    """Every click; see the module docstring."""

    def __init__(self, sam: Sam, gelu: str = GELU) -> None:
        super().__init__()
        self.gelu = gelu  # "tanh", or "none" for SAM's exact GELU
        self.prompt_encoder = sam.prompt_encoder
        decoder = sam.mask_decoder
        self.decoder = decoder
        self.layer0 = cast(TwoWayAttentionBlock, decoder.transformer.layers[0])
        self.layer1 = cast(TwoWayAttentionBlock, decoder.transformer.layers[1])
        self.final_attn = decoder.transformer.final_attn_token_to_image
        self.int8_product = Int8Product()  # see INT8_PRODUCTS
        self.norm_final = decoder.transformer.norm_final_attn

        # The dense embedding is D = has * (h @ W.T + b) + (1 - has) * no_mask, with h the
        # 16 channels before mask_downscaling's last 1x1 convolution (W, b). A projection
        # P of the keys sees P(D) = [has * h, has, 1 - has] @ [P W, P b, P no_mask].T:
        # one product per term, with h and the two scalars as 18 channels.
        last = self.prompt_encoder.mask_downscaling[-1]
        assert isinstance(last, nn.Conv2d)
        w = last.weight[:, :, 0, 0].detach()  # (256, 16)
        b = last.bias.detach()  # type: ignore[union-attr]
        no_mask = self.prompt_encoder.no_mask_embed.weight[0].detach()
        terms = torch.cat([w, b[:, None], no_mask[:, None]], dim=1)  # (256, 18)
        # The dense term enters layer 0's norm4 mean-free.
        centring = torch.eye(w.shape[0]) - 1 / w.shape[0]
        self.register_buffer("dense_w", (centring @ terms).T.contiguous())  # (18, 256)
        i2t_q = self.layer0.cross_attn_image_to_token.q_proj.weight.detach()
        self.register_buffer("i2t_q_w", (i2t_q @ terms).T.contiguous())  # (18, 128)
        self.heads = self.layer0.cross_attn_token_to_image.num_heads
        for name, proj in (
            ("t2i_k", self.layer0.cross_attn_token_to_image.k_proj),
            ("t2i_v", self.layer0.cross_attn_token_to_image.v_proj),
        ):
            # (128, 18): its product with h^T (18, 4096) is (8, 16, 4096) per head.
            self.register_buffer(f"{name}_w", (proj.weight.detach() @ terms).contiguous())

        # Layer 0's norm4 sees image_tokens + dense term + this, each mean-free.
        out0 = self.layer0.cross_attn_image_to_token.out_proj
        self.out0 = _centred(out0.weight.detach(), out0.bias.detach(), out0.out_features)
        self.register_buffer("out0_w", _per_head(self.out0, self.heads))
        self.register_buffer(
            "out1_w", _per_head(self.layer1.cross_attn_image_to_token.out_proj, self.heads)
        )
        # Layer 1's norm4 output (keys) without its bias beta: every use of the keys
        # after it is linear, so beta moves into those maps' biases.
        beta = self.layer1.norm4.bias.detach()
        self.final_attn = copy.deepcopy(self.final_attn)
        for proj in (self.final_attn.k_proj, self.final_attn.v_proj):
            proj.bias.data = proj.bias.detach() + proj.weight.detach() @ beta

        # Output upscaling as matrix products on the tokens, see the module docstring.
        up1, norm, _, up2, _ = decoder.output_upscaling
        assert isinstance(up1, nn.ConvTranspose2d) and isinstance(up2, nn.ConvTranspose2d)
        self.c1, self.c2 = up1.out_channels, up2.out_channels
        # ConvTranspose2d weights are (in, out, kh, kw): columns ordered (kh, kw, out).
        # up1's outputs are mean-free per subpixel, for the layer norm after it.
        w1 = up1.weight.detach().permute(2, 3, 1, 0).reshape(4 * self.c1, -1)
        b1 = up1.bias.detach().repeat(4)  # type: ignore[union-attr]
        self.up1 = _centred(w1, b1 + w1 @ beta, self.c1)
        self.up2 = nn.Linear(up2.in_channels, 4 * self.c2)
        self.up2.weight.data = up2.weight.detach().permute(2, 3, 1, 0).reshape(4 * self.c2, -1)
        self.up2.bias.data = up2.bias.detach().repeat(4)  # type: ignore[union-attr]
        assert isinstance(norm, LayerNorm2d)
        self.norm = norm

    def _dense_term(self, name: str, h_t: torch.Tensor) -> torch.Tensor:
        """The dense embedding's part in ``name``, from h^T (18, 4096): in token layout
        for "dense" (4096, 256) and "i2t_q" (4096, 128), else per head and transposed
        (8, 16, 4096)."""
        w = cast(torch.Tensor, getattr(self, f"{name}_w"))
        if name in ("dense", "i2t_q"):
            return h_t.T @ w
        return (w @ h_t).reshape(self.heads, -1, h_t.shape[1])

    def _layer1(
        self, queries: torch.Tensor, keys: torch.Tensor, tokens: torch.Tensor, pe: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """SAM's second two-way block on queries (T, 256) and keys (4096, 256), whose
        norm4 is an RMS norm after subtracting the mean and leaves out its bias."""
        layer = self.layer1
        q = (queries + tokens)[None]
        queries = layer.norm1(queries + layer.self_attn(q, q, queries[None])[0])
        k = keys + pe
        attended = layer.cross_attn_token_to_image(
            q=(queries + tokens)[None], k=k[None], v=keys[None]
        )[0]
        queries = layer.norm2(queries + attended)
        queries = layer.norm3(queries + layer.mlp(queries))
        # Image to tokens: SAM's query projection of the image tokens folded into the
        # T keys, its output projection into the T values (see _image_to_tokens).
        i2t = layer.cross_attn_image_to_token
        scale = (i2t.q_proj.out_features // self.heads) ** -0.5
        kbd = _block_diagonal(i2t.k_proj(queries + tokens) * scale, self.heads)
        logits = self.int8_product(k, i2t.q_proj.weight.T @ kbd) + i2t.q_proj.bias @ kbd
        values_out = _values_out(i2t.v_proj(queries), cast(torch.Tensor, self.out1_w))
        attended = _image_to_tokens(logits, values_out, self.heads, self.int8_product)
        x = keys + attended + i2t.out_proj.bias
        return queries, _rms_norm(x - x.mean(-1, keepdim=True), layer.norm4)

    def forward(
        self,
        image_tokens: torch.Tensor,
        t2i_k: torch.Tensor,  # (8, 16, 4096)
        t2i_v: torch.Tensor,
        i2t_q: torch.Tensor,  # (4096, 128)
        point_coords: torch.Tensor,
        point_labels: torch.Tensor,
        mask_input: torch.Tensor,
        has_mask_input: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        decoder = self.decoder
        # A constant: export_onnx.optimize folds it and stores it as float16 (2 MB).
        pe = self.prompt_encoder.get_dense_pe()[0].flatten(1).transpose(0, 1)  # (4096, 256)
        sparse = self.prompt_encoder.embed_labelled_points(point_coords, point_labels)[0]
        output_tokens = torch.cat([decoder.iou_token.weight, decoder.mask_tokens.weight], dim=0)
        tokens = torch.cat([output_tokens, sparse], dim=0)  # (T, 256), SAM's query_pe
        # mask_downscaling up to its last 1x1 convolution: (4096, 16) in token layout,
        # then the two channels of the dense term's bias (see __init__).
        h = self.prompt_encoder.mask_downscaling[:-1](mask_input)[0].flatten(1)  # (16, 4096)
        has = has_mask_input[:, None].expand(1, h.shape[1])
        h = torch.cat([h * has, has, 1 - has], dim=0)  # h^T, (18, 4096)

        # Layer 0 with the image stage's projections (SAM skips the PE in its self-attention).
        l0 = self.layer0
        t = tokens[None]
        queries = l0.norm1(l0.self_attn(t, t, t)[0])
        t2i = l0.cross_attn_token_to_image
        scale = (t2i.q_proj.out_features // self.heads) ** -0.5
        attended = _attention(
            _heads(t2i.q_proj(queries + tokens) * scale, self.heads),
            (t2i_k + self._dense_term("t2i_k", h)).transpose(1, 2),
            (t2i_v + self._dense_term("t2i_v", h)).transpose(1, 2),
        )
        queries = l0.norm2(queries + t2i.out_proj(_merge_heads(attended)))
        queries = l0.norm3(queries + l0.mlp(queries))
        i2t = l0.cross_attn_image_to_token
        kbd = _block_diagonal(i2t.k_proj(queries + tokens) * scale, self.heads)
        attended = _image_to_tokens(
            self.int8_product(i2t_q + self._dense_term("i2t_q", h), kbd),
            _values_out(i2t.v_proj(queries), cast(torch.Tensor, self.out0_w)),
            self.heads,
            self.int8_product,
        )
        x = image_tokens + self._dense_term("dense", h) + attended + self.out0.bias
        keys = _rms_norm(x, l0.norm4) + l0.norm4.bias  # (4096, 256)

        queries, keys = self._layer1(queries, keys, tokens, pe)
        # Only the output tokens (IoU, then the masks') are read after the final attention:
        # the prompt's own tokens need not attend to the image once more.
        out = 1 + decoder.num_mask_tokens
        queries, tokens = queries[:out], tokens[:out]
        attended = _tokens_to_image(self.final_attn, queries + tokens, keys + pe, keys, self.heads)
        queries = self.norm_final(queries + attended)

        # Upscaling: per grid cell (i, j), subpixels (a, b) then (e, f) of the two 2x
        # steps; pixel (4i + 2a + e, 4j + 2b + f) of the 256 x 256 output.
        up = _rms_norm(self.up1(keys).reshape(-1, 4, self.c1), self.norm) + self.norm.bias
        up = F.gelu(up, approximate=self.gelu)
        up = F.gelu(self.up2(up), approximate=self.gelu).reshape(-1, 16, self.c2)  # (4096, 16, 32)
        mask_tokens = queries[1 : 1 + decoder.num_mask_tokens]
        hyper = torch.stack(
            [mlp(mask_tokens[i]) for i, mlp in enumerate(decoder.output_hypernetworks_mlps)]
        )  # (4, 32)
        masks = up @ hyper.T  # (4096, 16, 4)
        g = int(keys.shape[0] ** 0.5)
        masks = masks.reshape(g, g, 2, 2, 2, 2, -1).permute(6, 0, 2, 4, 1, 3, 5)
        masks = masks.reshape(1, -1, 4 * g, 4 * g)
        iou = decoder.iou_prediction_head(queries[0])[None]
        return iou, masks


def example_inputs(sam: Sam, num_points: int = 3) -> tuple[torch.Tensor, ...]:
    """Inputs that trace every path of the prompt stage (and the image stage's outputs)."""
    g = torch.Generator().manual_seed(0)
    embedding = torch.randn(1, 256, 64, 64, generator=g)
    with torch.no_grad():
        stage = ImageStage(sam)(embedding)
    return (
        *stage,
        torch.randint(0, 1024, (1, num_points, 2), generator=g).float(),
        torch.randint(0, 4, (1, num_points), generator=g).float(),
        torch.randn(1, 1, 256, 256, generator=g),
        torch.tensor([1.0]),
    )
