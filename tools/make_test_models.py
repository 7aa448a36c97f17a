#!/usr/bin/python3
"""Writes tiny PocketTTS stand-in models with the real ONNX interface.

Run with Debian's python3-onnx and sentencepiece packages:

    apt-get install python3-onnx python3-numpy sentencepiece
    /usr/bin/python3 tools/make_test_models.py            # tiny models for the tests
    /usr/bin/python3 tools/make_test_models.py --full-size OUT_DIR   # benchmark stand-ins

The tiny graphs keep every tensor name, dtype and rank of the KevinAHM export
(CONTRACT.md 2.0/2.1) but shrink the sizes, and they compute something checkable:

* text_conditioner: row i of the table marks "text" (channel 0) and carries i/1000 (channel 5).
* mimi_encoder: one frame per 1920 samples; marks "voice" (channel 1) and carries a pitch
  1 + 8 * rms(frame) (channel 3).
* flow_lm_main: writes every text/voice row and every sequence row (NaN rows become the BOS
  row) into the KV caches at position `step`, layer L scaled by L+1 and values negated, and
  reads back the sums of the valid prefix of every layer. Its conditioning reports the
  counts (text rows, voice rows, sequence rows, BOS-before-voice rows, BOS rows) and the mean
  voice pitch; the EOS logit crosses -4 exactly when 2 * (text rows) frames were generated.
* flow_lm_flow: the velocity is a fixed function of the conditioning: latent[0] = pitch,
  latent[2] = 1 if exactly one BOS row and the expected BOS-before-voice rows were seen
  else 0, latent[3] = text rows, latent[4] = sum of token ids / 1000.
* mimi_decoder: 1920 samples per latent, a sine of 100 * latent[0] Hz with amplitude
  latent[2] * min(0.05 + 0.01 * latent[3], 0.6); the phase follows the streaming `offset`
  state so decoding in blocks equals decoding one latent at a time.

So a test can read the voice from the pitch, the number of tokens of a chunk from the
amplitude and its length, and sees silence when the engine loses a BOS marker.
"""
import argparse
import json
import math
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
LATENT = 32
SAMPLES_PER_FRAME = 1920
EOS_FRAMES_PER_TOKEN = 2

# Tiny sizes (the real ones are D=1024, 6 layers, 16 heads x 64, capacity 1000).
D = 16
LAYERS = 2
HEADS = 2
HEAD_DIM = 4
CAPACITY = 512
MIMI_CACHE = [2, 1, 2, 16, 4]  # real: [2, 1, 8, 1000, 64]

ENGLISH_VOICES = [
    "alba", "marius", "javert", "jean", "fantine", "cosette", "eponine", "azelma",
    "anna", "vera", "charles", "paul", "george", "mary", "jane", "michael", "eve",
    "bill_boerst", "peter_yearsley", "stuart_bell", "caro_davy",
]
VOICE_FRAMES = 6

# The second-language bundle: 12 layers, three voices at 250, 262.5 and 275 Hz.
FRENCH_LAYERS = 12
FRENCH_VOICES = ["alba", "lucie", "olivier"]


def french_pitch(index):
    return 2.5 + 0.125 * index


def voice_pitch(index):
    """Pitch code of built-in voice number `index`: 1.5, 1.625, ... (exact in bf16/f16)."""
    return 1.5 + 0.125 * index


def const(name, array):
    return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(np.asarray(array), name))


def i64(values):
    return np.asarray(values, dtype=np.int64)


def f32(values):
    return np.asarray(values, dtype=np.float32)


def save(graph, path):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="make_test_models")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)


# ---------------------------------------------------------------- text conditioner

def text_conditioner(vocab, dim=D):
    table = np.zeros((vocab + 1, dim), dtype=np.float32)
    for i in range(vocab):
        table[i, 0] = 1.0
        table[i, 5] = i / 1000.0
    nodes = [const("table", table), helper.make_node("Gather", ["table", "token_ids"], ["embeddings"], axis=0)]
    return helper.make_graph(
        nodes, "text_conditioner",
        [helper.make_tensor_value_info("token_ids", TensorProto.INT64, [1, "seq_len"])],
        [helper.make_tensor_value_info("embeddings", TensorProto.FLOAT, [1, "seq_len", dim])])


# ---------------------------------------------------------------- mimi encoder

def mimi_encoder():
    e1 = np.zeros((1, D), dtype=np.float32)
    e1[0, 1] = 1.0
    e3 = np.zeros((1, D), dtype=np.float32)
    e3[0, 3] = 1.0
    nodes = [
        const("spf", i64([SAMPLES_PER_FRAME])),
        helper.make_node("Shape", ["audio"], ["ashape"]),
        const("idx2", i64([2])),
        helper.make_node("Gather", ["ashape", "idx2"], ["n"], axis=0),
        helper.make_node("Mod", ["n", "spf"], ["rem"]),
        helper.make_node("Sub", ["spf", "rem"], ["missing"]),
        helper.make_node("Mod", ["missing", "spf"], ["pad"]),
        const("zeros5", i64([0, 0, 0, 0, 0])),
        helper.make_node("Concat", ["zeros5", "pad"], ["pads"], axis=0),
        helper.make_node("Pad", ["audio", "pads"], ["padded"]),
        const("frame_shape", i64([-1, SAMPLES_PER_FRAME])),
        helper.make_node("Reshape", ["padded", "frame_shape"], ["frames"]),
        helper.make_node("Mul", ["frames", "frames"], ["sq"]),
        helper.make_node("ReduceMean", ["sq"], ["ms"], axes=[1], keepdims=1),
        helper.make_node("Sqrt", ["ms"], ["rms"]),
        const("eight", f32([8.0])),
        const("one", f32([1.0])),
        helper.make_node("Mul", ["rms", "eight"], ["rms8"]),
        helper.make_node("Add", ["rms8", "one"], ["pitch"]),
        const("e1", e1),
        const("e3", e3),
        helper.make_node("Mul", ["pitch", "e3"], ["pitch_row"]),
        helper.make_node("Add", ["pitch_row", "e1"], ["rows"]),
        const("axis0", i64([0])),
        helper.make_node("Unsqueeze", ["rows", "axis0"], ["latents"]),
    ]
    return helper.make_graph(
        nodes, "mimi_encoder",
        [helper.make_tensor_value_info("audio", TensorProto.FLOAT, [1, 1, "audio_len"])],
        [helper.make_tensor_value_info("latents", TensorProto.FLOAT, [1, "frames", D])])


# ---------------------------------------------------------------- flow LM main

def flow_state_names(layers):
    """(index, module, key) in the exporter's order: sorted module names, then keys."""
    modules = sorted(f"transformer.layers.{layer}.self_attn" for layer in range(layers))
    out = []
    for module in modules:
        for key in ("cache", "current_end", "step"):
            out.append((len(out), module, key))
    return out


def layer_of(module):
    return int(module.split(".")[2])


