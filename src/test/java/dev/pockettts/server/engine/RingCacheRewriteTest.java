package dev.pockettts.server.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.pockettts.server.engine.onnx.Attribute;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The decoder's ring-cache rewrite on an attention layer written as the exporter writes Mimi's:
 * keys and values scattered into a ring of {@code CAPACITY} slots at {@code (written + i) mod
 * capacity}, each slot's position worked out from the counter with {@code arange(capacity)}, a row
 * of -1 for slots not yet written, and a mask letting a query see the {@code CONTEXT} positions up
 * to its own. With a ring of {@code context - 1 + keys per run} slots the outputs stay the same,
 * run after run, long after both rings have wrapped around.
 */
class RingCacheRewriteTest {

  private static final int HEADS = 2;
  private static final int DIM = 3;
  private static final int CAPACITY = 40;
  private static final int CONTEXT = 6;
  private static final int[] RUNS = {
    1, 3, 5, 2, 5, 4, 5, 1, 5, 5, 3, 5, 2, 5, 5, 4, 5, 5, 5, 1, 5, 5, 4, 5
  };

  @TempDir Path tmp;

  /**
   * The attention layer; {@code extraUse} adds a Reshape whose shape constant holds the capacity.
   */
  private Path model(boolean extraUse) throws Exception {
    OnnxModels m =
        new OnnxModels()
            .input("q", GraphEditor.FLOAT, 1, HEADS, -1, DIM)
            .input("k", GraphEditor.FLOAT, 1, HEADS, -1, DIM)
            .input("v", GraphEditor.FLOAT, 1, HEADS, -1, DIM)
            .input("state_0", GraphEditor.FLOAT, 2, 1, HEADS, CAPACITY, DIM)
            .input("state_1", GraphEditor.INT64, 1)
            .output("y", GraphEditor.FLOAT, 1, HEADS, -1, DIM)
            .output("out_state_0", GraphEditor.FLOAT, 2, 1, HEADS, CAPACITY, DIM)
            .output("out_state_1", GraphEditor.INT64, 1)
            .longs("zero", new long[] {0})
            .longs("one", new long[] {1})
            .longs("two", new long[] {2})
            .longs("capacity_mod", new long[] {CAPACITY})
            .longs("capacity_mod_last", new long[] {CAPACITY})
            .longs("capacity_lap", new long[] {CAPACITY})
            .longs("context", new long[] {CONTEXT})
            .longs("slots_a", range(CAPACITY), CAPACITY)
            .longs("slots_b", range(CAPACITY), CAPACITY)
            .longs("unwritten", filled(CAPACITY, -1), 1, CAPACITY)
            .longs("column", new long[] {-1, 1}, 2)
            .longs("one_one", new long[] {1, 1}, 2)
            .longs("row", new long[] {1, -1}, 2)
            .longs("query_column", new long[] {1, -1, 1}, 3)
            .longs("four_d", new long[] {1, 1, -1, 1}, 4)
            .longs("axis0", new long[] {0}, 1)
            .longs("axis1", new long[] {1}, 1)
            // keys written this run, and their slots
            .node("Shape", new String[] {"k"}, new String[] {"k_shape"})
            .node(
                "Gather",
                new String[] {"k_shape", "two"},
                new String[] {"t"},
                GraphEditor.intAttr("axis", 0))
            .node("Range", new String[] {"zero", "t", "one"}, new String[] {"steps"})
            .node("Reshape", new String[] {"state_1", "column"}, new String[] {"written_col"})
            .node("Add", new String[] {"steps", "written_col"}, new String[] {"write_pos"})
            .node("Mod", new String[] {"write_pos", "capacity_mod"}, new String[] {"write_slot"})
            .node("Reshape", new String[] {"write_slot", "four_d"}, new String[] {"slot_4d"})
            .node("Expand", new String[] {"slot_4d", "k_shape"}, new String[] {"slot_index"})
            .node(
                "Gather",
                new String[] {"state_0", "zero"},
                new String[] {"keys_before"},
                GraphEditor.intAttr("axis", 0))
            .node(
                "Gather",
                new String[] {"state_0", "one"},
                new String[] {"values_before"},
                GraphEditor.intAttr("axis", 0))
            .node(
                "ScatterElements",
                new String[] {"keys_before", "slot_index", "k"},
                new String[] {"keys"},
                GraphEditor.intAttr("axis", 2))
            .node(
                "ScatterElements",
                new String[] {"values_before", "slot_index", "v"},
                new String[] {"values"},
                GraphEditor.intAttr("axis", 2))
            .node("Unsqueeze", new String[] {"keys", "axis0"}, new String[] {"keys_5d"})
            .node("Unsqueeze", new String[] {"values", "axis0"}, new String[] {"values_5d"})
            .node(
                "Concat",
                new String[] {"keys_5d", "values_5d"},
                new String[] {"out_state_0"},
                GraphEditor.intAttr("axis", 0))
            // the position each slot holds: this lap's slots up to the last written, the rest one
            // lap earlier, and -1 where nothing was written yet
            .node("Add", new String[] {"state_1", "t"}, new String[] {"out_state_1"})
            .node("Sub", new String[] {"out_state_1", "one"}, new String[] {"last"})
            .node("Mod", new String[] {"last", "capacity_mod_last"}, new String[] {"last_slot"})
            .node("Sub", new String[] {"slots_a", "last_slot"}, new String[] {"delta"})
            .node("Add", new String[] {"last", "delta"}, new String[] {"this_lap"})
            .node("Sub", new String[] {"this_lap", "capacity_lap"}, new String[] {"last_lap"})
            .node("LessOrEqual", new String[] {"delta", "zero"}, new String[] {"in_this_lap"})
            .node(
                "Where",
                new String[] {"in_this_lap", "this_lap", "last_lap"},
                new String[] {"lapped"})
            .node("Reshape", new String[] {"lapped", "row"}, new String[] {"lapped_row"})
            .node("Reshape", new String[] {"out_state_1", "one_one"}, new String[] {"end_row"})
            .node("GreaterOrEqual", new String[] {"slots_b", "end_row"}, new String[] {"empty"})
            .node(
                "Where",
                new String[] {"empty", "unwritten", "lapped_row"},
                new String[] {"key_pos"})
            // the mask: a key at or before the query, within the context, written
            .node("Add", new String[] {"steps", "state_1"}, new String[] {"query_pos_1d"})
            .node(
                "Reshape",
                new String[] {"query_pos_1d", "query_column"},
                new String[] {"query_pos"})
            .node("Unsqueeze", new String[] {"key_pos", "axis1"}, new String[] {"key_pos_3d"})
            .node("Sub", new String[] {"query_pos", "key_pos_3d"}, new String[] {"d"})
            .node("GreaterOrEqual", new String[] {"key_pos_3d", "zero"}, new String[] {"k_ok"})
            .node("GreaterOrEqual", new String[] {"d", "zero"}, new String[] {"causal"})
            .node("And", new String[] {"k_ok", "causal"}, new String[] {"both"})
            .node("Less", new String[] {"d", "context"}, new String[] {"recent"})
            .node("And", new String[] {"both", "recent"}, new String[] {"mask3"})
            .node("Unsqueeze", new String[] {"mask3", "axis1"}, new String[] {"mask"})
            .node("Constant", new String[] {}, new String[] {"f0"}, floatAttr(0f))
            .node(
                "Constant",
                new String[] {},
                new String[] {"finf"},
                floatAttr(Float.NEGATIVE_INFINITY))
            .node("Where", new String[] {"mask", "f0", "finf"}, new String[] {"bias"})
            .node(
                "Transpose",
                new String[] {"keys"},
                new String[] {"keys_t"},
                GraphEditor.intsAttr("perm", 0, 1, 3, 2))
            .node("MatMul", new String[] {"q", "keys_t"}, new String[] {"scores"})
            .node("Add", new String[] {"scores", "bias"}, new String[] {"masked"})
            .node(
                "Softmax",
                new String[] {"masked"},
                new String[] {"weights"},
                GraphEditor.intAttr("axis", -1));
    if (extraUse) {
      m.longs("values_shape", new long[] {1, HEADS, CAPACITY, DIM}, 4)
          .node("Reshape", new String[] {"values", "values_shape"}, new String[] {"values_again"})
          .node("MatMul", new String[] {"weights", "values_again"}, new String[] {"y"});
    } else {
      m.node("MatMul", new String[] {"weights", "values"}, new String[] {"y"});
    }
    return m.write(tmp.resolve(extraUse ? "other.onnx" : "mimi_decoder.onnx"));
  }

