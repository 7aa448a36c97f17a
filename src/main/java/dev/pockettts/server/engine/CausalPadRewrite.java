package dev.pockettts.server.engine;

import dev.pockettts.server.engine.onnx.Attribute;
import dev.pockettts.server.engine.onnx.Node;
import java.util.ArrayList;
import java.util.List;

/**
 * Load-time rewrite of the zero padding in front of the Mimi encoder's convolutions: the export
 * makes each causal convolution read {@code Concat(zeros, x)} along time, which copies its whole
 * input (61 MB for one 64-channel tensor of 10 s at 24 kHz) only to put a few zeros in front, and
 * keeps the copy alive beside its source. An ONNX {@code Conv} pads with zeros itself: the rewrite
 * reads {@code x} directly and adds the zeros' length to the convolution's leading pad, so every
 * output sum has the same terms. Only a 1-D convolution over a two-input {@code Concat} on the last
 * axis, whose first input is a constant of zeros and whose result nothing else reads, is rewritten.
 */
final class CausalPadRewrite {

  private CausalPadRewrite() {}

  /** Rewrites every such convolution of {@code g} and returns how many (0 when none). */
  static int apply(GraphEditor g) {
    List<Node[]> found = new ArrayList<>();
    for (Node conv : g.nodes()) {
      Node concat = zeroPadded(g, conv);
      if (concat != null) {
        found.add(new Node[] {conv, concat});
      }
    }
    for (Node[] f : found) {
      Node conv = f[0];
      Node concat = f[1];
      long[] pads = GraphEditor.intsAttribute(conv, "pads");
      long before = pads == null ? 0 : pads[0];
      long after = pads == null ? 0 : pads[1];
      long zeros = g.constantDims(concat.getInput(0))[2];
      Node.Builder b = conv.toBuilder().setInput(0, concat.getInput(1));
      b.clearAttribute();
      for (Attribute a : conv.getAttributeList()) {
        if (!a.getName().equals("pads")) {
          b.addAttribute(a);
        }
      }
      b.addAttribute(GraphEditor.intsAttr("pads", before + zeros, after));
      g.replace(conv, List.of(b.build()));
    }
    if (!found.isEmpty()) {
      g.removeUnused();
    }
    return found.size();
  }

  /** The {@code Concat(zeros, x)} that {@code conv} reads alone, or null. */
  private static Node zeroPadded(GraphEditor g, Node conv) {
    if (!GraphEditor.is(conv, "Conv")) {
      return null;
    }
    long[] weight = g.constantDims(conv.getInput(1));
    Attribute autoPad = GraphEditor.attribute(conv, "auto_pad");
    long[] pads = GraphEditor.intsAttribute(conv, "pads");
    if (weight == null
        || weight.length != 3
        || (autoPad != null && !autoPad.getS().toStringUtf8().equals("NOTSET"))
        || (pads != null && pads.length != 2)) {
      return null;
    }
    Node concat = g.producer(conv.getInput(0));
    if (!GraphEditor.is(concat, "Concat")
        || concat.getInputCount() != 2
        || g.consumers(concat.getOutput(0)).size() != 1
        || g.isGraphOutput(concat.getOutput(0))) {
      return null;
    }
    long axis = GraphEditor.intAttribute(concat, "axis", 0);
    long[] dims = g.constantDims(concat.getInput(0));
    if ((axis != -1 && axis != 2) || dims == null || dims.length != 3) {
      return null;
    }
    float[] zeros = g.constantFloats(concat.getInput(0));
    if (zeros == null) {
      return null;
    }
    for (float z : zeros) {
      if (z != 0f) {
        return null;
      }
    }
    return concat;
  }
}
