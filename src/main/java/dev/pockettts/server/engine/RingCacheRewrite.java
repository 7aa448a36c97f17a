package dev.pockettts.server.engine;

import dev.pockettts.server.engine.onnx.Attribute;
import dev.pockettts.server.engine.onnx.Node;
import dev.pockettts.server.engine.onnx.ValueInfo;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * Load-time rewrite of the Mimi decoder's attention ring caches: their capacity (1000 positions in
 * the published export) becomes a size the caller chooses. The decoder's transformer lets each
 * query see only the keys of its context (250 positions), so a ring of {@code context - 1 + keys
 * written per run} positions keeps every key a query reads, and the attention runs over that many
 * positions instead of 1000: its scores, mask, softmax and the copies of the cache in and out of
 * each run all shrink with it.
 *
 * <p>The exporter writes the capacity into the graph as constants: the modulus of the write index
 * and of the last written slot, the capacity subtracted from positions of slots written in the
 * previous lap, {@code arange(capacity)} over the slots, and a {@code [1, capacity]} row of -1 for
 * slots not yet written. Those become values computed from the cache input's shape. The rewrite
 * declines a graph where the capacity appears anywhere else (another constant, an attribute, a
 * weight), so nothing can still assume the old size.
 */
final class RingCacheRewrite {

  /** Metadata: the ring-cache state inputs whose capacity the caller chooses, comma-separated. */
  static final String RINGS = "pockettts.ring_caches";

  /** Metadata: the published capacity of those caches. */
  static final String CAPACITY = "pockettts.ring_capacity";

  /** Metadata: the positions a query sees (itself and the ones before it). */
  static final String CONTEXT = "pockettts.ring_context";

  /** Metadata: the state inputs counting the keys written, comma-separated. */
  static final String COUNTERS = "pockettts.ring_counters";

  /** Metadata: state inputs the graph passes to their outputs unchanged, comma-separated. */
  static final String UNCHANGED = "pockettts.unchanged_states";

  static final String CAPACITY_PARAM = "ring_capacity";

  private static final int TIME_AXIS = 3;
  private static final Set<String> ELEMENTWISE =
      Set.of("Sub", "Add", "GreaterOrEqual", "Greater", "Less", "LessOrEqual", "Equal");

  /** What was made resizable. */
  record Result(List<String> rings, long capacity, long context, List<String> counters) {}

  private RingCacheRewrite() {}

  /**
   * Makes the ring caches' capacity symbolic.
   *
   * @throws GraphRewrite.NotRecognized when the graph has no ring cache of the exporter's form
   */
  static Result apply(GraphEditor g) {
    List<String> rings = new ArrayList<>();
    long capacity = -1;
    for (ValueInfo v : g.inputs()) {
      long[] dims = dims(v);
      boolean ring =
          v.getType().getTensorType().getElemType() == GraphEditor.FLOAT
              && dims != null
              && dims.length == 5
              && dims[0] == 2
              && g.consumers(v.getName()).stream().anyMatch(n -> !GraphEditor.is(n, "Identity"));
      if (!ring) {
        continue;
      }
      if (capacity >= 0 && dims[TIME_AXIS] != capacity) {
        throw new GraphRewrite.NotRecognized(
            "ring caches of different capacities (" + capacity + ", " + dims[TIME_AXIS] + ")");
      }
      capacity = dims[TIME_AXIS];
      String out = "out_" + v.getName();
      if (!g.isGraphOutput(out)) {
        throw new GraphRewrite.NotRecognized(v.getName() + " has no output " + out);
      }
      rings.add(v.getName());
    }
    if (rings.isEmpty()) {
      throw new GraphRewrite.NotRecognized("no float [2, 1, heads, capacity, head_dim] cache read");
    }
    List<String> scalars = new ArrayList<>();
    List<String> ranges = new ArrayList<>();
    List<String> fills = new ArrayList<>();
    classifyConstants(g, capacity, scalars, ranges, fills);
    if (scalars.isEmpty() || ranges.isEmpty() || fills.isEmpty()) {
      throw new GraphRewrite.NotRecognized(
          "the capacity "
              + capacity
              + " is not written as the exporter writes it (modulus, arange, row of -1)");
    }
    long context = context(g, fills, capacity);
    List<String> counters = counters(g, scalars);

    String cap = g.freshName("ring_capacity");
    String shape = g.freshName("ring_shape");
    String cap1 = g.freshName("ring_capacity_1d");
    String slots = g.freshName("ring_slots");
    String fillShape = g.freshName("ring_fill_shape");
    String fill = g.freshName("ring_unwritten");
    List<Node> added =
        List.of(
            g.node("Shape", List.of(rings.get(0)), List.of(shape)).build(),
            g.node("Gather", List.of(shape, g.int64Scalar("time_axis", TIME_AXIS)), List.of(cap))
                .addAttribute(GraphEditor.intAttr("axis", 0))
                .build(),
            g.node("Reshape", List.of(cap, g.int64s("one_element", 1)), List.of(cap1)).build(),
            g.node(
                    "Range",
                    List.of(g.int64Scalar("zero", 0), cap, g.int64Scalar("one", 1)),
                    List.of(slots))
                .build(),
            g.node("Concat", List.of(g.int64s("one", 1), cap1), List.of(fillShape))
                .addAttribute(GraphEditor.intAttr("axis", 0))
                .build(),
            g.node(
                    "Expand",
                    List.of(g.int64Filled("minus_one", new long[] {1, 1}, -1), fillShape),
                    List.of(fill))
                .build());
    for (Node n : added) {
      g.append(n);
    }
    rewireAll(g, scalars, cap);
    rewireAll(g, ranges, slots);
    rewireAll(g, fills, fill);
    for (String r : rings) {
      g.symbolicDim(r, TIME_AXIS, CAPACITY_PARAM);
      g.symbolicDim("out_" + r, TIME_AXIS, CAPACITY_PARAM);
    }
    g.removeUnused();
    return new Result(List.copyOf(rings), capacity, context, counters);
  }