def kv_cache_update(p, cache, cache_out, step, end, keys, values):
    """The KV-cache update of KevinAHM's export (scripts/export_flow_lm.py), node for node in
    kind: cache[0] and cache[1] gathered whole and sliced at [step, end) only for the shape of
    the new positions, keys then values written by two chained ScatterND nodes whose indices are
    Concat(axis=-1) of (constant half, batch 0, time), the half-written cache read for its shape,
    and the used prefix read back as Slice(out, 0, end, axis 2) then Gather(0) / Gather(1).
    The engine's load-time rewrite recognises this pattern; the tests prove the rewritten graph
    computes the same. Leaves the used keys and values in p+"k_used" / p+"v_used"."""
    def half(src, index, name):
        return [
            helper.make_node("Gather", [src, "sc%d" % index], [p + name + "_half"], axis=0),
            helper.make_node("Slice", [p + name + "_half", step, end, "ax1", "one"], [p + name + "_new"]),
            helper.make_node("Shape", [p + name + "_new"], [p + name + "_shape4"]),
        ]
    def indices(index, name):
        return [
            helper.make_node("Squeeze", [step, "start0"], [p + name + "_s0"]),
            helper.make_node("Squeeze", [end, "start0"], [p + name + "_e0"]),
            helper.make_node("Range", [p + name + "_s0", p + name + "_e0", "sc1"], [p + name + "_t"]),
            helper.make_node("Reshape", [p + name + "_t", "idx_shape"], [p + name + "_t3"]),
            helper.make_node("Shape", [p + name + "_t3"], [p + name + "_tshape"]),
            helper.make_node("Expand", ["kv%d" % index, p + name + "_tshape"], [p + name + "_i0"]),
            helper.make_node("Expand", ["b0", p + name + "_tshape"], [p + name + "_i1"]),
            helper.make_node("Unsqueeze", [p + name + "_i0", "neg1"], [p + name + "_u0"]),
            helper.make_node("Unsqueeze", [p + name + "_i1", "neg1"], [p + name + "_u1"]),
            helper.make_node("Unsqueeze", [p + name + "_t3", "neg1"], [p + name + "_u2"]),
            helper.make_node("Concat", [p + name + "_u0", p + name + "_u1", p + name + "_u2"], [p + name + "_idx"], axis=-1),
        ]
    return half(cache, 0, "k") + indices(0, "k") + [
        helper.make_node("Concat", ["one", p + "k_shape4"], [p + "k_shape5"], axis=0),
        helper.make_node("Expand", [keys, p + "k_shape5"], [p + "k_upd"]),
        helper.make_node("ScatterND", [cache, p + "k_idx", p + "k_upd"], [p + "half_written"]),
        helper.make_node("Shape", [p + "half_written"], [p + "hw_shape"]),
    ] + half(p + "half_written", 1, "v") + indices(1, "v") + [
        helper.make_node("Concat", ["one", p + "v_shape4"], [p + "v_shape5"], axis=0),
        helper.make_node("Expand", [values, p + "v_shape5"], [p + "v_upd"]),
        helper.make_node("ScatterND", [p + "half_written", p + "v_idx", p + "v_upd"], [cache_out]),
        helper.make_node("Slice", [cache_out, "start0", end, "ax2", "one"], [p + "used"]),
        helper.make_node("Gather", [p + "used", "sc0"], [p + "k_used"], axis=0),
        helper.make_node("Gather", [p + "used", "sc1"], [p + "v_used"], axis=0),
    ]


def attention_sums(p):
    """The sums of the keys and of the values over the used prefix [0, end), read through the
    export's attention (scripts/export_flow_lm.py) in kind: keys transposed to [1, H, D, end] and
    scaled (`Mul`), scores `MatMul(q, keys)`; values transposed to [1, H, end, D] and weighted by a
    `MatMul`. The queries are half the identity (one per key component) and the keys are scaled by
    one half, so the scores summed over the positions are a quarter of the keys' sums; the weights
    are all 1, so the weighted values are the values' sums. The engine rewrites this attention, and
    the tests prove the rewritten graph computes the same. Leaves p+"k_sum" and p+"v_sum"."""
    return [
        helper.make_node("Transpose", [p + "k_used"], [p + "att_kt"], perm=[0, 2, 3, 1]),
        helper.make_node("Mul", [p + "att_kt", "att_scale"], [p + "att_ks"]),
        helper.make_node("MatMul", ["att_q", p + "att_ks"], [p + "att_scores"]),
        helper.make_node("ReduceSum", [p + "att_scores", "att_ax3"], [p + "att_k4"], keepdims=0),
        helper.make_node("Mul", [p + "att_k4", "att_four"], [p + "k_sum"]),
        helper.make_node("ReduceSum", [p + "att_scores", "att_ax2"], [p + "att_row"], keepdims=1),
        helper.make_node("Mul", [p + "att_row", "att_zero"], [p + "att_row0"]),
        helper.make_node("Add", [p + "att_row0", "att_one"], [p + "att_w"]),
        helper.make_node("Transpose", [p + "v_used"], [p + "att_vt"], perm=[0, 2, 1, 3]),
        helper.make_node("MatMul", [p + "att_w", p + "att_vt"], [p + "v_sum"]),
    ]


