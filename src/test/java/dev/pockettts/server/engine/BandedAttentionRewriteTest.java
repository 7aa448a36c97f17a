package dev.pockettts.server.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.pockettts.server.engine.onnx.Attribute;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The encoder's attention rewrite computes what the exported masked attention computes, for
 * sequences shorter than, equal to and longer than the context, in whole blocks or not.
 */
class BandedAttentionRewriteTest {

  private static final int HEADS = 2;
  private static final int DIM = 3;
  private static final int CONTEXT = 5;

  @TempDir Path tmp;

  /**
   * Self-attention as the exporter writes it: scores {@code q·kT}, plus {@code Where(j >= 0 and i -
   * j >= 0 and i - j < C, 0, -inf)} from two position ranges, a softmax, times {@code v}.
   */
  private Path model(boolean band) throws Exception {
    OnnxModels m =
        new OnnxModels()
            .input("q", GraphEditor.FLOAT, 1, HEADS, -1, DIM)
            .input("kT", GraphEditor.FLOAT, 1, HEADS, DIM, -1)
            .input("v", GraphEditor.FLOAT, 1, HEADS, -1, DIM)
            .output("y", GraphEditor.FLOAT, 1, HEADS, -1, DIM)
            .longs("zero", new long[] {0})
            .longs("one", new long[] {1})
            .longs("context", new long[] {CONTEXT})
            .longs("one_one", new long[] {1, 1}, 2)
            .longs("column", new long[] {-1, 1}, 2)
            .longs("axis0", new long[] {0}, 1)
            .node(
                "Shape",
                new String[] {"q"},
                new String[] {"t1"},
                GraphEditor.intAttr("start", 2),
                GraphEditor.intAttr("end", 3))
            .node("Squeeze", new String[] {"t1"}, new String[] {"t"})
            .node("Range", new String[] {"zero", "t", "one"}, new String[] {"keys_range"})
            .node("Expand", new String[] {"keys_range", "one_one"}, new String[] {"keys_2d"})
            .node("Unsqueeze", new String[] {"keys_2d", "axis0"}, new String[] {"j"})
            .node("Range", new String[] {"zero", "t", "one"}, new String[] {"queries_range"})
            .node("Reshape", new String[] {"queries_range", "column"}, new String[] {"i"})
            .node("Sub", new String[] {"i", "j"}, new String[] {"d"})
            .node("GreaterOrEqual", new String[] {"j", "zero"}, new String[] {"j_ok"})
            .node("GreaterOrEqual", new String[] {"d", "zero"}, new String[] {"causal"})
            .node("And", new String[] {"j_ok", "causal"}, new String[] {"both"});
    if (band) {
      m.node("Less", new String[] {"d", "context"}, new String[] {"recent"})
          .node("And", new String[] {"both", "recent"}, new String[] {"mask3"});
    } else {
      m.node("Identity", new String[] {"both"}, new String[] {"mask3"});
    }
    return m.node("Unsqueeze", new String[] {"mask3", "axis0"}, new String[] {"mask"})
        .node("Constant", new String[] {}, new String[] {"f0"}, floatAttr("value_float", 0f))
        .node(
            "Constant",
            new String[] {},
            new String[] {"finf"},
            floatAttr("value_float", Float.NEGATIVE_INFINITY))
        .node("Where", new String[] {"mask", "f0", "finf"}, new String[] {"bias"})
        .node("MatMul", new String[] {"q", "kT"}, new String[] {"scores"})
        .node("Add", new String[] {"scores", "bias"}, new String[] {"masked"})
        .node(
            "Softmax",
            new String[] {"masked"},
            new String[] {"weights"},
            GraphEditor.intAttr("axis", -1))
        .node("MatMul", new String[] {"weights", "v"}, new String[] {"y"})
        .write(tmp.resolve("mimi_encoder.onnx"));
  }

  private static Attribute floatAttr(String name, float value) {
    return Attribute.newBuilder().setName(name).setType(Attribute.Type.FLOAT).setF(value).build();
  }

  private static float[] run(Path file, int t) throws Exception {
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    Random r = new Random(t);
    float[][] x = new float[3][HEADS * t * DIM];
    for (float[] a : x) {
      for (int i = 0; i < a.length; i++) {
        a[i] = (float) r.nextGaussian();
      }
    }
    try (OrtSession s = env.createSession(file.toString(), new OrtSession.SessionOptions());
        OnnxTensor q =
            OnnxTensor.createTensor(env, FloatBuffer.wrap(x[0]), dims(1, HEADS, t, DIM));
        OnnxTensor k =
            OnnxTensor.createTensor(env, FloatBuffer.wrap(x[1]), dims(1, HEADS, DIM, t));
        OnnxTensor v =
            OnnxTensor.createTensor(env, FloatBuffer.wrap(x[2]), dims(1, HEADS, t, DIM));
        OrtSession.Result out = s.run(Map.of("q", q, "kT", k, "v", v))) {
      OnnxTensor y = (OnnxTensor) out.get(0);
      assertThat(y.getInfo().getShape()).containsExactly(1, HEADS, t, DIM);
      float[] values = new float[y.getFloatBuffer().remaining()];
      y.getFloatBuffer().get(values);
      return values;
    }
  }

  private static long[] dims(long... d) {
    return d;
  }

  @ParameterizedTest
  @ValueSource(ints = {1, 4, 5, 6, 10, 13, 23})
  void theRewrittenAttentionGivesTheSameOutput(int length) throws Exception {
    Path plain = model(true);
    float[] expected = run(plain, length);
    GraphRewrite.Prepared p = GraphRewrite.prepare(plain, GraphRewrite.Kind.ENCODER);
    assertThat(p.rewritten()).isTrue();
    assertThat(p.note()).startsWith("1 attention layers");
    float[] actual = run(p.file(), length);
    for (int i = 0; i < expected.length; i++) {
      assertThat((double) actual[i]).isCloseTo(expected[i], within(1e-5));
    }
  }

  @Test
  void theRewrittenGraphHasNoFullSizeScoresLeft() throws Exception {
    GraphRewrite.Prepared p = GraphRewrite.prepare(model(true), GraphRewrite.Kind.ENCODER);
    GraphEditor g =
        GraphEditor.parse(java.nio.ByteBuffer.wrap(java.nio.file.Files.readAllBytes(p.file())));
    // the T x T mask and its ranges are gone with the scores they masked
    assertThat(g.nodes()).noneMatch(n -> GraphEditor.is(n, "Where") || GraphEditor.is(n, "Range"));
    assertThat(g.nodes()).filteredOn(n -> GraphEditor.is(n, "Softmax")).hasSize(1);
  }

  @Test
  void anAttentionWithoutTheBandIsLeftAsItIs() throws Exception {
    GraphRewrite.Prepared p = GraphRewrite.prepare(model(false), GraphRewrite.Kind.ENCODER);
    assertThat(p.rewritten()).isFalse();
    assertThat(p.note()).contains("no banded attention", "not the causal band");
  }
}