  private static long[] range(int n) {
    long[] r = new long[n];
    for (int i = 0; i < n; i++) {
      r[i] = i;
    }
    return r;
  }

  private static long[] filled(int n, long v) {
    long[] r = new long[n];
    java.util.Arrays.fill(r, v);
    return r;
  }

  private static Attribute floatAttr(float value) {
    return Attribute.newBuilder()
        .setName("value_float")
        .setType(Attribute.Type.FLOAT)
        .setF(value)
        .build();
  }

  /** The outputs {@code y} of {@link #RUNS} runs in a row, starting from an empty ring. */
  private static List<float[]> run(Path file, int capacity) throws Exception {
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    Random r = new Random(11);
    List<float[]> outputs = new ArrayList<>();
    try (OrtSession s = env.createSession(file.toString(), new OrtSession.SessionOptions())) {
      float[] cache = new float[2 * HEADS * capacity * DIM];
      long written = 0;
      for (int t : RUNS) {
        float[][] x = new float[3][HEADS * t * DIM];
        for (float[] a : x) {
          for (int i = 0; i < a.length; i++) {
            a[i] = (float) r.nextGaussian();
          }
        }
        long[] qkv = {1, HEADS, t, DIM};
        try (OnnxTensor q = OnnxTensor.createTensor(env, FloatBuffer.wrap(x[0]), qkv);
            OnnxTensor k = OnnxTensor.createTensor(env, FloatBuffer.wrap(x[1]), qkv);
            OnnxTensor v = OnnxTensor.createTensor(env, FloatBuffer.wrap(x[2]), qkv);
            OnnxTensor c =
                OnnxTensor.createTensor(
                    env, FloatBuffer.wrap(cache), new long[] {2, 1, HEADS, capacity, DIM});
            OnnxTensor w =
                OnnxTensor.createTensor(
                    env, LongBuffer.wrap(new long[] {written}), new long[] {1});
            OrtSession.Result out =
                s.run(Map.of("q", q, "k", k, "v", v, "state_0", c, "state_1", w))) {
          outputs.add(read((OnnxTensor) out.get("y").orElseThrow()));
          cache = read((OnnxTensor) out.get("out_state_0").orElseThrow());
          written = ((OnnxTensor) out.get("out_state_1").orElseThrow()).getLongBuffer().get(0);
        }
      }
      assertThat(written)
          .isEqualTo(java.util.Arrays.stream(RUNS).sum())
          .isGreaterThan(2L * CAPACITY);
    }
    return outputs;
  }