def flow_lm_main(expect_bbv, layers=LAYERS):
    feat = HEADS * HEAD_DIM  # 8 feature channels per cache position
    assert feat == 8
    bos_lat = np.zeros((1, 1, LATENT), dtype=np.float32)
    bos_lat[0, 0, 1] = 1.0
    w_lat = np.zeros((LATENT, feat), dtype=np.float32)
    w_lat[0, 7] = 1.0
    w_lat[1, 6] = 1.0
    b_lat = np.zeros((feat,), dtype=np.float32)
    b_lat[2] = 1.0
    w_txt = np.zeros((D, feat), dtype=np.float32)
    for i in range(feat):
        w_txt[i, i] = 1.0
    w_out = np.zeros((feat, D), dtype=np.float32)
    for i in (0, 1, 2, 4, 5, 6):
        w_out[i, i] = 1.0
    e3 = np.zeros((D,), dtype=np.float32)
    e3[3] = 1.0

    nodes = [
        const("bos_lat", bos_lat), const("w_lat", w_lat), const("b_lat", b_lat), const("w_txt", w_txt),
        helper.make_node("IsNaN", ["sequence"], ["is_bos"]),
        helper.make_node("Where", ["is_bos", "bos_lat", "sequence"], ["seq_clean"]),
        helper.make_node("MatMul", ["seq_clean", "w_lat"], ["seq_rows0"]),
        helper.make_node("Add", ["seq_rows0", "b_lat"], ["seq_rows"]),
        helper.make_node("MatMul", ["text_embeddings", "w_txt"], ["txt_rows"]),
        helper.make_node("Concat", ["txt_rows", "seq_rows"], ["rows"], axis=1),
        helper.make_node("Shape", ["rows"], ["rows_shape"]),
        const("idx1", i64([1])),
        helper.make_node("Gather", ["rows_shape", "idx1"], ["n"], axis=0),
        const("rows4_shape", i64([1, 1, -1, HEADS, HEAD_DIM])),
        helper.make_node("Reshape", ["rows", "rows4_shape"], ["rows4"]),
        const("capacity", i64([CAPACITY])),
        const("pos", np.arange(CAPACITY, dtype=np.int64).reshape(1, 1, CAPACITY, 1, 1)),
        const("zero2", i64([0, 0])), const("zero4", i64([0, 0, 0, 0])), const("zero2b", i64([0, 0])),
        const("flat_shape", i64([2, CAPACITY, feat])),
        const("zero1_axis01", i64([0, 1])), const("feat_shape", i64([feat])),
        const("ax1", i64([1])), const("ax2", i64([2])), const("neg1", i64([-1])),
        const("kv0", np.zeros((1, 1, 1), dtype=np.int64)), const("kv1", np.ones((1, 1, 1), dtype=np.int64)),
        const("b0", np.zeros((1, 1), dtype=np.int64)), const("sc0", np.int64(0)), const("sc1", np.int64(1)),
        const("one", i64([1])), const("start0", i64([0])), const("idx_shape", i64([1, 1, -1])),
        const("att_scale", f32([0.5])), const("att_four", f32([4.0])),
        const("att_q", np.broadcast_to(0.5 * np.eye(HEAD_DIM, dtype=np.float32), (1, HEADS, HEAD_DIM, HEAD_DIM)).copy()),
        const("att_ax2", i64([2])), const("att_ax3", i64([3])),
        const("att_zero", f32([0.0])), const("att_one", f32([1.0])),
    ]
    inputs = [
        helper.make_tensor_value_info("sequence", TensorProto.FLOAT, [1, "seq_len", LATENT]),
        helper.make_tensor_value_info("text_embeddings", TensorProto.FLOAT, [1, "text_len", D]),
    ]
    outputs = [
        helper.make_tensor_value_info("conditioning", TensorProto.FLOAT, [1, D]),
        helper.make_tensor_value_info("eos_logit", TensorProto.FLOAT, [1, 1]),
    ]
    feature_sums = []
    for index, module, key in flow_state_names(layers):
        name = f"state_{index}"
        out = f"out_state_{index}"
        layer = layer_of(module)
        if key == "cache":
            inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [2, 1, CAPACITY, HEADS, HEAD_DIM]))
            cache_name, cache_out = name, out
        elif key == "current_end":
            inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [0]))
            nodes.append(helper.make_node("Identity", [name], [out]))
        else:
            inputs.append(helper.make_tensor_value_info(name, TensorProto.INT64, [1]))
            p = f"l{layer}_"
            scale = float(layer + 1)
            nodes += [
                const(p + "k", f32([scale])), const(p + "v", f32([-scale])),
                helper.make_node("Mul", ["rows4", p + "k"], [p + "keys"]),
                helper.make_node("Mul", ["rows4", p + "v"], [p + "values"]),
                helper.make_node("Add", [name, "n"], [p + "end"]),
                helper.make_node("Identity", [p + "end"], [out]),
            ]
            nodes += kv_cache_update(p, cache_name, cache_out, name, p + "end", p + "keys", p + "values")
            nodes += attention_sums(p)
            nodes += [
                helper.make_node("Reshape", [p + "k_sum", "feat_shape"], [p + "k_flat"]),
                helper.make_node("Reshape", [p + "v_sum", "feat_shape"], [p + "v_flat"]),
                helper.make_node("Sub", [p + "k_flat", p + "v_flat"], [p + "feat0"]),
                const(p + "norm", f32([1.0 / (2.0 * scale * layers)])),
                helper.make_node("Mul", [p + "feat0", p + "norm"], [p + "feat"]),
            ]
            feature_sums.append(p + "feat")
        outputs.append(helper.make_tensor_value_info(out, inputs[-1].type.tensor_type.elem_type,
                                                     [d.dim_value for d in inputs[-1].type.tensor_type.shape.dim]))
    nodes.insert(0, const("zero1", i64([0])))
    nodes.append(helper.make_node("Sum", feature_sums, ["feat"]))  # [8]
    nodes += [
        const("i1", i64([1])), const("i2", i64([2])), const("i3", i64([3])), const("i4", i64([4])),
        helper.make_node("Slice", ["feat", "i1", "i2"], ["n_voice"]),
        helper.make_node("Slice", ["feat", "i3", "i4"], ["pitch_sum"]),
        const("fone", f32([1.0])),
        helper.make_node("Max", ["n_voice", "fone"], ["n_voice1"]),
        helper.make_node("Div", ["pitch_sum", "n_voice1"], ["pitch_mean"]),
        const("w_out", w_out), const("e3", e3),
        helper.make_node("Unsqueeze", ["feat", "zero1"], ["feat_row"]),
        helper.make_node("MatMul", ["feat_row", "w_out"], ["c0"]),
        helper.make_node("Mul", ["pitch_mean", "e3"], ["c_pitch"]),
        helper.make_node("Add", ["c0", "c_pitch"], ["c1"]),
        helper.make_node("Shape", ["sequence"], ["seq_shape"]),
        helper.make_node("Gather", ["seq_shape", "idx1"], ["s_len"], axis=0),
        helper.make_node("Cast", ["s_len"], ["s_len_f"], to=TensorProto.FLOAT),
        helper.make_node("Min", ["s_len_f", "fone"], ["has_seq"]),
        helper.make_node("Mul", ["c1", "has_seq"], ["conditioning"]),
        # eos_logit = (sequence rows - 1) - 2 * text rows - 3.5
        const("i0", i64([0])),
        helper.make_node("Slice", ["feat", "i0", "i1"], ["n_text"]),
        helper.make_node("Slice", ["feat", "i2", "i3"], ["n_seq"]),
        const("eos_k", f32([float(EOS_FRAMES_PER_TOKEN)])),
        helper.make_node("Mul", ["n_text", "eos_k"], ["eos_frames"]),
        helper.make_node("Sub", ["n_seq", "eos_frames"], ["eos_a"]),
        const("eos_bias", f32([-4.5])),
        helper.make_node("Add", ["eos_a", "eos_bias"], ["eos_b"]),
        const("eos_shape", i64([1, 1])),
        helper.make_node("Reshape", ["eos_b", "eos_shape"], ["eos_logit"]),
    ]
    graph = helper.make_graph(nodes, "flow_lm_main", inputs, outputs)
    graph.doc_string = f"tiny stand-in; expects {expect_bbv} BOS-before-voice rows"
    return graph


# ---------------------------------------------------------------- flow head

