package dev.pockettts.server.engine;

import dev.pockettts.server.engine.onnx.Node;
import dev.pockettts.server.engine.onnx.ValueInfo;
import java.util.ArrayList;
import java.util.List;

/**
 * Load-time rewrite of the flow LM's attention, after {@link KvCacheRewrite}: each layer keeps its
 * keys already scaled and transposed, and its values by head, in two state tensors the caller binds
 * in place, so no step copies the used prefix of the keys into a transposed, scaled copy (in the
 * published graph the largest data movement left: a strided transpose of every key, then a
 * multiplication of all of them, per layer and step).
 *
 * <p>Per cache {@code state_i} ({@code [2, 1, N, H, D]}, keys in half 0 and values in half 1, as
 * the export writes them; a graph with them the other way round is declined) the rewritten graph
 * reads {@code state_i_keys} ({@code [B, H, D, 64]}: every key multiplied by the scale the graph
 * multiplies them by, transposed as attention reads them, in blocks of 64 positions) and {@code
 * state_i_values} ({@code [1, H, N, D]}), writes the new positions into both with {@code ScatterND}
 * (the keys one element per index, the values one row of {@code D}; outputs {@code
 * out_state_i_keys} and {@code out_state_i_values}, to be bound to the same memory, since the
 * scatter copies nothing then), and attends from them:
 *
 * <ul>
 *   <li>the scores are {@code MatMul(q, keys)} block by block, laid side by side and sliced to the
 *       used prefix: each column of a matrix product depends only on its own column of keys (the
 *       sum over the head size runs the same way for any number of columns), so the used columns
 *       hold exactly the published scores (the unused ones, whatever the memory holds, are dropped
 *       before the mask and softmax). The blocks are the outermost axis, so a run may bind only the
 *       first blocks, those that hold the positions it reaches: its scores then read no key beyond
 *       them;
 *   <li>the values are the used prefix of {@code state_i_values}: the same numbers the published
 *       graph gathers and transposes, in the same order, for the same matrix product.
 * </ul>
 *
 * <p>The state input {@code state_i} stays, read only for shapes (the export takes the heads and
 * head size from it); its output is gone. Two outputs are added: {@code pockettts_written_state_i},
 * this run's new keys and values in the published layout ({@code [2, 1, T, H, D]}, unscaled), for
 * keeping a voice prompt's cache, and {@code pockettts_key_scale_state_i}, the scale, for bringing
 * a voice's published keys into the scaled layout ({@code float} multiplication, as the graph
 * does). The caller may bind {@code state_i} to the memory of the two split states, since nothing
 * reads its values.
 */
final class SplitCacheRewrite {

  /**
   * Metadata key: the split caches, {@code cache=keys,values,written,scale} separated by {@code ;}
   * (the outputs of keys and values are {@code out_} and the input's name).
   */
  static final String SPLIT = "pockettts.split_caches";

  /** Positions per block of the keys ({@code [blocks, H, D, BLOCK]}). */
  static final long BLOCK = 64;

  /** The symbolic number of key blocks: a run binds as many as hold the positions it reaches. */
  static final String BLOCKS_PARAM = "key_blocks";

  /** One split cache, as listed in {@link #SPLIT}. */
  record Split(String cache, String keys, String values, String written, String scale) {

    String keysOut() {
      return "out_" + keys;
    }

    String valuesOut() {
      return "out_" + values;
    }

    String entry() {
      return cache + "=" + keys + "," + values + "," + written + "," + scale;
    }

    static Split parse(String entry) {
      String[] kv = entry.split("=", 2);
      String[] parts = kv.length == 2 ? kv[1].split(",") : new String[0];
      if (parts.length != 4) {
        throw new IncompatibleModelException("unreadable split-cache metadata: " + entry);
      }
      return new Split(kv[0], parts[0], parts[1], parts[2], parts[3]);
    }
  }

  private final GraphEditor g;

  private SplitCacheRewrite(GraphEditor g) {
    this.g = g;
  }

  /**
   * Splits every cache in {@code caches} (state inputs written in place by one {@code ScatterND}),
   * giving the values' time axis the symbolic size {@code positions} (the caches' own, made
   * symbolic by {@link KvCacheRewrite}: the split needs caches of any length).
   *
   * @throws GraphRewrite.NotRecognized when a cache's attention is not the export's; the graph is
   *     then unchanged
   */
  static List<Split> apply(GraphEditor g, List<String> caches, String positions) {
    SplitCacheRewrite r = new SplitCacheRewrite(g);
    List<Plan> plans = new ArrayList<>();
    for (String cache : caches) {
      plans.add(r.plan(cache, positions));
    }
    List<Split> out = new ArrayList<>();
    for (Plan p : plans) {
      out.add(r.split(p));
    }
    g.removeUnused();
    return out;
  }

