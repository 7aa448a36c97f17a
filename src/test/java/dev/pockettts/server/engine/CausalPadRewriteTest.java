package dev.pockettts.server.engine;

import static org.assertj.core.api.Assertions.assertThat;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The encoder's padding rewrite: convolutions that read {@code Concat(zeros, x)} pad inside the
 * convolution instead and give the same output; any other concatenation is left as it is.
 */
class CausalPadRewriteTest {

  @TempDir Path tmp;

  /**
   * Two causal convolutions as the export writes them (a kernel-3 one, then a strided kernel-6 one
   * with a pad of its own after), and a third whose front is {@code front}: zeros when {@code
   * zeroFront}, ones otherwise.
   */
  private Path model(boolean zeroFront) throws Exception {
    return new OnnxModels()
        .input("x", GraphEditor.FLOAT, 1, 2, -1)
        .output("y", GraphEditor.FLOAT, 1, 2, -1)
        .floats("z1", new float[2 * 2], 1, 2, 2)
        .floats("w1", OnnxModels.random(3 * 2 * 3, 1), 3, 2, 3)
        .floats("b1", OnnxModels.random(3, 2), 3)
        .floats("z2", new float[3 * 4], 1, 3, 4)
        .floats("w2", OnnxModels.random(2 * 3 * 6, 3), 2, 3, 6)
        .floats("front", zeroFront ? new float[2] : new float[] {1f, 1f}, 1, 2, 1)
        .floats("w3", OnnxModels.random(2 * 2 * 2, 4), 2, 2, 2)
        .node(
            "Concat",
            new String[] {"z1", "x"},
            new String[] {"c1"},
            GraphEditor.intAttr("axis", -1))
        .node("Conv", new String[] {"c1", "w1", "b1"}, new String[] {"h1"})
        .node("Elu", new String[] {"h1"}, new String[] {"e1"})
        .node(
            "Concat",
            new String[] {"z2", "e1"},
            new String[] {"c2"},
            GraphEditor.intAttr("axis", 2))
        .node(
            "Conv",
            new String[] {"c2", "w2"},
            new String[] {"h2"},
            GraphEditor.intsAttr("strides", 2),
            GraphEditor.intsAttr("pads", 0, 1))
        .node(
            "Concat",
            new String[] {"front", "h2"},
            new String[] {"c3"},
            GraphEditor.intAttr("axis", -1))
        .node("Conv", new String[] {"c3", "w3"}, new String[] {"y"})
        .write(tmp.resolve("mimi_encoder.onnx"));
  }

  private static float[] run(Path file, int t) throws Exception {
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    try (OrtSession s = env.createSession(file.toString(), new OrtSession.SessionOptions());
        OnnxTensor x =
            OnnxTensor.createTensor(
                env, FloatBuffer.wrap(OnnxModels.random(2 * t, t)), new long[] {1, 2, t});
        OrtSession.Result out = s.run(Map.of("x", x))) {
      FloatBuffer y = ((OnnxTensor) out.get(0)).getFloatBuffer();
      float[] values = new float[y.remaining()];
      y.get(values);
      return values;
    }
  }

  @ParameterizedTest
  @ValueSource(ints = {1, 2, 7, 30})
  void theConvolutionsPadThemselvesAndGiveTheSameOutput(int length) throws Exception {
    Path plain = model(true);
    float[] expected = run(plain, length);
    GraphRewrite.Prepared p = GraphRewrite.prepare(plain, GraphRewrite.Kind.ENCODER);
    assertThat(p.rewritten()).isTrue();
    assertThat(p.note()).contains("attention as it is: no Softmax", "3 zero paddings");
    try (OrtSession.SessionOptions o = new OrtSession.SessionOptions();
        Graph g = Graph.open(OrtEnvironment.getEnvironment(), "mimi_encoder", p.file(), o)) {
      assertThat(g.metadata(GraphRewrite.APPLIED))
          .isEqualTo("zero padding inside the convolutions");
    }
    assertThat(run(p.file(), length)).containsExactly(expected);
    GraphEditor g = OnnxModels.parse(p.file());
    assertThat(g.nodes()).noneMatch(n -> GraphEditor.is(n, "Concat"));
    assertThat(g.nodes())
        .filteredOn(n -> GraphEditor.is(n, "Conv"))
        .extracting(n -> GraphEditor.intsAttribute(n, "pads"))
        .containsExactly(new long[] {2, 0}, new long[] {4, 1}, new long[] {1, 0});
  }

  @Test
  void aFrontThatIsNotZerosStaysAConcatenation() throws Exception {
    Path plain = model(false);
    float[] expected = run(plain, 9);
    GraphRewrite.Prepared p = GraphRewrite.prepare(plain, GraphRewrite.Kind.ENCODER);
    assertThat(p.note()).contains("2 zero paddings");
    assertThat(run(p.file(), 9)).containsExactly(expected);
    assertThat(OnnxModels.parse(p.file()).nodes())
        .filteredOn(n -> GraphEditor.is(n, "Concat"))
        .hasSize(1);
  }

  @Test
  void aPaddedInputReadTwiceIsLeftAsItIs() throws Exception {
    Path file =
        new OnnxModels()
            .input("x", GraphEditor.FLOAT, 1, 1, -1)
            .output("y", GraphEditor.FLOAT, 1, 1, -1)
            .output("c", GraphEditor.FLOAT, 1, 1, -1)
            .floats("z", new float[2], 1, 1, 2)
            .floats("w", OnnxModels.random(3, 5), 1, 1, 3)
            .node(
                "Concat",
                new String[] {"z", "x"},
                new String[] {"c"},
                GraphEditor.intAttr("axis", -1))
            .node("Conv", new String[] {"c", "w"}, new String[] {"y"})
            .write(tmp.resolve("mimi_encoder.onnx"));
    GraphRewrite.Prepared p = GraphRewrite.prepare(file, GraphRewrite.Kind.ENCODER);
    assertThat(p.rewritten()).isFalse();
    assertThat(p.note()).contains("no Softmax", "no convolution reads zero padding");
  }
}