def flow_lm_flow(expect_bbv, dim=D):
    w = np.zeros((dim, LATENT), dtype=np.float32)
    w[3, 0] = 1.0  # pitch
    w[0, 3] = 1.0  # text rows
    w[5, 4] = 1.0  # token id sum
    e2 = np.zeros((1, LATENT), dtype=np.float32)
    e2[0, 2] = 1.0
    nodes = [
        const("w", w), const("e2", e2),
        helper.make_node("MatMul", ["c", "w"], ["base"]),
        const("s6", i64([6])), const("s7", i64([7])), const("s4", i64([4])), const("s5", i64([5])),
        const("ax1", i64([1])),
        helper.make_node("Slice", ["c", "s6", "s7", "ax1"], ["n_bos"]),
        helper.make_node("Slice", ["c", "s4", "s5", "ax1"], ["n_bbv"]),
        const("one", f32([1.0])), const("expect", f32([float(expect_bbv)])), const("half", f32([0.5])),
        helper.make_node("Sub", ["n_bos", "one"], ["d_bos"]),
        helper.make_node("Abs", ["d_bos"], ["a_bos"]),
        helper.make_node("Less", ["a_bos", "half"], ["ok_bos"]),
        helper.make_node("Sub", ["n_bbv", "expect"], ["d_bbv"]),
        helper.make_node("Abs", ["d_bbv"], ["a_bbv"]),
        helper.make_node("Less", ["a_bbv", "half"], ["ok_bbv"]),
        helper.make_node("And", ["ok_bos", "ok_bbv"], ["ok"]),
        helper.make_node("Cast", ["ok"], ["ok_f"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["ok_f", "e2"], ["flag"]),
        helper.make_node("Add", ["base", "flag"], ["flow_dir"]),
    ]
    return helper.make_graph(
        nodes, "flow_lm_flow",
        [helper.make_tensor_value_info("c", TensorProto.FLOAT, ["batch", dim]),
         helper.make_tensor_value_info("s", TensorProto.FLOAT, ["batch", 1]),
         helper.make_tensor_value_info("t", TensorProto.FLOAT, ["batch", 1]),
         helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", LATENT])],
        [helper.make_tensor_value_info("flow_dir", TensorProto.FLOAT, ["batch", LATENT])])


# ---------------------------------------------------------------- mimi decoder

def mimi_state_table(width=(8, 4, 8, 8, 4, 4, 4, 4, 4, 4, 2, 8, 4, 8), cache=MIMI_CACHE):
    """(module, key, dtype, shape) for the 56 decoder states in the real order. `width` holds the
    channel counts of the conv buffers in table order (real: 512, 64, 256, 256, 128, 128, 128,
    64, 64, 64, 32, 512, 64, 512); `cache` the ring-cache shape (real: [2, 1, 8, 1000, 64])."""
    b, f, i = "bool", "float32", "int64"
    t = []
    w = iter(width)

    def conv(module, channels, length):
        t.append((module, "first", b, [1]))
        t.append((module, "previous", f, [1, channels, length]))

    def attention(prefix):
        for layer in range(2):
            module = f"{prefix}.transformer.layers.{layer}.self_attn"
            t.extend([(module, "cache", f, list(cache)), (module, "end_offset", i, [1]), (module, "offset", i, [1])])

    conv("decoder.model.0", next(w), 6)
    conv("decoder.model.11", next(w), 2)
    t.append(("decoder.model.2", "partial", f, [1, next(w), 6]))
    conv("decoder.model.3.block.1", next(w), 2)
    conv("decoder.model.3.block.3", next(w), 0)
    t.append(("decoder.model.5", "partial", f, [1, next(w), 5]))
    conv("decoder.model.6.block.1", next(w), 2)
    conv("decoder.model.6.block.3", next(w), 0)
    t.append(("decoder.model.8", "partial", f, [1, next(w), 4]))
    conv("decoder.model.9.block.1", next(w), 2)
    conv("decoder.model.9.block.3", next(w), 0)
    attention("decoder_transformer")
    conv("downsample.conv", next(w), 16)
    encoder = next(w)
    for k in range(11):
        conv(f"encoder.model.{k}", encoder, 2 if k % 3 else 0)
    attention("encoder_transformer")
    t.append(("upsample.convtr", "partial", f, [1, next(w), 16]))
    assert len(t) == 56 and sum(1 for e in t if e[2] == b) == 20
    return t


REAL_MIMI_WIDTHS = (512, 64, 256, 256, 128, 128, 128, 64, 64, 64, 32, 512, 64, 512)
REAL_MIMI_CACHE = [2, 1, 8, 1000, 64]


ONNX_TYPES = {"bool": TensorProto.BOOL, "float32": TensorProto.FLOAT, "int64": TensorProto.INT64}


def mimi_decoder():
    table = mimi_state_table()
    inputs = [helper.make_tensor_value_info("latent", TensorProto.FLOAT, [1, "seq_len", LATENT])]
    outputs = [helper.make_tensor_value_info("audio_frame", TensorProto.FLOAT, [1, 1, "audio_len"])]
    offset_index = 21  # decoder_transformer layer 0 offset
    nodes = [
        helper.make_node("Shape", ["latent"], ["lshape"]),
        const("idx1", i64([1])),
        helper.make_node("Gather", ["lshape", "idx1"], ["s_len"], axis=0),
        const("sixteen", i64([16])),
        helper.make_node("Mul", ["s_len", "sixteen"], ["advance"]),
        helper.make_node("Div", [f"state_{offset_index}", "sixteen"], ["base_frame"]),
        const("zero_s", np.asarray(0, dtype=np.int64)), const("one_s", np.asarray(1, dtype=np.int64)),
        helper.make_node("Squeeze", ["s_len"], ["s_scalar"]),
        helper.make_node("Range", ["zero_s", "s_scalar", "one_s"], ["frame_idx"]),
        helper.make_node("Add", ["frame_idx", "base_frame"], ["gframe"]),
        helper.make_node("Cast", ["gframe"], ["gframe_f"], to=TensorProto.FLOAT),
        const("col", i64([-1, 1])),
        helper.make_node("Reshape", ["gframe_f", "col"], ["gframe_col"]),
        const("spf", f32([float(SAMPLES_PER_FRAME)])),
        helper.make_node("Mul", ["gframe_col", "spf"], ["frame_start"]),
        const("within", np.arange(SAMPLES_PER_FRAME, dtype=np.float32).reshape(1, SAMPLES_PER_FRAME)),
        helper.make_node("Add", ["frame_start", "within"], ["sample_index"]),
        const("lat2_shape", i64([-1, LATENT])),
        helper.make_node("Reshape", ["latent", "lat2_shape"], ["lat2"]),
        const("c0", i64([0])), const("c2", i64([2])), const("c3", i64([3])), const("c4", i64([4])),
        helper.make_node("Slice", ["lat2", "c0", "idx1", "idx1"], ["pitch"]),
        helper.make_node("Slice", ["lat2", "c2", "c3", "idx1"], ["ok"]),
        helper.make_node("Slice", ["lat2", "c3", "c4", "idx1"], ["n_text"]),
        const("hz_per_unit", f32([100.0 * 2.0 * math.pi / 24000.0])),
        helper.make_node("Mul", ["pitch", "hz_per_unit"], ["omega"]),
        helper.make_node("Mul", ["sample_index", "omega"], ["phase"]),
        helper.make_node("Sin", ["phase"], ["wave"]),
        const("amp_step", f32([0.01])), const("amp_base", f32([0.05])), const("amp_max", f32([0.6])),
        helper.make_node("Mul", ["n_text", "amp_step"], ["amp_a"]),
        helper.make_node("Add", ["amp_a", "amp_base"], ["amp_b"]),
        helper.make_node("Min", ["amp_b", "amp_max"], ["amp_c"]),
        helper.make_node("Mul", ["amp_c", "ok"], ["amp"]),
        helper.make_node("Mul", ["wave", "amp"], ["samples"]),
        const("lo", np.asarray(-1.0, dtype=np.float32)), const("hi", np.asarray(1.0, dtype=np.float32)),
        helper.make_node("Clip", ["samples", "lo", "hi"], ["clipped"]),
        const("audio_shape", i64([1, 1, -1])),
        helper.make_node("Reshape", ["clipped", "audio_shape"], ["audio_frame"]),
    ]
    for index, (module, key, dtype, shape) in enumerate(table):
        name, out = f"state_{index}", f"out_state_{index}"
        inputs.append(helper.make_tensor_value_info(name, ONNX_TYPES[dtype], shape))
        outputs.append(helper.make_tensor_value_info(out, ONNX_TYPES[dtype], shape))
        if module.startswith("decoder_transformer") and key in ("offset", "end_offset"):
            nodes.append(helper.make_node("Add", [name, "advance"], [out]))
        else:
            nodes.append(helper.make_node("Identity", [name], [out]))
    return helper.make_graph(nodes, "mimi_decoder", inputs, outputs)


# ---------------------------------------------------------------- incompatible export (alfredo-like)

def alfredo_flow_lm_main():
    inputs = [helper.make_tensor_value_info("sequence", TensorProto.FLOAT, [1, "seq_len", LATENT]),
              helper.make_tensor_value_info("text_embeddings", TensorProto.FLOAT, [1, "text_len", D])]
    outputs = [helper.make_tensor_value_info("conditioning", TensorProto.FLOAT, [1, D]),
               helper.make_tensor_value_info("eos_logit", TensorProto.FLOAT, [1, 1])]
    nodes = [const("cond", np.zeros((1, D), dtype=np.float32)), helper.make_node("Identity", ["cond"], ["conditioning"]),
             const("eos", np.zeros((1, 1), dtype=np.float32)), helper.make_node("Identity", ["eos"], ["eos_logit"])]
    for layer in range(LAYERS):
        for k, (dtype, shape) in enumerate([(TensorProto.FLOAT, [2, 1, "kv_len", HEADS, HEAD_DIM]), (TensorProto.INT64, [1])]):
            index = 2 * layer + k
            inputs.append(helper.make_tensor_value_info(f"state_{index}", dtype, shape))
            outputs.append(helper.make_tensor_value_info(f"out_state_{index}", dtype, shape))
            nodes.append(helper.make_node("Identity", [f"state_{index}"], [f"out_state_{index}"]))
    return helper.make_graph(nodes, "flow_lm_main", inputs, outputs)


# ---------------------------------------------------------------- files

def write_safetensors(path, tensors):
    """tensors: list of (name, dtype code, shape, raw bytes)."""
    header = {}
    offset = 0
    blobs = []
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        blobs.append(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as out:
        out.write(struct.pack("<Q", len(text)))
        out.write(text)
        for raw in blobs:
            out.write(raw)


def encode_float(array, dtype):
    array = np.ascontiguousarray(array, dtype=np.float32)
    if dtype == "F32":
        return array.tobytes()
    if dtype == "F16":
        return array.astype(np.float16).tobytes()
    if dtype == "BF16":
        bits = array.view(np.uint32)
        assert np.all(bits & 0xFFFF == 0), "bf16 test values must be exact"
        return (bits >> 16).astype(np.uint16).tobytes()
    raise ValueError(dtype)


def voice_rows(pitch, with_bbv):
    rows = []
    if with_bbv:
        r = np.zeros(8, dtype=np.float32)
        r[4] = 1.0
        rows.append(r)
    for _ in range(VOICE_FRAMES):
        r = np.zeros(8, dtype=np.float32)
        r[1] = 1.0
        r[3] = pitch
        rows.append(r)
    return np.stack(rows)


def kv_voice(path, pitch, with_bbv, dtype="F32", counter="offset", layers=LAYERS):
    rows = voice_rows(pitch, with_bbv)
    steps = rows.shape[0]
    tensors = []
    for layer in range(layers):
        module = f"transformer.layers.{layer}.self_attn"
        keys = (rows * (layer + 1)).reshape(1, steps, HEADS, HEAD_DIM)
        kv = np.stack([keys, -keys])  # [2, 1, T, H, Dh]
        tensors.append((module + "/cache", dtype, list(kv.shape), encode_float(kv, dtype)))
        if counter == "offset":
            tensors.append((module + "/offset", "I64", [1], np.asarray([steps], dtype=np.int64).tobytes()))
        else:
            tensors.append((module + "/current_end", "F32", [steps], np.zeros(steps, dtype=np.float32).tobytes()))
    write_safetensors(path, tensors)


def audio_prompt_voice(path, pitch):
    frames = np.zeros((1, VOICE_FRAMES, D), dtype=np.float32)
    frames[0, :, 1] = 1.0
    frames[0, :, 3] = pitch
    write_safetensors(path, [("audio_prompt", "F32", list(frames.shape), frames.tobytes())])


def train_tokenizer(out_dir, corpus, vocab):
    with tempfile.TemporaryDirectory() as tmp:
        prefix = os.path.join(tmp, "tok")
        subprocess.run(["spm_train", f"--input={corpus}", f"--model_prefix={prefix}", f"--vocab_size={vocab}",
                        "--model_type=unigram", "--byte_fallback=true", "--character_coverage=1.0",
                        "--unk_id=0", "--bos_id=1", "--eos_id=2", "--pad_id=3", "--num_threads=1",
                        "--split_digits=true", "--normalization_rule_name=identity",
                        "--minloglevel=2"], check=True)
        shutil.copy(prefix + ".model", os.path.join(out_dir, "tokenizer.model"))


def manifest_entry(index, module, key, dtype, shape, fill):
    return {"module": module, "key": key, "path": f"{module}/{key}", "dtype": dtype, "shape": shape,
            "fill": fill, "index": index, "input_name": f"state_{index}", "output_name": f"out_state_{index}"}


def flow_manifest(layers=LAYERS):
    out = []
    for index, module, key in flow_state_names(layers):
        if key == "cache":
            out.append(manifest_entry(index, module, key, "float32", [2, 1, CAPACITY, HEADS, HEAD_DIM], "nan"))
        elif key == "current_end":
            out.append(manifest_entry(index, module, key, "float32", [0], "empty"))
        else:
            out.append(manifest_entry(index, module, key, "int64", [1], "zeros"))
    return out


def mimi_manifest():
    out = []
    for index, (module, key, dtype, shape) in enumerate(mimi_state_table()):
        fill = "ones" if dtype == "bool" else ("empty" if 0 in shape else "zeros")
        out.append(manifest_entry(index, module, key, dtype, shape, fill))
    return out


def write_graphs(out_dir, expect_bbv, vocab, all_int8, layers=LAYERS):
    save(text_conditioner(vocab), os.path.join(out_dir, "text_conditioner.onnx"))
    save(mimi_encoder(), os.path.join(out_dir, "mimi_encoder.onnx"))
    save(flow_lm_main(expect_bbv, layers), os.path.join(out_dir, "flow_lm_main.onnx"))
    save(flow_lm_flow(expect_bbv), os.path.join(out_dir, "flow_lm_flow.onnx"))
    save(mimi_decoder(), os.path.join(out_dir, "mimi_decoder.onnx"))
    quantised = ["flow_lm_main", "flow_lm_flow", "mimi_decoder"]
    if all_int8:
        quantised += ["mimi_encoder", "text_conditioner"]
    for stem in quantised:  # tiny graphs have nothing to quantise: same graph, int8 file name
        shutil.copy(os.path.join(out_dir, stem + ".onnx"), os.path.join(out_dir, stem + "_int8.onnx"))


def write_bundle_json(path, meta):
    """bundle.json as the exporter publishes it: sorted keys, two-space indent, final newline, and
    `language` holding the model config's name (english_2026-04, french_24l), not a bare language."""
    with open(path, "w") as out:
        json.dump(meta, out, indent=2, sort_keys=True)
        out.write("\n")


def make_tiny(root, corpus):
    vocab = 400
    bundle = os.path.join(root, "tiny-bundle")
    legacy = os.path.join(root, "tiny-legacy")
    incompatible = os.path.join(root, "tiny-incompatible")
    french = os.path.join(root, "tiny-french")
    for d in (bundle, legacy, incompatible, french):
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(os.path.join(d, "voices"))

    # per-language bundle (english_2026-04 style): bundle.json, BOS-before-voice, KV voices
    train_tokenizer(bundle, corpus, vocab)
    write_graphs(bundle, expect_bbv=1, vocab=vocab, all_int8=True)
    bbv = np.zeros((1, 1, D), dtype=np.float32)
    bbv[0, 0, 4] = 1.0
    np.save(os.path.join(bundle, "bos_before_voice.npy"), bbv)
    for index, name in enumerate(ENGLISH_VOICES):
        dtype = {"anna": "BF16", "vera": "F16"}.get(name, "F32")
        kv_voice(os.path.join(bundle, "voices", name + ".safetensors"), voice_pitch(index), True, dtype)
    meta = {
        "schema_version": 2, "bundle_name": "tiny_english", "language": "english_2026-04", "sample_rate": 24000,
        "frame_rate": 12.5, "samples_per_frame": SAMPLES_PER_FRAME, "latent_dim": LATENT, "conditioning_dim": D,
        "pad_with_spaces_for_short_inputs": False, "remove_semicolons": False,
        "model_recommended_frames_after_eos": None, "max_token_per_chunk": 50, "insert_bos_before_voice": True,
        "tokenizer_file": "tokenizer.model", "bos_before_voice_file": "bos_before_voice.npy",
        "predefined_voices": ENGLISH_VOICES,
        "flow_lm_state_manifest": flow_manifest(), "mimi_state_manifest": mimi_manifest(),
    }
    write_bundle_json(os.path.join(bundle, "bundle.json"), meta)

    # legacy flat set (b6369a24 style): no bundle.json, no BOS-before-voice, older voice formats
    shutil.copy(os.path.join(bundle, "tokenizer.model"), legacy)
    write_graphs(legacy, expect_bbv=0, vocab=vocab, all_int8=False)
    for index, name in enumerate(ENGLISH_VOICES[:8]):
        path = os.path.join(legacy, "voices", name + ".safetensors")
        if name == "alba":
            audio_prompt_voice(path, voice_pitch(index))  # v1
        elif name == "marius":
            kv_voice(path, voice_pitch(index), False, counter="current_end")  # v2
        else:
            kv_voice(path, voice_pitch(index), False)  # v3

    # a second language (french_24l style): its own tokenizer (another vocabulary), voices (one of
    # them also called alba, at another pitch), flags, and 12 layers, so that the exporter's sorted
    # module names (layers.0, layers.1, layers.10, layers.11, layers.2, ...) differ from numeric
    # order: the engine must take the state order from bundle.json
    french_vocab = 350
    train_tokenizer(french, corpus, french_vocab)
    write_graphs(french, expect_bbv=1, vocab=french_vocab, all_int8=True, layers=FRENCH_LAYERS)
    np.save(os.path.join(french, "bos_before_voice.npy"), bbv)
    for index, name in enumerate(FRENCH_VOICES):
        kv_voice(os.path.join(french, "voices", name + ".safetensors"), french_pitch(index), True,
                 layers=FRENCH_LAYERS)
    meta = dict(meta)
    meta.update({
        "bundle_name": "tiny_french_12l", "language": "french_24l", "remove_semicolons": True,
        "model_recommended_frames_after_eos": 8, "predefined_voices": FRENCH_VOICES,
        "flow_lm_state_manifest": flow_manifest(FRENCH_LAYERS),
    })
    write_bundle_json(os.path.join(french, "bundle.json"), meta)

    # an export with another state contract (2 states per layer, symbolic cache length); the
    # tests put it in a copy of the legacy folder
    os.rmdir(os.path.join(incompatible, "voices"))
    save(alfredo_flow_lm_main(), os.path.join(incompatible, "flow_lm_main_int8.onnx"))


# ---------------------------------------------------------------- full-size stand-ins (benchmark)
#
# Random weights with the real dimensions, so that the benchmark measures realistic costs:
# flow LM d_model 1024, 6 layers, 16 heads x 64, FFN 4096, KV capacity 1000 (rewritten in full
# every step, as KevinAHM's export does); flow head width 512 with 6 AdaLN blocks; a decoder
# with a 2-layer d512 transformer at 200 Hz over a 1000-long ring cache and a SEANet-like
# transposed-convolution stack (x6, x5, x4) to 24 kHz. The int8 files quantise every MatMul with
# DynamicQuantizeLinear + MatMulInteger, as KevinAHM's quantize.py does. Not for the tests.

class G:
    """A small graph builder: unique names, initializers, int8 or fp32 linear layers."""

    def __init__(self, rng, int8):
        self.nodes, self.inits, self.n, self.rng, self.int8 = [], [], 0, rng, int8

    def name(self, base):
        self.n += 1
        return f"{base}_{self.n}"

    def const(self, array, base="c"):
        name = self.name(base)
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def op(self, op_type, inputs, base=None, **attrs):
        out = self.name(base or op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], **attrs))
        return out

    def linear(self, x, fan_in, fan_out, std=None, bias=True):
        w = (self.rng.standard_normal((fan_in, fan_out)) * (std or 1.0 / math.sqrt(fan_in))).astype(np.float32)
        if self.int8:
            scale = np.abs(w).max() / 127.0
            wq = np.clip(np.round(w / scale), -127, 127).astype(np.int8)
            xq = self.name("xq")
            xs = self.name("xs")
            xz = self.name("xz")
            self.nodes.append(helper.make_node("DynamicQuantizeLinear", [x], [xq, xs, xz]))
            y = self.op("MatMulInteger", [xq, self.const(wq, "wq"), xz, self.const(np.int8(0), "wz")])
            yf = self.op("Cast", [y], to=TensorProto.FLOAT)
            sc = self.op("Mul", [xs, self.const(np.float32(scale), "ws")])
            out = self.op("Mul", [yf, sc])
        else:
            out = self.op("MatMul", [x, self.const(w, "w")])
        if bias:
            out = self.op("Add", [out, self.const(np.zeros(fan_out, dtype=np.float32), "b")])
        return out

    def layer_norm(self, x, dim):
        return self.op("LayerNormalization", [x, self.const(np.ones(dim, dtype=np.float32)),
                                              self.const(np.zeros(dim, dtype=np.float32))], axis=-1, epsilon=1e-5)

    def gelu(self, x):
        # tanh approximation; Gelu is not an ONNX op before opset 20
        c = self.op("Mul", [x, self.const(np.float32(0.7978845608))])
        x3 = self.op("Mul", [self.op("Mul", [x, x]), x])
        inner = self.op("Add", [c, self.op("Mul", [x3, self.const(np.float32(0.0356774))])])
        return self.op("Mul", [self.op("Mul", [x, self.const(np.float32(0.5))]),
                               self.op("Add", [self.op("Tanh", [inner]), self.const(np.float32(1.0))])])

    def silu(self, x):
        return self.op("Mul", [x, self.op("Sigmoid", [x])])

    def conv(self, x, cin, cout, k, transpose=False, stride=1):
        if transpose:
            w = (self.rng.standard_normal((cin, cout, k)) / math.sqrt(cin * k)).astype(np.float32)
            return self.op("ConvTranspose", [x, self.const(w, "ct")], strides=[stride], kernel_shape=[k])
        w = (self.rng.standard_normal((cout, cin, k)) / math.sqrt(cin * k)).astype(np.float32)
        return self.op("Conv", [x, self.const(w, "cw")], kernel_shape=[k], pads=[k // 2, k // 2])

    def attention(self, q, cache_k, cache_v, valid, heads, head_dim, scale):
        """q [1,H,N,D], cache_k/v [1,H,T,D] (the used positions) -> [1,H,N,D]."""
        kt = self.op("Transpose", [cache_k], perm=[0, 1, 3, 2])
        scores = self.op("Mul", [self.op("MatMul", [q, kt]), self.const(np.float32(scale))])
        return self.op("MatMul", [self.op("Softmax", [scores], axis=-1), cache_v])


def kv_write(g, cache, k_new, v_new, positions, lead_dims, out):
    """Writes keys and values into a [2, *lead, T, ...] cache at `positions` (int64 [n]) with
    ScatterND straight into the graph output `out`: one copy of the cache per step, as the
    real export's in-graph clone-then-write makes (an Identity to the output would add a second)."""
    kv = g.op("Concat", [g.op("Unsqueeze", [k_new, g.const(i64([0]))]),
                         g.op("Unsqueeze", [v_new, g.const(i64([0]))])], axis=0)
    dims = [2] + lead_dims  # the axes before time
    n = g.op("Shape", [positions])
    grid_shape = g.op("Concat", [g.const(i64(dims)), n, g.const(i64([1]))], axis=0)
    parts = []
    for axis, size in enumerate(dims):
        shape = [1] * (len(dims) + 2)
        shape[axis] = size
        parts.append(g.op("Expand", [g.const(np.arange(size, dtype=np.int64).reshape(shape)), grid_shape]))
    t_shape = g.const(i64([1] * len(dims) + [-1, 1]))
    parts.append(g.op("Expand", [g.op("Reshape", [positions, t_shape]), grid_shape]))
    indices = g.op("Concat", parts, axis=-1)
    g.nodes.append(helper.make_node("ScatterND", [cache, indices, kv], [out]))
    return out


def used_prefix(g, cache, length, time_axis):
    """cache[..., :length, ...] along time_axis, then split into keys and values."""
    part = g.op("Slice", [cache, g.const(i64([0])), length, g.const(i64([time_axis]))])
    return (g.op("Gather", [part, g.const(np.int64(0))], axis=0),
            g.op("Gather", [part, g.const(np.int64(1))], axis=0))


def full_flow_lm_main(rng, int8, layers=6, d=1024, heads=16, head_dim=64, ffn=4096, capacity=1000):
    g = G(rng, int8)
    inputs = [helper.make_tensor_value_info("sequence", TensorProto.FLOAT, [1, "seq_len", LATENT]),
              helper.make_tensor_value_info("text_embeddings", TensorProto.FLOAT, [1, "text_len", d])]
    outputs = [helper.make_tensor_value_info("conditioning", TensorProto.FLOAT, [1, d]),
               helper.make_tensor_value_info("eos_logit", TensorProto.FLOAT, [1, 1])]
    seq = g.op("Where", [g.op("IsNaN", ["sequence"]), g.const(np.zeros((1, 1, LATENT), np.float32)), "sequence"])
    x = g.op("Concat", ["text_embeddings", g.linear(seq, LATENT, d)], axis=1)
    n = g.op("Gather", [g.op("Shape", [x]), g.const(i64([1]))], axis=0)
    text_len = g.op("Gather", [g.op("Shape", ["text_embeddings"]), g.const(i64([1]))], axis=0)
    heads_shape = g.const(i64([1, -1, heads, head_dim]))
    for index, module, key in flow_state_names(layers):
        name, out = f"state_{index}", f"out_state_{index}"
        if key == "cache":
            inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [2, 1, capacity, heads, head_dim]))
            outputs.append(helper.make_tensor_value_info(out, TensorProto.FLOAT, [2, 1, capacity, heads, head_dim]))
            cache = name
            cache_out = out
            continue
        if key == "current_end":
            inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [0]))
            outputs.append(helper.make_tensor_value_info(out, TensorProto.FLOAT, [0]))
            g.nodes.append(helper.make_node("Identity", [name], [out]))
            continue
        inputs.append(helper.make_tensor_value_info(name, TensorProto.INT64, [1]))
        outputs.append(helper.make_tensor_value_info(out, TensorProto.INT64, [1]))
        h = g.layer_norm(x, d)
        q = g.op("Reshape", [g.linear(h, d, d), heads_shape])
        k = g.op("Reshape", [g.linear(h, d, d), heads_shape])
        v = g.op("Reshape", [g.linear(h, d, d), heads_shape])
        positions = g.op("Add", [g.op("Range", [g.op("Squeeze", [name]), g.op("Squeeze", [g.op("Add", [name, n])]),
                                                g.const(np.int64(1))]), g.const(i64([0]))])
        new_cache = kv_write(g, cache, k, v, positions, [1], cache_out)
        end = g.op("Add", [name, n])
        g.nodes.append(helper.make_node("Identity", [end], [out]))
        ck, cv = used_prefix(g, new_cache, end, 2)
        ck = g.op("Transpose", [ck], perm=[0, 2, 1, 3])
        cv = g.op("Transpose", [cv], perm=[0, 2, 1, 3])
        att = g.attention(g.op("Transpose", [q], perm=[0, 2, 1, 3]), ck, cv, None, heads, head_dim,
                          1 / math.sqrt(head_dim))
        att = g.op("Reshape", [g.op("Transpose", [att], perm=[0, 2, 1, 3]), g.const(i64([1, -1, d]))])
        x = g.op("Add", [x, g.linear(att, d, d)])
        f = g.linear(g.gelu(g.linear(g.layer_norm(x, d), d, ffn)), ffn, d)
        x = g.op("Add", [x, f])
    out = g.layer_norm(x, d)
    # [1, d]: the first sequence row (the last row for prompt calls, whose output is unused)
    row = g.op("Min", [text_len, g.op("Sub", [n, g.const(i64([1]))])])
    first = g.op("Gather", [out, g.op("Squeeze", [row])], axis=1)
    g.nodes.append(helper.make_node("Identity", [first], ["conditioning"]))
    eos = g.op("MatMul", [first, g.const(np.zeros((d, 1), np.float32))])
    g.nodes.append(helper.make_node("Add", [eos, g.const(np.full((1, 1), -10.0, np.float32))], ["eos_logit"]))
    return helper.make_graph(g.nodes, "flow_lm_main", inputs, outputs, initializer=g.inits)