  /** What one cache's attention reads, found before anything is edited. */
  private record Plan(
      String cache,
      String output,
      String positions,
      long heads,
      long headDim,
      String keyUpdates,
      String valueUpdates,
      String end,
      List<Node> removed,
      Node scores,
      String scale,
      boolean scaleFirst,
      String valuesRead) {}

  private Plan plan(String cache, String positions) {
    ValueInfo in = null;
    for (ValueInfo v : g.inputs()) {
      if (v.getName().equals(cache)) {
        in = v;
      }
    }
    var dims = in == null ? null : in.getType().getTensorType().getShape().getDimList();
    if (dims == null
        || dims.size() != 5
        || dims.get(0).getDimValue() != 2
        || dims.get(1).getDimValue() != 1
        || !dims.get(3).hasDimValue()
        || !dims.get(4).hasDimValue()) {
      throw new GraphRewrite.NotRecognized(cache + " is not a cache [2, 1, N, H, D]");
    }
    Node scatter = null;
    for (Node n : g.consumers(cache)) {
      if (GraphEditor.is(n, "ScatterND") && n.getInput(0).equals(cache)) {
        scatter = n;
      } else if (!KvCacheRewrite.shapeOnly(g, cache, n)) {
        throw new GraphRewrite.NotRecognized(n.getName() + " reads the values of " + cache);
      }
    }
    if (scatter == null || !g.isGraphOutput(scatter.getOutput(0))) {
      throw new GraphRewrite.NotRecognized(cache + " is not written by one scatter");
    }
    String output = scatter.getOutput(0);
    Node indices = g.producer(scatter.getInput(1));
    Node updates = g.producer(scatter.getInput(2));
    if (!isConcat0(indices) || !isConcat0(updates)) {
      throw new GraphRewrite.NotRecognized(scatter.getName() + " is not the merged scatter");
    }
    Long first = KvCacheRewrite.leadingIndex(g, indices.getInput(0));
    Long second = KvCacheRewrite.leadingIndex(g, indices.getInput(1));
    if (first == null || second == null || first + second != 1 || first * second != 0) {
      throw new GraphRewrite.NotRecognized(scatter.getName() + " does not write halves 0 and 1");
    }
    // the two reads of the used prefix, one per half
    String end = null;
    Node keySlice = null;
    Node valueSlice = null;
    List<Node> removed = new ArrayList<>(List.of(scatter));
    Node scores = null;
    String scale = null;
    boolean scaleFirst = false;
    String valuesRead = null;
    long keyHalf = -1;
    for (Node slice : g.consumers(output)) {
      Prefix p = prefix(slice, output);
      if (end != null && !end.equals(p.end())) {
        throw new GraphRewrite.NotRecognized(output + " is read to two different ends");
      }
      end = p.end();
      Node t = single(p.squeezed());
      long[] perm = GraphEditor.is(t, "Transpose") ? GraphEditor.intsAttribute(t, "perm") : null;
      if (java.util.Arrays.equals(perm, new long[] {0, 2, 3, 1})) {
        Node mul = single(t.getOutput(0));
        Node matmul = GraphEditor.is(mul, "Mul") ? single(mul.getOutput(0)) : null;
        if (keySlice != null
            || matmul == null
            || !GraphEditor.is(matmul, "MatMul")
            || !matmul.getInput(1).equals(mul.getOutput(0))) {
          throw new GraphRewrite.NotRecognized(
              "the keys of " + output + " do not go through one scale to the scores");
        }
        scaleFirst = mul.getInput(1).equals(t.getOutput(0));
        scale = scaleFirst ? mul.getInput(0) : mul.getInput(1);
        keySlice = slice;
        keyHalf = p.half();
        scores = matmul;
        removed.addAll(List.of(slice, g.producer(p.squeezed()), t, mul, matmul));
      } else if (java.util.Arrays.equals(perm, new long[] {0, 2, 1, 3})) {
        Node matmul = single(t.getOutput(0));
        if (valueSlice != null
            || !GraphEditor.is(matmul, "MatMul")
            || !matmul.getInput(1).equals(t.getOutput(0))) {
          throw new GraphRewrite.NotRecognized("the values of " + output + " are not attended");
        }
        valueSlice = slice;
        valuesRead = t.getOutput(0);
        removed.addAll(List.of(slice, g.producer(p.squeezed()), t));
      } else {
        throw new GraphRewrite.NotRecognized(
            "the used prefix "
                + p.squeezed()
                + " is read by "
                + (t == null ? "more than the attention" : t.getName()));
      }
    }
    if (keySlice == null || valueSlice == null) {
      throw new GraphRewrite.NotRecognized(output + " is not read as keys and values");
    }
    if (keyHalf != 0) {
      throw new GraphRewrite.NotRecognized(output + " holds its keys in half " + keyHalf);
    }
    boolean keysFirst = keyHalf == first;
    return new Plan(
        cache,
        output,
        positions,
        dims.get(3).getDimValue(),
        dims.get(4).getDimValue(),
        keysFirst ? updates.getInput(0) : updates.getInput(1),
        keysFirst ? updates.getInput(1) : updates.getInput(0),
        end,
        removed,
        scores,
        scale,
        scaleFirst,
        valuesRead);
  }

