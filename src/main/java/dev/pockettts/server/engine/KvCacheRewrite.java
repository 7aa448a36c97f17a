package dev.pockettts.server.engine;

import dev.pockettts.server.engine.onnx.Attribute;
import dev.pockettts.server.engine.onnx.Node;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Load-time rewrite of the flow LM's KV-cache updates, for the KevinAHM export (CONTRACT.md 2.1),
 * which per layer and step copies the whole cache four times: {@code cache[0]} and {@code cache[1]}
 * are gathered whole only to take the shape of the new positions, and the keys and values are
 * written by two chained {@code ScatterND} nodes, each of which copies the whole cache before
 * writing. The rewrite keeps every value the graph computes and removes those copies:
 *
 * <ol>
 *   <li>the two scatters become one (their index sets are disjoint: one writes {@code cache[0]},
 *       the other {@code cache[1]}), reading the state input and writing the state output; nodes
 *       that read the intermediate cache only for its shape read the state input instead;
 *   <li>{@code Gather(cache, c, axis 0)} followed by a {@code Slice} becomes the {@code Slice} (one
 *       axis further) followed by the {@code Gather}: the same values, a copy of the new positions
 *       instead of half the cache;
 *   <li>{@code Slice(out, 0, end)} followed by {@code Gather(c, axis 0)} becomes one {@code Slice}
 *       over both axes and a {@code Squeeze} (a view): one copy of the used prefix instead of two.
 * </ol>
 *
 * When nothing else in the graph depends on the caches' length (see {@link #lengthFree}), their
 * time axis is declared symbolic: a run may then bind caches that hold only the positions it
 * reaches, a quarter of the published 1000 for a chunk of a few seconds.
 *
 * <p>With the scatter writing straight from the state input to the state output, ONNX Runtime skips
 * its copy when the caller binds the same memory as both (its {@code ScatterND} copies only when
 * input and output buffers differ). That is safe only when every node that reads the state input's
 * values runs before the scatter, which the rewrite checks per cache and records in the model's
 * metadata ({@link #IN_PLACE}). A graph whose caches are already written by one scatter straight
 * from state to state (another export) is only marked; a graph without either pattern is declined
 * with the reason.
 */
final class KvCacheRewrite {

  /** Metadata key: comma-separated state inputs whose memory may be bound as their output too. */
  static final String IN_PLACE = "pockettts.in_place_states";

  /**
   * Metadata key: comma-separated cache inputs whose time axis (axis 2) the rewritten graph takes
   * at any length that holds the positions a run reaches (declared symbolic, {@link
   * #CACHE_POSITIONS} the published length).
   */
  static final String RESIZABLE = "pockettts.resizable_caches";

  /** Metadata key: the cache length the published graph declares (the most positions). */
  static final String CACHE_POSITIONS = "pockettts.cache_positions";

  /** The symbolic size the rewritten graph gives the caches' time axis. */
  static final String POSITIONS_PARAM = "cache_positions";

  /** What the rewrite found: caches that may be bound in place, and caches that may be shorter. */
  record Result(List<String> inPlace, List<String> resizable, long positions) {}

  private static final Set<String> VIEWS =
      Set.of("Reshape", "Squeeze", "Unsqueeze", "Identity", "Flatten");
  private static final Set<String> SHAPE_PRESERVING =
      Set.of("Gather", "Slice", "Squeeze", "Unsqueeze", "Reshape", "Identity", "Transpose");

  private final GraphEditor g;

  private KvCacheRewrite(GraphEditor g) {
    this.g = g;
  }

  /** One cache: the state input, the state output, and the scatters between them, in order. */
  private record Cache(String input, String output, List<Node> scatters) {}

  /**
   * Rewrites {@code g} in place and returns the state inputs that may be bound in place.
   *
   * @throws GraphRewrite.NotRecognized when the graph does not have the export's pattern
   */
  static Result apply(GraphEditor g) {
    return new KvCacheRewrite(g).run();
  }

  private Result run() {
    List<Cache> caches = findCaches();
    if (caches.isEmpty()) {
      throw new GraphRewrite.NotRecognized("no state output is written by ScatterND from a state");
    }
    for (Cache c : caches) {
      mergeScatters(c);
    }
    int swapped = 0;
    int prefixes = 0;
    for (Cache c : caches) {
      swapped += sliceBeforeGather(c.input());
      prefixes += slicePrefixOnce(c.output());
    }
    g.removeUnused(); // what only the removed copies read (shapes, constants)
    List<String> inPlace = new ArrayList<>();
    for (int i = 0; i < caches.size(); i++) {
      Node scatter = g.producer(caches.get(i).output());
      if (scatter != null && readsBeforeWrite(caches.get(i).input(), scatter)) {
        inPlace.add(caches.get(i).input());
      }
    }
    boolean edited =
        swapped > 0 || prefixes > 0 || caches.stream().anyMatch(c -> c.scatters().size() > 1);
    if (!edited && inPlace.isEmpty()) {
      throw new GraphRewrite.NotRecognized(
          "the cache updates hold no copy this rewrite removes, and cannot be made in place");
    }
    long positions = timeLength(caches.get(0).input());
    boolean resizable = positions > 0;
    for (Cache c : caches) {
      resizable &= timeLength(c.input()) == positions && lengthFree(c);
    }
    List<String> shorter = new ArrayList<>();
    if (resizable) {
      for (Cache c : caches) {
        g.symbolicDim(c.input(), 2, POSITIONS_PARAM);
        g.symbolicDim(c.output(), 2, POSITIONS_PARAM);
        shorter.add(c.input());
      }
    }
    return new Result(inPlace, shorter, positions);
  }

  // ------------------------------------------------------------------ shorter caches

  /** The declared length of a cache input's time axis, or -1 when it is not a fixed size. */
  private long timeLength(String input) {
    for (var v : g.inputs()) {
      if (v.getName().equals(input)) {
        var dims = v.getType().getTensorType().getShape().getDimList();
        return dims.size() == 5 && dims.get(2).hasDimValue() ? dims.get(2).getDimValue() : -1;
      }
    }
    return -1;
  }

  /**
   * Whether nothing the graph computes depends on the cache's length, only on the positions a run
   * reaches: the cache input is read only by the scatter (into the cache output), by slices whose
   * end on the time axis is computed (not a constant length), and by {@code Shape} nodes of which
   * only other axes are taken; the cache output only by such slices. Then a cache of any length
   * that holds those positions gives the same results. The published export passes (its shapes take
   * only the heads and head size); a graph that reads the length is left at its length.
   */
  private boolean lengthFree(Cache c) {
    for (Node n : g.consumers(c.input())) {
      boolean ok =
          switch (n.getOpType()) {
            case "ScatterND" ->
                n.getInput(0).equals(c.input()) && n.getOutput(0).equals(c.output());
            case "Slice" -> slicesTimeToComputedEnd(n, c.input());
            case "Shape" -> takesNoTimeAxis(n);
            default -> false;
          };
      if (!ok) {
        return false;
      }
    }
    for (Node n : g.consumers(c.output())) {
      if (!GraphEditor.is(n, "Slice") || !slicesTimeToComputedEnd(n, c.output())) {
        return false;
      }
    }
    return true;
  }

  /**
   * A slice of {@code data} (its only use of it) on axis 2 among constant axes, to a computed end.
   */
  private boolean slicesTimeToComputedEnd(Node n, String data) {
    if (!n.getInput(0).equals(data) || n.getInputCount() < 4) {
      return false;
    }
    for (int i = 1; i < n.getInputCount(); i++) {
      if (n.getInput(i).equals(data)) {
        return false;
      }
    }
    long[] axes = g.constantInts(n.getInput(3));
    if (axes == null) {
      return false;
    }
    boolean time = false;
    for (long a : axes) {
      time |= a == 2 || a == -3;
    }
    return time && g.constantInts(n.getInput(2)) == null;
  }

  /** A {@code Shape} whose every reader takes constant entries of it other than entry 2. */
  private boolean takesNoTimeAxis(Node shape) {
    long from = GraphEditor.intAttribute(shape, "start", 0);
    long to = GraphEditor.intAttribute(shape, "end", 5);
    from = from < 0 ? from + 5 : from;
    to = to < 0 ? to + 5 : Math.min(to, 5);
    if (from > 2 || to <= 2) {
      return true; // the shape holds no time entry at all
    }
    for (Node reader : g.consumers(shape.getOutput(0))) {
      if (!reader.getInput(0).equals(shape.getOutput(0))) {
        return false;
      }
      long time = 2 - from; // the time entry's index in this shape vector
      long size = to - from;
      if (GraphEditor.is(reader, "Gather") && reader.getInputCount() == 2) {
        long[] idx = g.constantInts(reader.getInput(1));
        if (idx == null) {
          return false;
        }
        for (long i : idx) {
          if ((i < 0 ? i + size : i) == time) {
            return false;
          }
        }
      } else if (GraphEditor.is(reader, "Slice") && reader.getInputCount() >= 3) {
        long[] st = g.constantInts(reader.getInput(1));
        long[] en = g.constantInts(reader.getInput(2));
        long[] steps = reader.getInputCount() > 4 ? g.constantInts(reader.getInput(4)) : null;
        if (st == null || en == null || st.length != 1 || en.length != 1) {
          return false;
        }
        if (reader.getInputCount() > 4 && (steps == null || steps.length != 1 || steps[0] != 1)) {
          return false;
        }
        long a = st[0] < 0 ? st[0] + size : Math.min(st[0], size);
        long b = en[0] < 0 ? en[0] + size : Math.min(en[0], size);
        if (a <= time && time < b) {
          return false;
        }
      } else {
        return false;
      }
    }
    return true;
  }

  // ------------------------------------------------------------------ finding the caches

  private List<Cache> findCaches() {
    List<Cache> out = new ArrayList<>();
    for (var output : g.outputs()) {
      Node p = g.producer(output.getName());
      List<Node> chain = new ArrayList<>();
      while (GraphEditor.is(p, "ScatterND")) {
        chain.add(0, p);
        String data = p.getInput(0);
        if (g.isGraphInput(data)) {
          if (chain.size() > 2) {
            throw new GraphRewrite.NotRecognized(
                output.getName() + " is written by " + chain.size() + " chained scatters");
          }
          for (Node s : chain) {
            Attribute reduction = GraphEditor.attribute(s, "reduction");
            if (reduction != null && !reduction.getS().toStringUtf8().equals("none")) {
              throw new GraphRewrite.NotRecognized(s.getName() + " scatters with a reduction");
            }
          }
          out.add(new Cache(data, output.getName(), chain));
          break;
        }
        p = g.producer(data);
      }
    }
    return out;
  }

  // ------------------------------------------------------------------ 1. one scatter

  private void mergeScatters(Cache c) {
    if (c.scatters().size() == 1) {
      return;
    }
    Node second = g.producer(c.output());
    Node first = g.producer(second.getInput(0));
    Long a = leadingIndex(g, first.getInput(1));
    Long b = leadingIndex(g, second.getInput(1));
    if (a == null || b == null || a.equals(b)) {
      throw new GraphRewrite.NotRecognized(
          "cannot show that the two scatters into "
              + c.output()
              + " write different parts of the cache (leading indices "
              + a
              + " and "
              + b
              + ")");
    }
    String intermediate = first.getOutput(0);
    for (Node reader : g.consumers(intermediate)) {
      if (reader != second && !shapeOnly(g, intermediate, reader)) {
        throw new GraphRewrite.NotRecognized(
            reader.getName() + " reads the values of the half-written cache " + intermediate);
      }
    }
    for (Node reader : g.consumers(intermediate)) {
      if (reader != second) {
        // the same shape: ScatterND's output has its data input's shape
        g.rewire(reader, intermediate, c.input());
      }
    }
    String indices = g.freshName("indices");
    String updates = g.freshName("updates");
    Node concatIndices = concat(first.getInput(1), second.getInput(1), indices);
    Node concatUpdates = concat(first.getInput(2), second.getInput(2), updates);
    Node scatter =
        g.node("ScatterND", List.of(c.input(), indices, updates), List.of(c.output())).build();
    g.remove(first);
    g.replace(second, List.of(concatIndices, concatUpdates, scatter));
  }

  /** {@code Concat(a, b, axis 0) -> out}. */
  private Node concat(String a, String b, String out) {
    return g.node("Concat", List.of(a, b), List.of(out))
        .addAttribute(GraphEditor.intAttr("axis", 0))
        .build();
  }

  /**
   * The constant first coordinate of every index of a {@code ScatterND} index tensor built as
   * {@code Concat(axis=-1)} of per-axis index tensors (the first traced through broadcasts and
   * reshapes to a constant that holds one value); null when it is not built that way.
   */
  static Long leadingIndex(GraphEditor g, String indices) {
    Node concat = g.producer(indices);
    if (!GraphEditor.is(concat, "Concat") || concat.getInputCount() < 2) {
      return null;
    }
    long axis = GraphEditor.intAttribute(concat, "axis", 0);
    if (axis != -1) {
      return null;
    }
    String t = concat.getInput(0);
    for (int depth = 0; depth < 8; depth++) {
      long[] values = g.constantInts(t);
      if (values != null) {
        if (values.length == 0) {
          return null;
        }
        for (long v : values) {
          if (v != values[0]) {
            return null;
          }
        }
        return values[0];
      }
      Node p = g.producer(t);
      if (p == null
          || !(GraphEditor.is(p, "Unsqueeze")
              || GraphEditor.is(p, "Expand")
              || GraphEditor.is(p, "Reshape")
              || GraphEditor.is(p, "Squeeze")
              || GraphEditor.is(p, "Identity"))) {
        return null;
      }
      t = p.getInput(0);
    }
    return null;
  }

  /** True when the values {@code reader} takes from {@code tensor} reach only Shape nodes. */
  static boolean shapeOnly(GraphEditor g, String tensor, Node reader) {
    if (GraphEditor.is(reader, "Shape")) {
      return true;
    }
    if (!SHAPE_PRESERVING.contains(reader.getOpType()) || !reader.getDomain().isEmpty()) {
      return false;
    }
    for (int i = 1; i < reader.getInputCount(); i++) {
      if (reader.getInput(i).equals(tensor)) {
        return false;
      }
    }
    for (String out : reader.getOutputList()) {
      if (g.isGraphOutput(out)) {
        return false;
      }
      for (Node next : g.consumers(out)) {
        if (!shapeOnly(g, out, next)) {
          return false;
        }
      }
    }
    return true;
  }

  // ------------------------------------------------------------------ 2. slice, then gather

  private int sliceBeforeGather(String cache) {
    int done = 0;
    for (Node gather : g.consumers(cache)) {
      if (!takesOneOnAxisZero(gather, cache)) {
        continue;
      }
      List<Node> readers = g.consumers(gather.getOutput(0));
      if (readers.size() != 1 || g.isGraphOutput(gather.getOutput(0))) {
        continue;
      }
      Node slice = readers.get(0);
      long[] axes = slice.getInputCount() > 3 ? g.constantInts(slice.getInput(3)) : null;
      if (!GraphEditor.is(slice, "Slice")
          || !slice.getInput(0).equals(gather.getOutput(0))
          || axes == null) {
        continue;
      }
      long[] shifted = new long[axes.length];
      for (int i = 0; i < axes.length; i++) {
        shifted[i] = axes[i] >= 0 ? axes[i] + 1 : axes[i];
      }
      List<String> inputs = new ArrayList<>(slice.getInputList());
      inputs.set(0, cache);
      inputs.set(3, g.int64s("axes", shifted));
      String part = g.freshName("part");
      Node newSlice = g.node("Slice", inputs, List.of(part)).build();
      Node newGather =
          g.node("Gather", List.of(part, gather.getInput(1)), slice.getOutputList())
              .addAttribute(GraphEditor.intAttr("axis", 0))
              .build();
      g.remove(gather);
      g.replace(slice, List.of(newSlice, newGather));
      done++;
    }
    return done;
  }

  // ------------------------------------------------------------------ 3. one slice of the prefix

  private int slicePrefixOnce(String cache) {
    int done = 0;
    for (Node slice : g.consumers(cache)) {
      if (!GraphEditor.is(slice, "Slice")
          || !slice.getInput(0).equals(cache)
          || slice.getInputCount() < 4
          || g.isGraphOutput(slice.getOutput(0))) {
        continue;
      }
      long[] axes = g.constantInts(slice.getInput(3));
      long[] starts = g.constantInts(slice.getInput(1));
      List<Node> readers = g.consumers(slice.getOutput(0));
      if (axes == null || starts == null || readers.isEmpty() || hasAxisZero(axes)) {
        continue;
      }
      boolean allGathers =
          readers.stream().allMatch(r -> takesOneOnAxisZero(r, slice.getOutput(0)));
      if (!allGathers) {
        continue;
      }
      for (Node gather : readers) {
        long c = g.scalarInt(gather.getInput(1));
        long[] newStarts = new long[starts.length + 1];
        long[] newAxes = new long[axes.length + 1];
        newStarts[0] = c;
        System.arraycopy(starts, 0, newStarts, 1, starts.length);
        System.arraycopy(axes, 0, newAxes, 1, axes.length);
        String ends = g.freshName("ends");
        Node concatEnds = concat(g.int64s("end", c + 1), slice.getInput(2), ends);
        List<String> inputs =
            new ArrayList<>(
                List.of(cache, g.int64s("starts", newStarts), ends, g.int64s("axes", newAxes)));
        List<Node> added = new ArrayList<>(List.of(concatEnds));
        if (slice.getInputCount() > 4 && !slice.getInput(4).isEmpty()) {
          String steps = g.freshName("steps");
          added.add(concat(g.int64s("step", 1), slice.getInput(4), steps));
          inputs.add(steps);
        }
        String part = g.freshName("prefix");
        added.add(g.node("Slice", inputs, List.of(part)).build());
        added.add(squeezeFirstAxis(part, gather.getOutput(0)));
        g.replace(gather, added);
      }
      g.remove(slice);
      done++;
    }
    return done;
  }

  /** True for {@code Gather(data, constant scalar, axis 0)}. */
  private boolean takesOneOnAxisZero(Node n, String data) {
    return GraphEditor.is(n, "Gather")
        && n.getInput(0).equals(data)
        && GraphEditor.intAttribute(n, "axis", 0) == 0
        && g.scalarInt(n.getInput(1)) != null;
  }

  private static boolean hasAxisZero(long[] axes) {
    for (long a : axes) {
      if (a == 0) {
        return true;
      }
    }
    return false;
  }

  private Node squeezeFirstAxis(String in, String out) {
    if (g.opset() >= 13) {
      return g.node("Squeeze", List.of(in, g.int64s("axis", 0)), List.of(out)).build();
    }
    return g.node("Squeeze", List.of(in), List.of(out))
        .addAttribute(GraphEditor.intsAttr("axes", 0))
        .build();
  }

  // ------------------------------------------------------------------ in place: the safety check

  /**
   * True when every node that reads the values of {@code cache} (directly or through a view of its
   * memory) runs before {@code scatter}: an ancestor of it, or a reader whose values reach only
   * shapes. Then binding the state output to the state input's memory changes nothing it reads.
   */
  private boolean readsBeforeWrite(String cache, Node scatter) {
    Set<Node> before = g.ancestors(scatter);
    Set<String> views = new LinkedHashSet<>(List.of(cache));
    List<String> todo = new ArrayList<>(views);
    while (!todo.isEmpty()) {
      String t = todo.remove(todo.size() - 1);
      if (g.isGraphOutput(t) && !t.equals(cache)) {
        return false;
      }
      for (Node reader : g.consumers(t)) {
        if (reader == scatter || GraphEditor.is(reader, "Shape")) {
          continue;
        }
        if (VIEWS.contains(reader.getOpType()) && reader.getDomain().isEmpty()) {
          for (String out : reader.getOutputList()) {
            if (views.add(out)) {
              todo.add(out);
            }
          }
          continue;
        }
        if (!before.contains(reader) && !shapeOnly(g, t, reader)) {
          return false;
        }
      }
    }
    return true;
  }
}