def full_flow_lm_flow(rng, int8, d=1024, width=512, blocks=6):
    g = G(rng, int8)
    freqs = np.exp(-math.log(10000) * np.arange(128) / 128).astype(np.float32).reshape(1, 128)

    def time_embedding(t):
        arg = g.op("MatMul", [t, g.const(freqs)])
        emb = g.op("Concat", [g.op("Cos", [arg]), g.op("Sin", [arg])], axis=1)
        return g.linear(g.silu(g.linear(emb, 256, width)), width, width)

    temb = g.op("Mul", [g.op("Add", [time_embedding("s"), time_embedding("t")]), g.const(np.float32(0.5))])
    cond = g.op("Add", [g.linear("c", d, width), temb])
    h = g.linear("x", LATENT, width)
    for _ in range(blocks):
        mod = g.linear(g.silu(cond), width, 3 * width)
        shift, scale, gate = (g.name("shift"), g.name("scale"), g.name("gate"))
        g.nodes.append(helper.make_node("Split", [mod, g.const(i64([width] * 3))], [shift, scale, gate], axis=1))
        y = g.op("Add", [g.op("Mul", [g.layer_norm(h, width), g.op("Add", [scale, g.const(np.float32(1))])]), shift])
        y = g.linear(g.silu(g.linear(y, width, width)), width, width)
        h = g.op("Add", [h, g.op("Mul", [gate, y])])
    out = g.linear(g.layer_norm(h, width), width, LATENT)
    g.nodes.append(helper.make_node("Identity", [out], ["flow_dir"]))
    return helper.make_graph(
        g.nodes, "flow_lm_flow",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["batch", w]) for n, w in
         (("c", d), ("s", 1), ("t", 1), ("x", LATENT))],
        [helper.make_tensor_value_info("flow_dir", TensorProto.FLOAT, ["batch", LATENT])], initializer=g.inits)