  /** A read of the used prefix of one half: its half, its end on the time axis, its result. */
  private record Prefix(long half, String end, String squeezed) {}

  /**
   * {@code Squeeze(Slice(out, [h, 0], Concat([h + 1], end), axes [0, 2], steps 1), axis 0)}, the
   * form {@link KvCacheRewrite} leaves.
   */
  private Prefix prefix(Node slice, String output) {
    if (!GraphEditor.is(slice, "Slice")
        || !slice.getInput(0).equals(output)
        || slice.getInputCount() < 4
        || g.isGraphOutput(slice.getOutput(0))) {
      throw new GraphRewrite.NotRecognized(
          output + " is read by " + slice.getName() + ", not by a slice of its prefix");
    }
    long[] starts = g.constantInts(slice.getInput(1));
    long[] axes = g.constantInts(slice.getInput(3));
    Node ends = g.producer(slice.getInput(2));
    long[] steps = slice.getInputCount() > 4 ? concatOfConstants(slice.getInput(4)) : new long[2];
    boolean ok =
        starts != null
            && java.util.Arrays.equals(axes, new long[] {0, 2})
            && starts.length == 2
            && starts[1] == 0
            && GraphEditor.is(ends, "Concat")
            && ends.getInputCount() == 2
            && java.util.Arrays.equals(g.constantInts(ends.getInput(0)), new long[] {starts[0] + 1})
            && g.constantInts(ends.getInput(1)) == null
            && steps != null
            && steps.length == 2
            && (slice.getInputCount() <= 4 || (steps[0] == 1 && steps[1] == 1));
    Node squeeze = ok ? single(slice.getOutput(0)) : null;
    if (!GraphEditor.is(squeeze, "Squeeze")
        || !java.util.Arrays.equals(squeezeAxes(squeeze), new long[] {0})) {
      throw new GraphRewrite.NotRecognized(
          slice.getName() + " is not a read of one half's used prefix");
    }
    return new Prefix(starts[0], ends.getInput(1), squeeze.getOutput(0));
  }

  private long[] squeezeAxes(Node squeeze) {
    return squeeze.getInputCount() > 1
        ? g.constantInts(squeeze.getInput(1))
        : GraphEditor.intsAttribute(squeeze, "axes");
  }

  /** The values of a constant, or of a {@code Concat} of constants; null otherwise. */
  private long[] concatOfConstants(String tensor) {
    long[] direct = g.constantInts(tensor);
    Node p = g.producer(tensor);
    if (direct != null || !GraphEditor.is(p, "Concat")) {
      return direct;
    }
    List<Long> all = new ArrayList<>();
    for (String in : p.getInputList()) {
      long[] v = g.constantInts(in);
      if (v == null) {
        return null;
      }
      for (long x : v) {
        all.add(x);
      }
    }
    return all.stream().mapToLong(Long::longValue).toArray();
  }

  /** The only node reading {@code tensor} (which is no graph output), or null. */
  private Node single(String tensor) {
    List<Node> readers = g.consumers(tensor);
    return readers.size() == 1 && !g.isGraphOutput(tensor) ? readers.get(0) : null;
  }

  private static boolean isConcat0(Node n) {
    return GraphEditor.is(n, "Concat")
        && n.getInputCount() == 2
        && GraphEditor.intAttribute(n, "axis", 0) == 0;
  }