  private static float[] read(OnnxTensor t) {
    float[] values = new float[t.getFloatBuffer().remaining()];
    t.getFloatBuffer().get(values);
    return values;
  }

  private static double maxDiff(List<float[]> a, List<float[]> b) {
    double max = 0;
    for (int i = 0; i < a.size(); i++) {
      assertThat(b.get(i)).hasSameSizeAs(a.get(i));
      for (int j = 0; j < a.get(i).length; j++) {
        max = Math.max(max, Math.abs(a.get(i)[j] - b.get(i)[j]));
      }
    }
    return max;
  }

  @Test
  void aRingOfTheContextPlusOneRunsKeysGivesTheSameAttention() throws Exception {
    Path plain = model(false);
    List<float[]> expected = run(plain, CAPACITY);
    GraphRewrite.Prepared p = GraphRewrite.prepare(plain, GraphRewrite.Kind.DECODER);
    assertThat(p.rewritten()).isTrue();
    assertThat(p.note())
        .contains(
            "upsampling as it is: no ConvTranspose",
            "1 attention caches may be shorter than 40 (context 6)",
            "0 states passed through unchanged");
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    try (OrtSession.SessionOptions o = new OrtSession.SessionOptions();
        Graph g = Graph.open(env, "mimi_decoder", p.file(), o)) {
      assertThat(g.metadata(GraphRewrite.APPLIED))
          .isEqualTo("attention caches as long as the context needs");
      assertThat(g.metadata(RingCacheRewrite.RINGS)).isEqualTo("state_0");
      assertThat(g.metadata(RingCacheRewrite.CAPACITY)).isEqualTo("40");
      assertThat(g.metadata(RingCacheRewrite.CONTEXT)).isEqualTo("6");
      assertThat(g.metadata(RingCacheRewrite.COUNTERS)).isEqualTo("state_1");
      assertThat(g.input("state_0").getShape()).containsExactly(2, 1, HEADS, -1, DIM);
      assertThat(FlowLm.declaredShape(g, "state_0", g.input("state_0")))
          .containsExactly(2, 1, HEADS, CAPACITY, DIM);
    }
    // the context less one, plus the most keys a run writes (5)
    int enough = CONTEXT - 1 + 5;
    assertThat(maxDiff(expected, run(p.file(), enough))).isCloseTo(0, within(1e-6));
    assertThat(maxDiff(expected, run(p.file(), CAPACITY))).isCloseTo(0, within(1e-6));
    assertThat(maxDiff(expected, run(p.file(), 17))).isCloseTo(0, within(1e-6));
    // one slot fewer and a run of 5 overwrites a key its first query still sees
    assertThat(maxDiff(expected, run(p.file(), enough - 1))).isGreaterThan(1e-3);
  }

  @Test
  void aCapacityUsedInAnyOtherWayLeavesTheGraphAsItIs() throws Exception {
    Path plain = model(true);
    GraphRewrite.Prepared p = GraphRewrite.prepare(plain, GraphRewrite.Kind.DECODER);
    assertThat(p.rewritten()).isFalse();
    assertThat(p.note())
        .contains("the capacity 40 is in constant values_shape of another form")
        .contains("no state passed through unchanged");
  }
}
