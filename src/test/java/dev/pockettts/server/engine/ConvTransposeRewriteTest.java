package dev.pockettts.server.engine;

import static org.assertj.core.api.Assertions.assertThat;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The decoder's upsampling rewrite computes what ConvTranspose computes, layer by layer. */
class ConvTransposeRewriteTest {

  @TempDir Path tmp;

  private Path model(int cin, int cout, int stride, int kernel, int groups, boolean bias)
      throws Exception {
    Random r = new Random(cin * 31 + stride);
    float[] w = new float[cin * (cout / groups) * kernel];
    for (int i = 0; i < w.length; i++) {
      w[i] = (float) r.nextGaussian();
    }
    float[] b = new float[cout];
    for (int i = 0; i < b.length; i++) {
      b[i] = (float) r.nextGaussian();
    }
    OnnxModels m =
        new OnnxModels()
            .input("x", GraphEditor.FLOAT, 1, cin, -1)
            .output("y", GraphEditor.FLOAT, 1, cout, -1)
            .floats("w", w, cin, cout / groups, kernel);
    if (bias) {
      m.floats("b", b, cout);
    }
    return m.node(
            "ConvTranspose",
            bias ? new String[] {"x", "w", "b"} : new String[] {"x", "w"},
            new String[] {"y"},
            GraphEditor.intsAttr("strides", stride),
            GraphEditor.intsAttr("kernel_shape", kernel),
            GraphEditor.intAttr("group", groups))
        .write(tmp.resolve("mimi_decoder_int8.onnx"));
  }

  private static float[] run(GraphRewrite.Prepared p, Path plain, float[] x, int cin)
      throws Exception {
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    Path file = p == null ? plain : p.file();
    try (OrtSession s = env.createSession(file.toString(), new OrtSession.SessionOptions());
        OnnxTensor in =
            OnnxTensor.createTensor(env, FloatBuffer.wrap(x), new long[] {1, cin, x.length / cin});
        OrtSession.Result out = s.run(Map.of("x", in))) {
      OnnxTensor y = (OnnxTensor) out.get(0);
      float[] v = new float[y.getFloatBuffer().remaining()];
      y.getFloatBuffer().get(v);
      return v;
    }
  }

  @ParameterizedTest
  @CsvSource({
    "4, 3, 2, 1, true", // a decoder stage: channels down, time up
    "6, 6, 4, 6, false", // depthwise, as the latent upsampling
    "8, 4, 5, 2, true" // groups of several channels
  })
  void theRewrittenLayerGivesTheSameOutput(int cin, int cout, int stride, int groups, boolean bias)
      throws Exception {
    Path plain = model(cin, cout, stride, 2 * stride, groups, bias);
    float[] x = new float[cin * 7];
    Random r = new Random(5);
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) r.nextGaussian();
    }
    float[] expected = run(null, plain, x, cin);
    GraphRewrite.Prepared p = GraphRewrite.prepare(plain, GraphRewrite.Kind.DECODER);
    assertThat(p.rewritten()).isTrue();
    assertThat(p.note()).startsWith("1 layers");
    float[] actual = run(p, plain, x, cin);
    assertThat(actual).hasSize(expected.length).hasSize(cout * (6 * stride + 2 * stride));
    for (int i = 0; i < expected.length; i++) {
      assertThat((double) actual[i])
          .isCloseTo(expected[i], org.assertj.core.api.Assertions.within(1e-4));
    }
  }

  @Test
  void otherKernelsAreLeftAsTheyAre() throws Exception {
    Path plain = model(4, 2, 2, 3, 1, true);
    GraphRewrite.Prepared p = GraphRewrite.prepare(plain, GraphRewrite.Kind.DECODER);
    assertThat(p.rewritten()).isFalse();
    assertThat(p.note())
        .contains("no eligible ConvTranspose", "kernel 3 is not twice the stride 2");
  }
}
