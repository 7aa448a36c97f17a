package dev.pockettts.server.engine;

import dev.pockettts.server.engine.onnx.Node;
import java.util.ArrayList;
import java.util.List;

/**
 * Load-time rewrite of the Mimi encoder's self-attention: the export computes every query against
 * every key ({@code [heads, T, T]} scores, 128 MB per layer for 10 s of audio at 200 Hz) and masks
 * all but the last {@code C} keys of each query (the transformer's context, 250) with {@code -inf}.
 * The rewrite cuts the sequence into blocks of {@code C} queries and gives each block only the keys
 * it can see: its own block and the one before ({@code [heads, T/C, C, 2C]} scores, 4 times fewer
 * for 10 s and falling with the length). The masked entries are exact zeros after the softmax in
 * both graphs, so the two agree to float rounding; the mask that selects the same keys is built
 * from the same context. Only the exporter's mask pattern is recognised: {@code Where(j >= 0 and i
 * - j >= 0 and i - j < C, 0, -inf)} with {@code i} the query and {@code j} the key position, added
 * to {@code MatMul(q, kT)} before a softmax over the keys whose result multiplies {@code v}.
 */
final class BandedAttentionRewrite {

  private BandedAttentionRewrite() {}

  /** One recognised attention: its nodes and the context {@code C}. */
  private record Attention(
      Node scores,
      Node add,
      Node softmax,
      Node values,
      String q,
      String kT,
      String v,
      int context) {}

  /**
   * Rewrites every recognised attention of {@code g} and returns how many.
   *
   * @throws GraphRewrite.NotRecognized when there is none
   */
  static int apply(GraphEditor g) {
    List<Attention> found = new ArrayList<>();
    List<String> skipped = new ArrayList<>();
    for (Node n : g.nodes()) {
      if (GraphEditor.is(n, "Softmax")) {
        Object r = recognise(g, n);
        if (r instanceof Attention a) {
          found.add(a);
        } else {
          skipped.add(n.getName() + ": " + r);
        }
      }
    }
    if (found.isEmpty()) {
      throw new GraphRewrite.NotRecognized(
          skipped.isEmpty() ? "no Softmax" : "no banded attention (" + skipped + ")");
    }
    for (Attention a : found) {
      rewrite(g, a);
    }
    g.removeUnused();
    return found.size();
  }

  /** The attention around {@code softmax}, or a string saying why it is not one. */
  private static Object recognise(GraphEditor g, Node softmax) {
    if (GraphEditor.intAttribute(softmax, "axis", -1) != -1) {
      return "not over the last axis";
    }
    Node add = g.producer(softmax.getInput(0));
    if (!GraphEditor.is(add, "Add") || g.consumers(add.getOutput(0)).size() != 1) {
      return "its input is not an Add of scores and a mask";
    }
    Node scores = null;
    Node bias = null;
    for (String in : add.getInputList()) {
      Node p = g.producer(in);
      if (GraphEditor.is(p, "MatMul")) {
        scores = p;
      } else if (GraphEditor.is(p, "Where")) {
        bias = p;
      }
    }
    if (scores == null || bias == null || g.consumers(scores.getOutput(0)).size() != 1) {
      return "its input is not MatMul(q, kT) + Where(mask, 0, -inf)";
    }
    Float zero = g.scalarFloat(bias.getInput(1));
    Float minus = g.scalarFloat(bias.getInput(2));
    if (zero == null || zero != 0f || minus == null || minus != Float.NEGATIVE_INFINITY) {
      return "the mask does not choose between 0 and -inf";
    }
    Integer context = bandContext(g, bias.getInput(0));
    if (context == null) {
      return "the mask is not the causal band j >= 0, 0 <= i - j < C";
    }
    List<Node> readers = g.consumers(softmax.getOutput(0));
    if (readers.size() != 1
        || !GraphEditor.is(readers.get(0), "MatMul")
        || !readers.get(0).getInput(0).equals(softmax.getOutput(0))) {
      return "its result is not multiplied by the values alone";
    }
    Node values = readers.get(0);
    return new Attention(
        scores,
        add,
        softmax,
        values,
        scores.getInput(0),
        scores.getInput(1),
        values.getInput(1),
        context);
  }

