package dev.pockettts.server.engine;

import dev.pockettts.server.engine.onnx.Node;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Load-time rewrite of the residual additions in the Mimi encoder's blocks: each block computes
 * {@code x + Conv(Elu(Conv(Elu(x))))}, and the {@code Add} reads the whole convolution output and
 * {@code x} again to write a third tensor (61 MB each for a 64-channel tensor of 10 s at 24 kHz).
 * ONNX Runtime's {@code com.microsoft.FusedConv} takes the tensor to add as its fourth input and
 * accumulates the convolution onto it, so the pass is gone; the sums have the same terms in another
 * order (float rounding). A convolution is fused only when the rewrite can prove that the tensor it
 * adds has the convolution's output shape, as {@code FusedConv} requires (it does not broadcast):
 * the convolution's input must come from that very tensor through element-wise activations and
 * stride-1 1-D convolutions that keep the length, and the last convolution must give back as many
 * channels as the first one read. Nothing else reads the convolution's output.
 */
final class ResidualConvRewrite {

  /** ONNX Runtime's contrib operator domain, where {@code FusedConv} lives. */
  static final String MICROSOFT = "com.microsoft";

  /** Element-wise operators that keep their input's shape (a residual branch's activations). */
  private static final Set<String> SAME_SHAPE =
      Set.of("Elu", "Relu", "LeakyRelu", "Selu", "Celu", "Sigmoid", "Tanh", "Identity");

  /** How far back a residual branch is followed. */
  private static final int MAX_DEPTH = 16;

  private ResidualConvRewrite() {}

  /** A convolution, the addition that reads it, and the tensor added to it. */
  private record Residual(Node conv, Node add, String sum) {}

  /** Rewrites every such addition of {@code g} and returns how many (0 when none). */
  static int apply(GraphEditor g) {
    List<Residual> found = new ArrayList<>();
    for (Node add : g.nodes()) {
      if (!GraphEditor.is(add, "Add") || add.getInputCount() != 2) {
        continue;
      }
      for (int k = 0; k < 2; k++) {
        Node conv = g.producer(add.getInput(k));
        String other = add.getInput(1 - k);
        if (fusable(g, conv, add) && sameShape(g, conv, other)) {
          found.add(new Residual(conv, add, other));
          break;
        }
      }
    }
    for (Residual r : found) {
      Node conv = r.conv();
      Node.Builder fused =
          Node.newBuilder()
              .setOpType("FusedConv")
              .setDomain(MICROSOFT)
              .setName(conv.getName())
              .addInput(conv.getInput(0))
              .addInput(conv.getInput(1))
              .addInput(conv.getInputCount() > 2 ? conv.getInput(2) : "")
              .addInput(r.sum())
              .addAllOutput(r.add().getOutputList())
              .addAllAttribute(conv.getAttributeList());
      g.remove(conv);
      g.replace(r.add(), List.of(fused.build()));
    }
    if (!found.isEmpty()) {
      g.useDomain(MICROSOFT, 1);
    }
    return found.size();
  }

  /** A 1-D {@code Conv} with constant weights whose output only {@code add} reads. */
  private static boolean fusable(GraphEditor g, Node conv, Node add) {
    return oneDimensional(g, conv)
        && conv.getInputCount() <= 3
        && conv.getOutputCount() == 1
        && !g.isGraphOutput(conv.getOutput(0))
        && g.consumers(conv.getOutput(0)).equals(List.of(add))
        && !add.getInput(0).equals(add.getInput(1));
  }

  private static boolean oneDimensional(GraphEditor g, Node conv) {
    if (!GraphEditor.is(conv, "Conv")) {
      return false;
    }
    long[] w = g.constantDims(conv.getInput(1));
    var autoPad = GraphEditor.attribute(conv, "auto_pad");
    return w != null
        && w.length == 3
        && (autoPad == null || autoPad.getS().toStringUtf8().equals("NOTSET"));
  }

  /**
   * True when {@code conv}'s output provably has {@code tensor}'s shape: {@code conv}'s input comes
   * from {@code tensor} through same-shape element-wise nodes and length-keeping convolutions
   * ({@code conv} among them), and {@code conv} writes as many channels as the convolution nearest
   * {@code tensor} reads.
   */
  private static boolean sameShape(GraphEditor g, Node conv, String tensor) {
    if (!keepsLength(g, conv)) {
      return false;
    }
    Node nearest = conv;
    Node n = conv;
    for (int depth = 0; depth < MAX_DEPTH; depth++) {
      String in = n.getInput(0);
      if (in.equals(tensor)) {
        return g.constantDims(conv.getInput(1))[0] == channelsRead(g, nearest);
      }
      n = g.producer(in);
      if (n == null || n.getInputCount() < 1) {
        return false;
      }
      if (GraphEditor.is(n, "Conv")) {
        if (!keepsLength(g, n)) {
          return false;
        }
        nearest = n;
      } else if (!n.getDomain().isEmpty() || !SAME_SHAPE.contains(n.getOpType())) {
        return false;
      }
    }
    return false;
  }

  /** The input channels of a convolution: its weights' second dimension times its groups. */
  private static long channelsRead(GraphEditor g, Node conv) {
    return g.constantDims(conv.getInput(1))[1] * GraphEditor.intAttribute(conv, "group", 1);
  }

  /** A stride-1 1-D convolution whose pads make up for its kernel: the output is as long. */
  private static boolean keepsLength(GraphEditor g, Node conv) {
    if (!oneDimensional(g, conv)) {
      return false;
    }
    long kernel = g.constantDims(conv.getInput(1))[2];
    long[] strides = GraphEditor.intsAttribute(conv, "strides");
    long[] dilations = GraphEditor.intsAttribute(conv, "dilations");
    long[] pads = GraphEditor.intsAttribute(conv, "pads");
    long dilation = dilations == null ? 1 : dilations[0];
    long padded = pads == null ? 0 : pads.length == 2 ? pads[0] + pads[1] : -1;
    return (strides == null || (strides.length == 1 && strides[0] == 1))
        && (dilations == null || dilations.length == 1)
        && padded == dilation * (kernel - 1);
  }
}
