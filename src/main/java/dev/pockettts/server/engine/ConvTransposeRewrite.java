package dev.pockettts.server.engine;

import dev.pockettts.server.engine.onnx.Attribute;
import dev.pockettts.server.engine.onnx.Node;
import dev.pockettts.server.engine.onnx.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * Load-time rewrite of the Mimi decoder's upsampling layers: a 1-D {@code ConvTranspose} whose
 * kernel is twice its stride (every Mimi upsampling layer) becomes a {@code Conv} with kernel 2 and
 * {@code stride} times the output channels, followed by a reshape and transpose that interleave
 * those channels into time. The two compute the same sums (in another order, so they agree to float
 * rounding): output sample {@code q*s + p} of channel {@code c} is {@code x[q]·W[c, p] +
 * x[q-1]·W[c, s+p]}, which is output channel {@code c*s + p} of a kernel-2 convolution at position
 * {@code q}. ONNX Runtime's ConvTranspose spends most of its time scattering the columns of its
 * matrix product back into time; the convolution does the same product and a plain transpose.
 */
final class ConvTransposeRewrite {

  private ConvTransposeRewrite() {}

  /**
   * Rewrites every eligible ConvTranspose of {@code g} and returns how many.
   *
   * @throws GraphRewrite.NotRecognized when there is none
   */
  static int apply(GraphEditor g) {
    int done = 0;
    List<String> skipped = new ArrayList<>();
    for (Node n : g.nodes()) {
      if (!GraphEditor.is(n, "ConvTranspose")) {
        continue;
      }
      String why = rewrite(g, n);
      if (why == null) {
        done++;
      } else {
        skipped.add(n.getName() + ": " + why);
      }
    }
    if (done == 0) {
      throw new GraphRewrite.NotRecognized(
          skipped.isEmpty() ? "no ConvTranspose" : "no eligible ConvTranspose (" + skipped + ")");
    }
    return done;
  }

  /** Rewrites one node; returns why not, or null when it was rewritten. */
  private static String rewrite(GraphEditor g, Node n) {
    Tensor w = g.initializer(n.getInput(1));
    java.nio.FloatBuffer weights = g.initializerFloatView(n.getInput(1));
    if (w == null || weights == null || w.getDimsCount() != 3) {
      return "the weight is not a float initializer of rank 3";
    }
    for (Attribute a : n.getAttributeList()) {
      String name = a.getName();
      boolean plain =
          switch (name) {
            case "strides", "kernel_shape", "group" -> true;
            case "pads", "output_padding" -> a.getIntsList().stream().allMatch(v -> v == 0);
            case "dilations" -> a.getIntsList().stream().allMatch(v -> v == 1);
            case "auto_pad" -> a.getS().toStringUtf8().equals("NOTSET");
            default -> false;
          };
      if (!plain) {
        return "attribute " + name + " is not handled";
      }
    }
    long[] strides = GraphEditor.intsAttribute(n, "strides");
    int cin = (int) w.getDims(0);
    int coutPerGroup = (int) w.getDims(1);
    int k = (int) w.getDims(2);
    long[] kernel = GraphEditor.intsAttribute(n, "kernel_shape");
    if (strides == null || strides.length != 1 || (kernel != null && kernel[0] != k)) {
      return "not a 1-D layer with explicit strides";
    }
    int s = (int) strides[0];
    if (k != 2 * s) {
      return "kernel " + k + " is not twice the stride " + s;
    }
    int groups = (int) GraphEditor.intAttribute(n, "group", 1);
    if (groups < 1 || cin % groups != 0) {
      return "group " + groups + " does not divide " + cin + " input channels";
    }
    int cinPerGroup = cin / groups;
    int cout = coutPerGroup * groups;
    // W[ci, c, j] (ci over all inputs, c within the group) -> V[(g*coutPerGroup + c)*s + p, ci', m]
    // written straight into the new initializer (off the Java heap, as the weight is read)
    GraphEditor.NewFloats polyphase =
        g.floats("polyphase_weight", new long[] {(long) cout * s, cinPerGroup, 2});
    java.nio.FloatBuffer v = polyphase.values();
    for (int gi = 0; gi < groups; gi++) {
      for (int ciLocal = 0; ciLocal < cinPerGroup; ciLocal++) {
        int ci = gi * cinPerGroup + ciLocal;
        for (int c = 0; c < coutPerGroup; c++) {
          int oc = gi * coutPerGroup + c;
          int from = (ci * coutPerGroup + c) * k;
          for (int p = 0; p < s; p++) {
            int to = ((oc * s + p) * cinPerGroup + ciLocal) * 2;
            v.put(to, weights.get(from + s + p)); // applied to x[q-1]
            v.put(to + 1, weights.get(from + p)); // applied to x[q]
          }
        }
      }
    }
    List<String> convInputs = new ArrayList<>();
    convInputs.add(n.getInput(0));
    convInputs.add(polyphase.name());
    if (n.getInputCount() > 2 && !n.getInput(2).isEmpty()) {
      float[] bias = g.initializerFloats(n.getInput(2));
      if (bias == null || bias.length != cout) {
        return "the bias is not a float initializer of " + cout + " values";
      }
      float[] repeated = new float[cout * s];
      for (int i = 0; i < repeated.length; i++) {
        repeated[i] = bias[i / s];
      }
      convInputs.add(g.floats("polyphase_bias", new long[] {repeated.length}, repeated));
    }
    String phases = g.freshName("phases");
    String grouped = g.freshName("grouped");
    String interleaved = g.freshName("interleaved");
    Node conv =
        g.node("Conv", convInputs, List.of(phases))
            .addAttribute(GraphEditor.intsAttr("kernel_shape", 2))
            .addAttribute(GraphEditor.intsAttr("pads", 1, 1))
            .addAttribute(GraphEditor.intsAttr("strides", 1))
            .addAttribute(GraphEditor.intsAttr("dilations", 1))
            .addAttribute(GraphEditor.intAttr("group", groups))
            .build();
    Node split =
        g.node(
                "Reshape",
                List.of(phases, g.int64s("phase_shape", 0, cout, s, -1)),
                List.of(grouped))
            .build();
    Node transpose =
        g.node("Transpose", List.of(grouped), List.of(interleaved))
            .addAttribute(GraphEditor.intsAttr("perm", 0, 1, 3, 2))
            .build();
    Node merge =
        g.node(
                "Reshape",
                List.of(interleaved, g.int64s("time_shape", 0, cout, -1)),
                n.getOutputList())
            .build();
    g.replace(n, List.of(conv, split, transpose, merge));
    return null;
  }
}