  // ------------------------------------------------------------------ the edit

  private Split split(Plan p) {
    Split s =
        new Split(
            p.cache(),
            p.cache() + "_keys",
            p.cache() + "_values",
            "pockettts_written_" + p.cache(),
            "pockettts_key_scale_" + p.cache());
    long h = p.heads();
    long d = p.headDim();
    List<Node> added = new ArrayList<>();
    String rows = g.int64s("rows", 1, -1, h, d);
    // the new keys, scaled and transposed as the published graph scales the used prefix
    String keys = fresh(added, "Reshape", List.of(p.keyUpdates(), rows), "keys");
    String keysT = transpose(added, keys, "keys_t", 0, 2, 3, 1);
    String scaled =
        fresh(
            added,
            "Mul",
            p.scaleFirst() ? List.of(p.scale(), keysT) : List.of(keysT, p.scale()),
            "keys_scaled");
    // their positions: the last T of the used prefix [0, end)
    String shapeK = fresh(added, "Shape", List.of(scaled), "keys_shape");
    String count =
        fresh(
            added,
            "Slice",
            List.of(shapeK, g.int64s("three", 3), g.int64s("four", 4), g.int64s("axis", 0)),
            "count");
    String start = fresh(added, "Sub", List.of(p.end(), count), "start");
    String range =
        fresh(
            added,
            "Range",
            List.of(scalar(added, start), scalar(added, p.end()), g.int64Scalar("one", 1)),
            "positions");
    // one index (block, head, component, offset) per new key component: ScatterND writes elements
    String kgrid =
        fresh(
            added,
            "Concat",
            List.of(g.int64s("heads_dims", h, d), shapeOf(added, range), g.int64s("one", 1)),
            "key_grid",
            GraphEditor.intAttr("axis", 0));
    String block = g.int64Scalar("block", BLOCK);
    String inBlocks =
        fresh(
            added,
            "Reshape",
            List.of(
                fresh(added, "Div", List.of(range, block), "blocks"), g.int64s("col", 1, 1, -1, 1)),
            "b");
    String offsets =
        fresh(
            added,
            "Reshape",
            List.of(
                fresh(added, "Mod", List.of(range, block), "offsets"),
                g.int64s("col", 1, 1, -1, 1)),
            "o");
    long[] hs = new long[(int) h];
    for (int i = 0; i < h; i++) {
      hs[i] = i;
    }
    long[] ds = new long[(int) d];
    for (int i = 0; i < d; i++) {
      ds[i] = i;
    }
    String keyIndex =
        fresh(
            added,
            "Concat",
            List.of(
                expand(added, inBlocks, kgrid),
                expand(added, g.int64Tensor("head_ids", new long[] {h, 1, 1, 1}, hs), kgrid),
                expand(added, g.int64Tensor("dim_ids", new long[] {1, d, 1, 1}, ds), kgrid),
                expand(added, offsets, kgrid)),
            "key_index",
            GraphEditor.intAttr("axis", -1));
    String keyRows =
        fresh(added, "Reshape", List.of(scaled, g.int64s("hdt", h, d, -1)), "key_rows");
    added.add(
        g.node("ScatterND", List.of(s.keys(), keyIndex, keyRows), List.of(s.keysOut())).build());
    // the scores block by block ([blocks, H, T, 64]), then as [1, H, T, blocks * 64]
    Node scores = p.scores();
    String byBlock =
        fresh(added, "MatMul", List.of(scores.getInput(0), s.keysOut()), "scores_by_block");
    String headsFirst = transpose(added, byBlock, "scores_t", 1, 2, 0, 3);
    String flat =
        fresh(added, "Reshape", List.of(headsFirst, g.int64s("keep2", 0, 0, -1)), "scores_flat");
    String all = fresh(added, "Unsqueeze", List.of(flat, g.int64s("axis", 0)), "scores");
    added.add(
        g.node(
                "Slice",
                List.of(all, g.int64s("zero", 0), p.end(), g.int64s("axis", 3)),
                scores.getOutputList())
            .build());
    // the new values by head, and the used prefix of them
    String values = fresh(added, "Reshape", List.of(p.valueUpdates(), rows), "values");
    String valuesT = transpose(added, values, "values_t", 0, 2, 1, 3);
    // one index (batch, head, position) per written row of D values: ScatterND copies rows
    String rowsShape =
        fresh(
            added,
            "Concat",
            List.of(
                fresh(
                    added,
                    "Slice",
                    List.of(
                        fresh(added, "Shape", List.of(valuesT), "values_shape"),
                        g.int64s("zero", 0),
                        g.int64s("three", 3),
                        g.int64s("axis", 0)),
                    "rows_of"),
                g.int64s("one", 1)),
            "rows_shape",
            GraphEditor.intAttr("axis", 0));
    long[] headIds = new long[(int) h];
    for (int i = 0; i < h; i++) {
      headIds[i] = i;
    }
    String batch = expand(added, g.int64Filled("batch", new long[] {1, 1, 1, 1}, 0), rowsShape);
    String head =
        expand(added, g.int64Tensor("heads", new long[] {1, h, 1, 1}, headIds), rowsShape);
    String position =
        expand(
            added,
            fresh(added, "Reshape", List.of(range, g.int64s("column", 1, 1, -1, 1)), "p"),
            rowsShape);
    String valueIndex =
        fresh(
            added,
            "Concat",
            List.of(batch, head, position),
            "value_index",
            GraphEditor.intAttr("axis", -1));
    added.add(
        g.node("ScatterND", List.of(s.values(), valueIndex, valuesT), List.of(s.valuesOut()))
            .build());
    added.add(
        g.node(
                "Slice",
                List.of(s.valuesOut(), g.int64s("zero", 0), p.end(), g.int64s("axis", 2)),
                List.of(p.valuesRead()))
            .build());
    // this run's positions in the published layout, and the scale
    List<String> halves = List.of(p.keyUpdates(), p.valueUpdates()); // halves 0 and 1
    String both = fresh(added, "Concat", halves, "written", GraphEditor.intAttr("axis", 0));
    added.add(
        g.node(
                "Reshape",
                List.of(both, g.int64s("cache_rows", 2, 1, -1, h, d)),
                List.of(s.written()))
            .build());
    added.add(g.node("Identity", List.of(p.scale()), List.of(s.scale())).build());

    for (Node n : p.removed()) {
      g.remove(n);
    }
    for (Node n : added) {
      g.append(n);
    }
    g.removeOutput(p.output());
    String t = p.positions();
    g.addInput(GraphEditor.tensorInfo(s.keys(), GraphEditor.FLOAT, BLOCKS_PARAM, h, d, BLOCK));
    g.addInput(GraphEditor.tensorInfo(s.values(), GraphEditor.FLOAT, 1L, h, t, d));
    g.addOutput(GraphEditor.tensorInfo(s.keysOut(), GraphEditor.FLOAT, BLOCKS_PARAM, h, d, BLOCK));
    g.addOutput(GraphEditor.tensorInfo(s.valuesOut(), GraphEditor.FLOAT, 1L, h, t, d));
    g.addOutput(
        GraphEditor.tensorInfo(s.written(), GraphEditor.FLOAT, 2L, 1L, "written_positions", h, d));
    g.addOutput(GraphEditor.tensorInfo(s.scale(), GraphEditor.FLOAT));
    return s;
  }