  /**
   * The context {@code C} of a mask {@code [Unsqueeze(] j >= 0 and i - j >= 0 and i - j < C [)]}
   * (the three conditions in any order of And), where {@code i} is a column of query positions and
   * {@code j} a row of key positions, both counted by {@code Range(0, n, 1)}; null otherwise.
   */
  private static Integer bandContext(GraphEditor g, String mask) {
    Node p = g.producer(mask);
    while (GraphEditor.is(p, "Unsqueeze")) {
      p = g.producer(p.getInput(0));
    }
    List<Node> conditions = new ArrayList<>();
    collectAnd(g, p, conditions);
    if (conditions.size() != 3) {
      return null;
    }
    String diff = null;
    Long context = null;
    int nonNegative = 0;
    List<String> nonNegativeOf = new ArrayList<>();
    for (Node c : conditions) {
      if (GraphEditor.is(c, "GreaterOrEqual") && isInt(g, c.getInput(1), 0)) {
        nonNegative++;
        nonNegativeOf.add(c.getInput(0));
      } else if (GraphEditor.is(c, "Less")) {
        diff = c.getInput(0);
        long[] v = g.constantInts(c.getInput(1));
        context = v != null && v.length == 1 ? v[0] : null;
      } else {
        return null;
      }
    }
    if (nonNegative != 2 || diff == null || context == null || context < 1 || context > 1 << 16) {
      return null;
    }
    Node sub = g.producer(diff);
    if (!GraphEditor.is(sub, "Sub")) {
      return null;
    }
    String key = sub.getInput(1);
    if (!nonNegativeOf.contains(diff) || !nonNegativeOf.contains(key)) {
      return null;
    }
    if (!isPositions(g, sub.getInput(0), true) || !isPositions(g, key, false)) {
      return null;
    }
    return context.intValue();
  }

  private static void collectAnd(GraphEditor g, Node n, List<Node> into) {
    if (GraphEditor.is(n, "And")) {
      for (String in : n.getInputList()) {
        collectAnd(g, g.producer(in), into);
      }
    } else {
      into.add(n);
    }
  }

  /** True when {@code tensor} is an int64 constant holding just {@code value}. */
  private static boolean isInt(GraphEditor g, String tensor, long value) {
    long[] v = g.constantInts(tensor);
    return v != null && v.length == 1 && v[0] == value;
  }

  /**
   * True when {@code tensor} is {@code Range(0, n, 1)} reshaped, unsqueezed or expanded; for the
   * query positions ({@code column}) one of those reshapes must end in a dimension of 1.
   */
  private static boolean isPositions(GraphEditor g, String tensor, boolean column) {
    boolean columnSeen = false;
    Node p = g.producer(tensor);
    while (GraphEditor.is(p, "Reshape")
        || GraphEditor.is(p, "Unsqueeze")
        || GraphEditor.is(p, "Expand")) {
      if (GraphEditor.is(p, "Reshape")) {
        long[] shape = g.constantInts(p.getInput(1));
        columnSeen |= shape != null && shape.length == 2 && shape[1] == 1;
      }
      p = g.producer(p.getInput(0));
    }
    return GraphEditor.is(p, "Range")
        && isInt(g, p.getInput(0), 0)
        && isInt(g, p.getInput(2), 1)
        && columnSeen == column;
  }

