package dev.pockettts.server.engine;

import static org.assertj.core.api.Assertions.assertThat;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The encoder's residual rewrite: a residual block's {@code x + Conv(Elu(Conv(Elu(x))))} becomes a
 * {@code FusedConv} that adds {@code x} itself, with the same output to float rounding; additions
 * whose operands might not have the same shape (a broadcast one would fail in {@code FusedConv}),
 * and convolutions whose output something else reads, stay as they are.
 */
class ResidualConvRewriteTest {

  @TempDir Path tmp;

  /**
   * A residual block as the export writes it after the padding rewrite (output {@code block}), and
   * four additions to a convolution that must stay: a constant bias ({@code bias}), a per-channel
   * mean ({@code mean}), one output channel added to two ({@code narrow}), and a convolution that
   * is also an output itself ({@code shared}, {@code sharedConv}).
   */
  private Path model() throws Exception {
    return new OnnxModels()
        .input("x", GraphEditor.FLOAT, 1, 2, -1)
        .output("block", GraphEditor.FLOAT, 1, 2, -1)
        .output("bias", GraphEditor.FLOAT, 1, 2, -1)
        .output("mean", GraphEditor.FLOAT, 1, 2, -1)
        .output("narrow", GraphEditor.FLOAT, 1, 2, -1)
        .output("shared", GraphEditor.FLOAT, 1, 2, -1)
        .output("sharedConv", GraphEditor.FLOAT, 1, 2, -1)
        .floats("w1", OnnxModels.random(3 * 2 * 3, 1), 3, 2, 3)
        .floats("b1", OnnxModels.random(3, 2), 3)
        .floats("w2", OnnxModels.random(2 * 3, 3), 2, 3, 1)
        .floats("b2", OnnxModels.random(2, 4), 2)
        .floats("w3", OnnxModels.random(2 * 2 * 2, 5), 2, 2, 2)
        .floats("c", OnnxModels.random(2, 6), 1, 2, 1)
        .floats("w4", OnnxModels.random(2, 7), 1, 2, 1)
        .node("Elu", new String[] {"x"}, new String[] {"e0"})
        .node(
            "Conv",
            new String[] {"e0", "w1", "b1"},
            new String[] {"h1"},
            GraphEditor.intsAttr("pads", 2, 0))
        .node("Elu", new String[] {"h1"}, new String[] {"e1"})
        .node("Conv", new String[] {"e1", "w2", "b2"}, new String[] {"h2"})
        .node("Add", new String[] {"x", "h2"}, new String[] {"block"})
        .node(
            "Conv",
            new String[] {"x", "w3"},
            new String[] {"h3"},
            GraphEditor.intsAttr("pads", 1, 0))
        .node("Add", new String[] {"h3", "c"}, new String[] {"bias"})
        .node(
            "Conv",
            new String[] {"x", "w3"},
            new String[] {"h4"},
            GraphEditor.intsAttr("pads", 1, 0))
        .node(
            "ReduceMean",
            new String[] {"x"},
            new String[] {"m"},
            GraphEditor.intsAttr("axes", 2),
            GraphEditor.intAttr("keepdims", 1))
        .node("Add", new String[] {"h4", "m"}, new String[] {"mean"})
        .node("Conv", new String[] {"x", "w4"}, new String[] {"h5"})
        .node("Add", new String[] {"x", "h5"}, new String[] {"narrow"})
        .node(
            "Conv",
            new String[] {"x", "w3"},
            new String[] {"sharedConv"},
            GraphEditor.intsAttr("pads", 0, 1))
        .node("Add", new String[] {"sharedConv", "x"}, new String[] {"shared"})
        .write(tmp.resolve("mimi_encoder.onnx"));
  }

  private static Map<String, float[]> run(Path file, int t) throws Exception {
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    Map<String, float[]> outputs = new LinkedHashMap<>();
    try (OrtSession s = env.createSession(file.toString(), new OrtSession.SessionOptions());
        OnnxTensor x =
            OnnxTensor.createTensor(
                env, FloatBuffer.wrap(OnnxModels.random(2 * t, t)), new long[] {1, 2, t});
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

  @ParameterizedTest
  @ValueSource(ints = {1, 3, 40})
  void theBlockAddsInsideItsLastConvolutionWithTheSameOutput(int length) throws Exception {
    Path plain = model();
    Map<String, float[]> expected = run(plain, length);
    GraphRewrite.Prepared p = GraphRewrite.prepare(plain, GraphRewrite.Kind.ENCODER);
    assertThat(p.rewritten()).isTrue();
    assertThat(p.note()).contains("1 residual additions inside convolutions");
    try (OrtSession.SessionOptions o = new OrtSession.SessionOptions();
        Graph g = Graph.open(OrtEnvironment.getEnvironment(), "mimi_encoder", p.file(), o)) {
      assertThat(g.metadata(GraphRewrite.APPLIED))
          .isEqualTo("residual additions inside the convolutions");
    }
    Map<String, float[]> actual = run(p.file(), length);
    assertThat(actual.keySet()).isEqualTo(expected.keySet());
    for (String name : expected.keySet()) {
      float[] e = expected.get(name);
      float[] a = actual.get(name);
      assertThat(a).as(name).hasSameSizeAs(e);
      for (int i = 0; i < e.length; i++) {
        assertThat(a[i])
            .as("%s[%d]", name, i)
            .isCloseTo(e[i], org.assertj.core.data.Offset.offset(1e-5f));
      }
    }
    // the additions that stay are exactly as they were
    for (String name : List.of("bias", "mean", "narrow", "shared", "sharedConv")) {
      assertThat(actual.get(name)).as(name).containsExactly(expected.get(name));
    }
    GraphEditor g = OnnxModels.parse(p.file());
    assertThat(g.nodes())
        .filteredOn(n -> n.getOpType().equals("FusedConv"))
        .singleElement()
        .satisfies(
            n -> {
              assertThat(n.getDomain()).isEqualTo(ResidualConvRewrite.MICROSOFT);
              assertThat(n.getInputList()).containsExactly("e1", "w2", "b2", "x");
              assertThat(n.getOutputList()).containsExactly("block");
            });
    assertThat(g.nodes()).filteredOn(n -> GraphEditor.is(n, "Add")).hasSize(4);
    assertThat(g.model().getOpsetImportList())
        .anyMatch(o -> o.getDomain().equals(ResidualConvRewrite.MICROSOFT));
  }

  @Test
  void aResidualAfterAStridedConvolutionStays() throws Exception {
    // the branch halves the length, so the addition broadcasts a length-1 tensor at most: left
    // alone
    Path file =
        new OnnxModels()
            .input("x", GraphEditor.FLOAT, 1, 1, 2)
            .output("y", GraphEditor.FLOAT, 1, 1, 2)
            .floats("w1", OnnxModels.random(2, 8), 1, 1, 2)
            .floats("w2", OnnxModels.random(1, 9), 1, 1, 1)
            .node(
                "Conv",
                new String[] {"x", "w1"},
                new String[] {"h1"},
                GraphEditor.intsAttr("strides", 2))
            .node("Conv", new String[] {"h1", "w2"}, new String[] {"h2"})
            .node("Add", new String[] {"h2", "x"}, new String[] {"y"})
            .write(tmp.resolve("mimi_encoder.onnx"));
    GraphRewrite.Prepared p = GraphRewrite.prepare(file, GraphRewrite.Kind.ENCODER);
    assertThat(p.rewritten()).isFalse();
    assertThat(p.note()).contains("no residual addition");
  }
}