  /**
   * State inputs whose output is the input itself ({@code out_state_N = Identity(state_N)}): the
   * encoder's half of the Mimi state, which the decoder graph carries along untouched.
   */
  static List<String> unchanged(GraphEditor g) {
    List<String> out = new ArrayList<>();
    for (ValueInfo v : g.inputs()) {
      String name = v.getName();
      Node p = g.producer("out_" + name);
      if (name.startsWith("state_")
          && GraphEditor.is(p, "Identity")
          && p.getInput(0).equals(name)
          && g.isGraphOutput("out_" + name)) {
        out.add(name);
      }
    }
    return out;
  }

  private static void rewireAll(GraphEditor g, List<String> constants, String to) {
    for (String c : constants) {
      for (Node n : g.consumers(c)) {
        g.rewire(n, c, to);
      }
    }
  }

  /**
   * Sorts the constants holding the capacity into the three forms the exporter writes, and declines
   * the graph when it appears in any other: another constant's value or size, an attribute, a
   * weight.
   */
  private static void classifyConstants(
      GraphEditor g, long capacity, List<String> scalars, List<String> ranges, List<String> fills) {
    Set<String> constants = new LinkedHashSet<>(g.initializerNames());
    for (Node n : g.nodes()) {
      if (GraphEditor.is(n, "Constant")) {
        constants.add(n.getOutput(0));
      }
      for (Attribute a : n.getAttributeList()) {
        boolean holds =
            (a.getType() == Attribute.Type.INT && a.getI() == capacity)
                || a.getIntsList().contains(capacity)
                || (a.hasT() && a.getT().getDimsList().contains(capacity));
        if (holds && !(GraphEditor.is(n, "Constant") && a.getName().equals("value"))) {
          throw new GraphRewrite.NotRecognized(
              "the capacity "
                  + capacity
                  + " is in attribute "
                  + a.getName()
                  + " of "
                  + n.getName());
        }
      }
    }
    for (String c : constants) {
      long[] dims = g.constantDims(c);
      long[] values = g.constantInts(c);
      boolean sized = dims != null && contains(dims, capacity);
      boolean valued = values != null && contains(values, capacity);
      if (!sized && !valued) {
        continue;
      }
      if (dims != null && dims.length == 0 && valued) {
        expectConsumers(g, c, Set.of("Mod", "Sub"), capacity);
        scalars.add(c);
      } else if (dims != null && dims.length == 1 && values != null && isRange(values, capacity)) {
        expectConsumers(g, c, ELEMENTWISE, capacity);
        ranges.add(c);
      } else if (dims != null
          && dims.length == 2
          && dims[0] == 1
          && dims[1] == capacity
          && values != null
          && java.util.Arrays.stream(values).allMatch(x -> x == -1)) {
        expectConsumers(g, c, Set.of("Where"), capacity);
        fills.add(c);
      } else {
        throw new GraphRewrite.NotRecognized(
            "the capacity " + capacity + " is in constant " + c + " of another form");
      }
    }
  }