  private static void rewrite(GraphEditor g, Attention a) {
    int c = a.context();
    List<Node> out = new ArrayList<>();
    // dimensions of q [1, heads, T, D]: lead = [1, heads], t = [T], d = [D]
    String lead = shape(g, out, a.q(), 0, 2);
    String t = shape(g, out, a.q(), 2, 3);
    String d = shape(g, out, a.q(), 3, 4);
    String blocks =
        op(g, out, "Div", op(g, out, "Add", t, g.int64s("c_minus_1", c - 1)), g.int64s("c", c));
    String pad = op(g, out, "Sub", op(g, out, "Mul", blocks, g.int64s("c", c)), t);
    String blockShape = concat(g, out, lead, g.int64s("blocks_of_c", -1, c), d);
    // queries: padded at the end to whole blocks, [1, heads, T/C, C, D]
    String qPads = concat(g, out, g.int64s("q_pads", 0, 0, 0, 0, 0, 0), pad, g.int64s("zero", 0));
    String q = op(g, out, "Reshape", op(g, out, "Pad", a.q(), qPads), blockShape);
    // keys (given transposed, [1, heads, D, T]): one block of zeros in front, then each block
    // next to the one before: [1, heads, T/C, D, 2C]
    String kPads = concat(g, out, g.int64s("k_pads", 0, 0, 0, c, 0, 0, 0), pad);
    String kBlocks =
        op(
            g,
            out,
            "Reshape",
            op(g, out, "Pad", a.kT(), kPads),
            concat(g, out, lead, d, g.int64s("blocks_of_c", -1, c)));
    Node kTranspose =
        g.node("Transpose", List.of(kBlocks), List.of(g.freshName("k_blocks")))
            .addAttribute(GraphEditor.intsAttr("perm", 0, 1, 3, 2, 4))
            .build();
    out.add(kTranspose);
    String k = pairs(g, out, kTranspose.getOutput(0), 4);
    // values [1, heads, T, D]: the same, [1, heads, T/C, 2C, D]
    String vPads = concat(g, out, g.int64s("v_pads", 0, 0, c, 0, 0, 0), pad, g.int64s("zero", 0));
    String v = pairs(g, out, op(g, out, "Reshape", op(g, out, "Pad", a.v(), vPads), blockShape), 3);
    // the mask of each block: query q of the block sees keys q+1 .. q+C of its 2C keys (positions
    // i-C+1 .. i), and in the first block none of the C zeros in front
    float[] band = new float[c * 2 * c];
    float[] first = new float[c * 2 * c];
    for (int qi = 0; qi < c; qi++) {
      for (int ki = 0; ki < 2 * c; ki++) {
        boolean sees = ki > qi && ki <= qi + c;
        band[qi * 2 * c + ki] = sees ? 0f : Float.NEGATIVE_INFINITY;
        first[qi * 2 * c + ki] = sees && ki >= c ? 0f : Float.NEGATIVE_INFINITY;
      }
    }
    long[] maskDims = {1, 1, 1, c, 2L * c};
    String all =
        op(
            g,
            out,
            "Expand",
            g.floats("band_mask", maskDims, band),
            concat(g, out, g.int64s("ones", 1, 1), blocks, g.int64s("block_mask", c, 2L * c)));
    String later = slice(g, out, all, 1, Long.MAX_VALUE, 2);
    Node mask =
        g.node(
                "Concat",
                List.of(g.floats("first_block_mask", maskDims, first), later),
                List.of(g.freshName("mask")))
            .addAttribute(GraphEditor.intAttr("axis", 2))
            .build();
    out.add(mask);
    String scores = op(g, out, "Add", op(g, out, "MatMul", q, k), mask.getOutput(0));
    Node softmax =
        g.node("Softmax", List.of(scores), List.of(g.freshName("weights")))
            .addAttribute(GraphEditor.intAttr("axis", -1))
            .build();
    out.add(softmax);
    String attended = op(g, out, "MatMul", softmax.getOutput(0), v);
    String flat =
        op(g, out, "Reshape", attended, concat(g, out, lead, g.int64s("minus_one", -1), d));
    out.add(
        g.node(
                "Slice",
                List.of(flat, g.int64s("zero", 0), t, g.int64s("axis", 2)),
                a.values().getOutputList())
            .build());
    g.remove(a.scores());
    g.remove(a.add());
    g.remove(a.softmax());
    g.replace(a.values(), out);
  }

  /**
   * Blocks 0..n-2 next to blocks 1..n-1 of {@code blocks} (blocks on axis 2), along {@code axis}.
   */
  private static String pairs(GraphEditor g, List<Node> out, String blocks, int axis) {
    String before = slice(g, out, blocks, 0, -1, 2);
    String own = slice(g, out, blocks, 1, Long.MAX_VALUE, 2);
    Node n =
        g.node("Concat", List.of(before, own), List.of(g.freshName("pairs")))
            .addAttribute(GraphEditor.intAttr("axis", axis))
            .build();
    out.add(n);
    return n.getOutput(0);
  }

  private static String slice(
      GraphEditor g, List<Node> out, String x, long start, long end, long axis) {
    return op(
        g, out, "Slice", x, g.int64s("start", start), g.int64s("end", end), g.int64s("axis", axis));
  }

  private static String shape(GraphEditor g, List<Node> out, String x, long start, long end) {
    Node n =
        g.node("Shape", List.of(x), List.of(g.freshName("dims")))
            .addAttribute(GraphEditor.intAttr("start", start))
            .addAttribute(GraphEditor.intAttr("end", end))
            .build();
    out.add(n);
    return n.getOutput(0);
  }

  private static String concat(GraphEditor g, List<Node> out, String... parts) {
    Node n =
        g.node("Concat", List.of(parts), List.of(g.freshName("shape")))
            .addAttribute(GraphEditor.intAttr("axis", 0))
            .build();
    out.add(n);
    return n.getOutput(0);
  }

  private static String op(GraphEditor g, List<Node> out, String type, String... inputs) {
    Node n = g.node(type, List.of(inputs), List.of(g.freshName(type.toLowerCase()))).build();
    out.add(n);
    return n.getOutput(0);
  }
}
