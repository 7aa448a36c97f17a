package dev.pockettts.server.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.offset;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.pockettts.server.engine.onnx.Attribute;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The decoder's activation rewrite: every {@code Elu} with {@code alpha <= 1} becomes {@code Max(x,
 * alpha * (Exp(Min(x, 0)) - 1))} from vectorised kernels, with the same values to float rounding,
 * positive inputs unchanged to the bit, the export's {@code alpha} kept, and an {@code Elu} the
 * form does not fit left as it is.
 */
class EluRewriteTest {

  @TempDir Path tmp;

  /** Values across the range: large and tiny, both signs, zero, infinities, and random ones. */
  private static float[] input() {
    float[] x = OnnxModels.random(3 * 500, 11);
    float[] fixed = {
      0f,
      -0f,
      1e-30f,
      -1e-30f,
      1e-8f,
      -1e-8f,
      0.5f,
      -0.5f,
      30f,
      -30f,
      88f,
      -104f,
      Float.NEGATIVE_INFINITY,
      Float.POSITIVE_INFINITY,
      -3e-4f,
      -1e-3f
    };
    for (int i = 0; i < x.length; i++) {
      x[i] *= 4;
    }
    System.arraycopy(fixed, 0, x, 0, fixed.length);
    return x;
  }

  private static Map<String, float[]> run(Path file) throws Exception {
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    Map<String, float[]> outputs = new LinkedHashMap<>();
    try (OrtSession s = env.createSession(file.toString(), new OrtSession.SessionOptions());
        OnnxTensor x =
            OnnxTensor.createTensor(env, FloatBuffer.wrap(input()), new long[] {1, 3, 500});
        OrtSession.Result out = s.run(Map.of("x", x))) {
      for (Map.Entry<String, ai.onnxruntime.OnnxValue> e : out) {
        FloatBuffer y = ((OnnxTensor) e.getValue()).getFloatBuffer();
        float[] values = new float[y.remaining()];
        y.get(values);
        outputs.put(e.getKey(), values);
      }
    }
    return outputs;
  }

  private static Attribute alpha(float value) {
    return Attribute.newBuilder()
        .setName("alpha")
        .setType(Attribute.Type.FLOAT)
        .setF(value)
        .build();
  }

  @Test
  void everyEluItFitsBecomesVectorisedKernelsWithTheSameValues() throws Exception {
    Path plain =
        new OnnxModels()
            .input("x", GraphEditor.FLOAT, 1, 3, -1)
            .output("y", GraphEditor.FLOAT, 1, 3, -1)
            .output("z", GraphEditor.FLOAT, 1, 3, -1)
            .output("w", GraphEditor.FLOAT, 1, 3, -1)
            .node("Elu", new String[] {"x"}, new String[] {"y"})
            .node("Elu", new String[] {"x"}, new String[] {"z"}, alpha(0.25f))
            .node("Elu", new String[] {"x"}, new String[] {"w"}, alpha(1.5f))
            .write(tmp.resolve("mimi_decoder.onnx"));
    Map<String, float[]> expected = run(plain);

    GraphRewrite.Prepared p = GraphRewrite.prepare(plain, GraphRewrite.Kind.DECODER);

    assertThat(p.rewritten()).isTrue();
    assertThat(p.note()).contains("2 Elu");
    try (OrtSession.SessionOptions o = new OrtSession.SessionOptions();
        Graph g = Graph.open(OrtEnvironment.getEnvironment(), "mimi_decoder", p.file(), o)) {
      assertThat(g.metadata(GraphRewrite.APPLIED)).isEqualTo(GraphRewrite.ELU);
    }
    GraphEditor g = OnnxModels.parse(p.file());
    // alpha 1.5 > 1 would make alpha * (exp(x) - 1) < x near 0: that one stays an Elu
    assertThat(g.nodes())
        .filteredOn(n -> GraphEditor.is(n, "Elu"))
        .singleElement()
        .satisfies(n -> assertThat(n.getOutput(0)).isEqualTo("w"));
    assertThat(g.nodes()).filteredOn(n -> GraphEditor.is(n, "Exp")).hasSize(2);
    assertThat(g.nodes()).filteredOn(n -> GraphEditor.is(n, "Max")).hasSize(2);
    Map<String, float[]> actual = run(p.file());
    for (String name : expected.keySet()) {
      float[] e = expected.get(name);
      float[] a = actual.get(name);
      assertThat(a).as(name).hasSameSizeAs(e);
      for (int i = 0; i < e.length; i++) {
        assertThat(a[i]).as("%s[%d]", name, i).isCloseTo(e[i], offset(2e-7f));
      }
    }
    float[] x = input();
    float[] y = actual.get("y");
    float[] z = actual.get("z");
    for (int i = 0; i < x.length; i++) {
      if (x[i] > 0) { // a positive input passes through to the bit
        assertThat(y[i]).as("y[%d]", i).isEqualTo(x[i]);
        assertThat(z[i]).as("z[%d]", i).isEqualTo(x[i]);
      } else { // a negative one is alpha * (exp(x) - 1), never below -alpha
        assertThat(y[i]).as("y[%d]", i).isBetween(-1f, 0f);
        assertThat(z[i]).as("z[%d]", i).isBetween(-0.25f, 0f);
      }
    }
    assertThat(y[9]).isEqualTo(-1f); // exp(-30) - 1 in float
    assertThat(y[12]).isEqualTo(-1f); // exp(-inf) - 1
    assertThat(z[13]).isEqualTo(Float.POSITIVE_INFINITY);
    assertThat(z[7]).isCloseTo(0.25f * (float) Math.expm1(-0.5), offset(1e-7f));
    assertThat(y[15]).isCloseTo((float) Math.expm1(-1e-3), offset(1e-7f));
  }

  @Test
  void aDecoderWithNothingToRewriteRunsAsItIs() throws Exception {
    Path plain =
        new OnnxModels()
            .input("x", GraphEditor.FLOAT, 1, 3, -1)
            .output("y", GraphEditor.FLOAT, 1, 3, -1)
            .node("Relu", new String[] {"x"}, new String[] {"y"})
            .write(tmp.resolve("mimi_decoder.onnx"));
    GraphRewrite.Prepared p = GraphRewrite.prepare(plain, GraphRewrite.Kind.DECODER);
    assertThat(p.rewritten()).isFalse();
    assertThat(p.note()).contains("no Elu");
  }
}