  private static void expectConsumers(GraphEditor g, String c, Set<String> ops, long capacity) {
    for (Node n : g.consumers(c)) {
      if (!n.getDomain().isEmpty() || !ops.contains(n.getOpType())) {
        throw new GraphRewrite.NotRecognized(
            "the capacity " + capacity + " (" + c + ") is read by " + n.getOpType());
      }
    }
  }

  /**
   * The context: the bound of {@code Less(query position - key position, context)} a few nodes
   * after the row of -1 that marks unwritten slots; one value for every layer.
   */
  private static long context(GraphEditor g, List<String> fills, long capacity) {
    Set<Long> found = new TreeSet<>();
    for (String f : fills) {
      Set<String> seen = new HashSet<>();
      ArrayDeque<String> tensors = new ArrayDeque<>(List.of(f));
      for (int depth = 0; depth < 5 && !tensors.isEmpty(); depth++) {
        ArrayDeque<String> next = new ArrayDeque<>();
        for (String t : tensors) {
          for (Node n : g.consumers(t)) {
            if (GraphEditor.is(n, "Less") && n.getInputCount() == 2) {
              Long bound = g.scalarInt(n.getInput(1));
              if (bound != null) {
                found.add(bound);
              }
            }
            for (String o : n.getOutputList()) {
              if (seen.add(o)) {
                next.add(o);
              }
            }
          }
        }
        tensors = next;
      }
    }
    if (found.size() != 1) {
      throw new GraphRewrite.NotRecognized(
          "no single attention context after the unwritten-slot mask (found " + found + ")");
    }
    long context = found.iterator().next();
    if (context < 1 || context >= capacity) {
      throw new GraphRewrite.NotRecognized(
          "context " + context + " does not fit the capacity " + capacity);
    }
    return context;
  }

  /** The int64 state inputs the write index comes from ({@code Mod(counter + i, capacity)}). */
  private static List<String> counters(GraphEditor g, List<String> scalars) {
    Set<String> inputs = new HashSet<>();
    for (ValueInfo v : g.inputs()) {
      if (v.getType().getTensorType().getElemType() == GraphEditor.INT64
          && v.getName().startsWith("state_")) {
        inputs.add(v.getName());
      }
    }
    Set<String> found = new TreeSet<>();
    for (String c : scalars) {
      for (Node mod : g.consumers(c)) {
        if (!GraphEditor.is(mod, "Mod")) {
          continue;
        }
        // back from the dividend, through values only: a Shape's output does not depend on what
        // its input holds (the number of keys written is a shape)
        Set<String> seen = new HashSet<>();
        ArrayDeque<String> todo = new ArrayDeque<>(List.of(mod.getInput(0)));
        while (!todo.isEmpty()) {
          String t = todo.pop();
          if (!seen.add(t)) {
            continue;
          }
          if (inputs.contains(t)) {
            found.add(t);
          }
          Node p = g.producer(t);
          if (p != null && !GraphEditor.is(p, "Shape")) {
            todo.addAll(p.getInputList());
          }
        }
      }
    }
    if (found.isEmpty()) {
      throw new GraphRewrite.NotRecognized("no int64 state counts the keys written");
    }
    return List.copyOf(found);
  }

  private static boolean isRange(long[] values, long capacity) {
    if (values.length != capacity) {
      return false;
    }
    for (int i = 0; i < values.length; i++) {
      if (values[i] != i) {
        return false;
      }
    }
    return true;
  }

  private static boolean contains(long[] values, long x) {
    for (long v : values) {
      if (v == x) {
        return true;
      }
    }
    return false;
  }

  private static long[] dims(ValueInfo v) {
    var shape = v.getType().getTensorType().getShape().getDimList();
    long[] out = new long[shape.size()];
    for (int i = 0; i < out.length; i++) {
      if (!shape.get(i).hasDimValue()) {
        return null;
      }
      out[i] = shape.get(i).getDimValue();
    }
    return out;
  }
}