def full_mimi_decoder(rng, int8, d=512, heads=8, head_dim=64, ffn=2048, capacity=1000):
    g = G(rng, int8)
    table = mimi_state_table(REAL_MIMI_WIDTHS, REAL_MIMI_CACHE)
    inputs = [helper.make_tensor_value_info("latent", TensorProto.FLOAT, [1, "seq_len", LATENT])]
    outputs = [helper.make_tensor_value_info("audio_frame", TensorProto.FLOAT, [1, 1, "audio_len"])]
    for index, (module, key, dtype, shape) in enumerate(table):
        inputs.append(helper.make_tensor_value_info(f"state_{index}", ONNX_TYPES[dtype], shape))
        outputs.append(helper.make_tensor_value_info(f"out_state_{index}", ONNX_TYPES[dtype], shape))
    z = g.linear("latent", LATENT, d)  # [1, S, 512]
    z = g.op("Reshape", [g.linear(z, d, 16 * d, bias=False), g.const(i64([1, -1, d]))])  # x16 upsample
    n = g.op("Gather", [g.op("Shape", [z]), g.const(i64([1]))], axis=0)
    heads_shape = g.const(i64([1, -1, heads, head_dim]))
    handled = set()
    x = z
    for layer, base in ((0, 19), (1, 22)):
        cache, end_offset, offset = (f"state_{base}", f"state_{base + 1}", f"state_{base + 2}")
        h = g.layer_norm(x, d)
        q, k, v = (g.op("Transpose", [g.op("Reshape", [g.linear(h, d, d), heads_shape])], perm=[0, 2, 1, 3])
                   for _ in range(3))
        ring = g.op("Add", [g.op("Range", [g.op("Squeeze", [end_offset]),
                                           g.op("Squeeze", [g.op("Add", [end_offset, n])]), g.const(np.int64(1))]),
                            g.const(i64([0]))])
        positions = g.op("Mod", [ring, g.const(i64([capacity]))])
        new_cache = kv_write(g, cache, k, v, positions, [1, heads], f"out_state_{base}")
        used = g.op("Min", [g.op("Add", [end_offset, n]), g.const(i64([capacity]))])
        g.nodes.append(helper.make_node("Add", [end_offset, n], [f"out_state_{base + 1}"]))
        g.nodes.append(helper.make_node("Add", [offset, n], [f"out_state_{base + 2}"]))
        handled.update({base, base + 1, base + 2})
        ck, cv = used_prefix(g, new_cache, used, 3)
        att = g.attention(q, ck, cv, None, heads, head_dim, 1 / math.sqrt(head_dim))
        att = g.op("Reshape", [g.op("Transpose", [att], perm=[0, 2, 1, 3]), g.const(i64([1, -1, d]))])
        x = g.op("Add", [x, g.linear(att, d, d)])
        x = g.op("Add", [x, g.linear(g.gelu(g.linear(g.layer_norm(x, d), d, ffn)), ffn, d)])
    y = g.op("Transpose", [x], perm=[0, 2, 1])  # [1, 512, 16S]
    y = g.conv(y, d, d, 7)
    for cin, cout, stride in ((512, 256, 6), (256, 128, 5), (128, 64, 4)):
        y = g.op("Elu", [y])
        y = g.conv(y, cin, cout, 2 * stride, transpose=True, stride=stride)
        length = g.op("Mul", [g.op("Gather", [g.op("Shape", [y]), g.const(i64([2]))], axis=0),
                              g.const(i64([1]))])
        y = g.op("Slice", [y, g.const(i64([0])), g.op("Sub", [length, g.const(i64([stride]))]), g.const(i64([2]))])
        r = g.conv(g.op("Elu", [g.conv(g.op("Elu", [y]), cout, cout // 2, 3)]), cout // 2, cout, 1)
        y = g.op("Add", [y, r])
    audio = g.conv(g.op("Elu", [y]), 64, 1, 7)
    g.nodes.append(helper.make_node("Tanh", [audio], ["audio_frame"]))
    for index in range(len(table)):
        if index not in handled:
            g.nodes.append(helper.make_node("Identity", [f"state_{index}"], [f"out_state_{index}"]))
    return helper.make_graph(g.nodes, "mimi_decoder", inputs, outputs, initializer=g.inits)


def full_mimi_encoder(rng, d=1024):
    g = G(rng, False)
    frames = g.op("Reshape", ["audio", g.const(i64([1, -1, SAMPLES_PER_FRAME]))])
    out = g.linear(g.op("Tanh", [g.linear(frames, SAMPLES_PER_FRAME, 512)]), 512, d)
    g.nodes.append(helper.make_node("Identity", [out], ["latents"]))
    return helper.make_graph(g.nodes, "mimi_encoder",
                             [helper.make_tensor_value_info("audio", TensorProto.FLOAT, [1, 1, "audio_len"])],
                             [helper.make_tensor_value_info("latents", TensorProto.FLOAT, [1, "frames", d])],
                             initializer=g.inits)


def save_large(graph, path):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="make_test_models")
    model.ir_version = 8
    onnx.save(model, path)


def make_full_size(out, tokenizer):
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(1234)
    for int8 in (True, False):
        suffix = "_int8" if int8 else ""
        save_large(full_flow_lm_main(rng, int8), os.path.join(out, f"flow_lm_main{suffix}.onnx"))
        save_large(full_flow_lm_flow(rng, int8), os.path.join(out, f"flow_lm_flow{suffix}.onnx"))
        save_large(full_mimi_decoder(rng, int8), os.path.join(out, f"mimi_decoder{suffix}.onnx"))
    save_large(text_conditioner(4000, 1024), os.path.join(out, "text_conditioner.onnx"))
    save_large(full_mimi_encoder(rng), os.path.join(out, "mimi_encoder.onnx"))
    shutil.copy(tokenizer, os.path.join(out, "tokenizer.model"))
    np.save(os.path.join(out, "bos_before_voice.npy"), np.zeros((1, 1, 1024), dtype=np.float32))
    # 8 voices in the upstream KV-state format with the real shapes: 125 positions (10 s of
    # reference audio) of random keys and values per layer
    os.makedirs(os.path.join(out, "voices"), exist_ok=True)
    for name in ENGLISH_VOICES[:8]:
        tensors = []
        for layer in range(6):
            kv = (rng.standard_normal((2, 1, 125, 16, 64)) * 0.5).astype(np.float32)
            module = f"transformer.layers.{layer}.self_attn"
            tensors.append((module + "/cache", "F32", list(kv.shape), kv.tobytes()))
            tensors.append((module + "/offset", "I64", [1], np.asarray([125], dtype=np.int64).tobytes()))
        write_safetensors(os.path.join(out, "voices", name + ".safetensors"), tensors)
    manifest = []
    for index, module, key in flow_state_names(6):
        shape = {"cache": [2, 1, 1000, 16, 64], "current_end": [0], "step": [1]}[key]
        dtype = "int64" if key == "step" else "float32"
        manifest.append(manifest_entry(index, module, key, dtype, shape, "zeros"))
    mimi = [manifest_entry(i, m, k, dt, sh, "zeros") for i, (m, k, dt, sh) in enumerate(mimi_state_table(REAL_MIMI_WIDTHS, REAL_MIMI_CACHE))]
    meta = {
        "schema_version": 2, "bundle_name": "full_size_standin", "language": "english_2026-04", "sample_rate": 24000,
        "frame_rate": 12.5, "samples_per_frame": SAMPLES_PER_FRAME, "latent_dim": LATENT, "conditioning_dim": 1024,
        "pad_with_spaces_for_short_inputs": False, "remove_semicolons": False,
        "model_recommended_frames_after_eos": None, "max_token_per_chunk": 50, "insert_bos_before_voice": True,
        "tokenizer_file": "tokenizer.model", "bos_before_voice_file": "bos_before_voice.npy",
        "predefined_voices": ENGLISH_VOICES[:8], "flow_lm_state_manifest": manifest, "mimi_state_manifest": mimi,
    }
    write_bundle_json(os.path.join(out, "bundle.json"), meta)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(here)
    parser.add_argument("--out", default=os.path.join(repo, "src", "test", "resources", "models"))
    parser.add_argument("--corpus", default=os.path.join(repo, "src", "test", "resources", "text", "pride-and-prejudice.txt"))
    parser.add_argument("--full-size", metavar="OUT_DIR",
                        help="write full-size stand-in graphs with random weights for the benchmark")
    args = parser.parse_args()
    if args.full_size:
        make_full_size(args.full_size, os.path.join(args.out, "tiny-bundle", "tokenizer.model"))
        print("wrote", args.full_size)
        return
    make_tiny(args.out, args.corpus)
    print("wrote", args.out)


if __name__ == "__main__":
    sys.exit(main())
