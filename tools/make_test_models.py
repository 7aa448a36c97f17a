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
        const("kv_sign", f32([[1.0], [-1.0]])),
        const("fzero", f32([0.0])),
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
                helper.make_node("Concat", [p + "keys", p + "values"], [p + "kv"], axis=0),
                helper.make_node("Add", [name, "n"], [p + "end"]),
                helper.make_node("Sub", ["capacity", p + "end"], [p + "after"]),
                helper.make_node("Concat", ["zero2", name, "zero4", p + "after", "zero2b"], [p + "pads"], axis=0),
                helper.make_node("Pad", [p + "kv", p + "pads"], [p + "placed"]),
                helper.make_node("GreaterOrEqual", ["pos", name], [p + "ge"]),
                helper.make_node("Less", ["pos", p + "end"], [p + "lt"]),
                helper.make_node("And", [p + "ge", p + "lt"], [p + "new"]),
                helper.make_node("Where", [p + "new", p + "placed", cache_name], [cache_out]),
                helper.make_node("Identity", [p + "end"], [out]),
                # read back the valid prefix [0, end) of both halves of this layer's cache
                helper.make_node("Where", [p + "lt", cache_out, "fzero"], [p + "valid"]),
                helper.make_node("Reshape", [p + "valid", "flat_shape"], [p + "flat"]),
                helper.make_node("ReduceSum", [p + "flat", "idx1"], [p + "sums"], keepdims=0),
                helper.make_node("Mul", [p + "sums", "kv_sign"], [p + "signed"]),
                helper.make_node("ReduceSum", [p + "signed", "zero1"], [p + "feat0"], keepdims=0),
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

def mimi_state_table():
    """(module, key, dtype, shape) for the 56 decoder states, real order, tiny sizes."""
    b, f, i = "bool", "float32", "int64"
    t = []

    def conv(module, channels, width):
        t.append((module, "first", b, [1]))
        t.append((module, "previous", f, [1, channels, width]))

    conv("decoder.model.0", 8, 6)
    conv("decoder.model.11", 4, 2)
    t.append(("decoder.model.2", "partial", f, [1, 8, 6]))
    conv("decoder.model.3.block.1", 8, 2)
    conv("decoder.model.3.block.3", 4, 0)
    t.append(("decoder.model.5", "partial", f, [1, 4, 5]))
    conv("decoder.model.6.block.1", 4, 2)
    conv("decoder.model.6.block.3", 4, 0)
    t.append(("decoder.model.8", "partial", f, [1, 4, 4]))
    conv("decoder.model.9.block.1", 4, 2)
    conv("decoder.model.9.block.3", 2, 0)
    for layer in range(2):
        module = f"decoder_transformer.transformer.layers.{layer}.self_attn"
        t.append((module, "cache", f, list(MIMI_CACHE)))
        t.append((module, "end_offset", i, [1]))
        t.append((module, "offset", i, [1]))
    conv("downsample.conv", 8, 16)
    for k in range(11):
        conv(f"encoder.model.{k}", 4, 2 if k % 3 else 0)
    for layer in range(2):
        module = f"encoder_transformer.transformer.layers.{layer}.self_attn"
        t.append((module, "cache", f, list(MIMI_CACHE)))
        t.append((module, "end_offset", i, [1]))
        t.append((module, "offset", i, [1]))
    t.append(("upsample.convtr", "partial", f, [1, 8, 16]))
    assert len(t) == 56 and sum(1 for e in t if e[2] == b) == 20
    return t


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


def kv_voice(path, pitch, with_bbv, dtype="F32", counter="offset"):
    rows = voice_rows(pitch, with_bbv)
    steps = rows.shape[0]
    tensors = []
    for layer in range(LAYERS):
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
                        "--split_digits=true", "--minloglevel=2"], check=True)
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


def write_graphs(out_dir, expect_bbv, vocab, all_int8):
    save(text_conditioner(vocab), os.path.join(out_dir, "text_conditioner.onnx"))
    save(mimi_encoder(), os.path.join(out_dir, "mimi_encoder.onnx"))
    save(flow_lm_main(expect_bbv), os.path.join(out_dir, "flow_lm_main.onnx"))
    save(flow_lm_flow(expect_bbv), os.path.join(out_dir, "flow_lm_flow.onnx"))
    save(mimi_decoder(), os.path.join(out_dir, "mimi_decoder.onnx"))
    quantised = ["flow_lm_main", "flow_lm_flow", "mimi_decoder"]
    if all_int8:
        quantised += ["mimi_encoder", "text_conditioner"]
    for stem in quantised:  # tiny graphs have nothing to quantise: same graph, int8 file name
        shutil.copy(os.path.join(out_dir, stem + ".onnx"), os.path.join(out_dir, stem + "_int8.onnx"))


def make_tiny(root, corpus):
    vocab = 400
    bundle = os.path.join(root, "tiny-bundle")
    legacy = os.path.join(root, "tiny-legacy")
    incompatible = os.path.join(root, "tiny-incompatible")
    for d in (bundle, legacy, incompatible):
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
        "schema_version": 2, "bundle_name": "tiny_english", "language": "english", "sample_rate": 24000,
        "frame_rate": 12.5, "samples_per_frame": SAMPLES_PER_FRAME, "latent_dim": LATENT, "conditioning_dim": D,
        "pad_with_spaces_for_short_inputs": False, "remove_semicolons": False,
        "model_recommended_frames_after_eos": None, "max_token_per_chunk": 50, "insert_bos_before_voice": True,
        "tokenizer_file": "tokenizer.model", "bos_before_voice_file": "bos_before_voice.npy",
        "predefined_voices": ENGLISH_VOICES,
        "flow_lm_state_manifest": flow_manifest(), "mimi_state_manifest": mimi_manifest(),
    }
    with open(os.path.join(bundle, "bundle.json"), "w") as out:
        json.dump(meta, out, indent=1)
        out.write("\n")

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

    # an export with another state contract (2 states per layer, symbolic cache length)
    for name in os.listdir(legacy):
        if name.endswith(".onnx") or name == "tokenizer.model":
            shutil.copy(os.path.join(legacy, name), incompatible)
    save(alfredo_flow_lm_main(), os.path.join(incompatible, "flow_lm_main_int8.onnx"))
    save(alfredo_flow_lm_main(), os.path.join(incompatible, "flow_lm_main.onnx"))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(here)
    parser.add_argument("--out", default=os.path.join(repo, "src", "test", "resources", "models"))
    parser.add_argument("--corpus", default=os.path.join(repo, "src", "test", "resources", "text", "pride-and-prejudice.txt"))
    args = parser.parse_args()
    make_tiny(args.out, args.corpus)
    print("wrote", args.out)


if __name__ == "__main__":
    sys.exit(main())