  /** Adds {@code op(inputs)} with a fresh output named from {@code hint}; returns the output. */
  private String fresh(
      List<Node> added,
      String op,
      List<String> inputs,
      String hint,
      dev.pockettts.server.engine.onnx.Attribute... attributes) {
    String out = g.freshName(hint);
    Node.Builder b = g.node(op, inputs, List.of(out));
    for (var a : attributes) {
      b.addAttribute(a);
    }
    added.add(b.build());
    return out;
  }

  private String transpose(List<Node> added, String tensor, String hint, long... perm) {
    return fresh(added, "Transpose", List.of(tensor), hint, GraphEditor.intsAttr("perm", perm));
  }

  private String shapeOf(List<Node> added, String tensor) {
    return fresh(added, "Shape", List.of(tensor), "shape");
  }

  private String expand(List<Node> added, String tensor, String shape) {
    return fresh(added, "Expand", List.of(tensor, shape), "index");
  }

  /** A [1] int64 tensor as a scalar. */
  private String scalar(List<Node> added, String oneElement) {
    String out = g.freshName("scalar");
    if (g.opset() >= 13) {
      added.add(g.node("Squeeze", List.of(oneElement, g.int64s("axis", 0)), List.of(out)).build());
    } else {
      added.add(
          g.node("Squeeze", List.of(oneElement), List.of(out))
              .addAttribute(GraphEditor.intsAttr("axes", 0))
              .build());
    }
    return out;
  }
}
