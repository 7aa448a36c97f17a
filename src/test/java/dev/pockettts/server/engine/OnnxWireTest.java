package dev.pockettts.server.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assumptions.assumeThat;

import dev.pockettts.server.engine.onnx.Attribute;
import dev.pockettts.server.engine.onnx.Graph;
import dev.pockettts.server.engine.onnx.Model;
import dev.pockettts.server.engine.onnx.Node;
import dev.pockettts.server.engine.onnx.Tensor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Parsing a graph for a rewrite leaves its weights where they are: the parsed model holds no large
 * raw data, the rewrite reads the weights from the source buffer, and writing the model puts them
 * back (the result equals protobuf's own parse of the bytes); what is not a well-formed message is
 * declined with the reason.
 */
class OnnxWireTest {

  private static final Path BENCH = Path.of("../shared/bench-model/english_2026-04");

  /**
   * The tiny graph in {@code file} with every constant's value also stored as an initializer with
   * raw data, as the published export stores its weights (the tiny graphs hold theirs in {@code
   * Constant} nodes).
   */
  private static byte[] withInitializers(Path file) throws IOException {
    Model m = Model.parseFrom(Files.readAllBytes(file));
    Graph.Builder g = m.getGraph().toBuilder();
    for (Node n : m.getGraph().getNodeList()) {
      for (Attribute a : n.getAttributeList()) {
        if (n.getOpType().equals("Constant") && a.hasT() && a.getT().hasRawData()) {
          g.addInitializer(a.getT().toBuilder().setName(n.getOutput(0) + ".weight"));
        }
      }
    }
    return m.toBuilder().setGraph(g).build().toByteArray();
  }

  private static ByteBuffer direct(byte[] bytes) {
    return ByteBuffer.allocateDirect(bytes.length).put(bytes).flip();
  }

  /** The model {@code g} was parsed from: its rewrite output with nothing edited. */
  private static Model joined(GraphEditor g) throws IOException {
    return Model.parseFrom(OnnxWire.concat(OnnxWire.join(g.model().toByteArray(), g.aside())));
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "tiny-bundle/flow_lm_main_int8.onnx",
        "tiny-bundle/flow_lm_main.onnx",
        "tiny-bundle/mimi_decoder_int8.onnx",
        "tiny-bundle/mimi_encoder.onnx",
        "tiny-bundle/text_conditioner.onnx",
        "tiny-french/flow_lm_main_int8.onnx"
      })
  void aGraphsWeightsStayInTheSourceAndComeBackWhenWritten(String file) throws IOException {
    byte[] bytes = withInitializers(Path.of("src/test/resources/models").resolve(file));
    Model expected = Model.parseFrom(bytes);

    GraphEditor g = GraphEditor.parse(direct(bytes), 1); // every initializer's raw data aside

    List<Tensor> weights = expected.getGraph().getInitializerList();
    assertThat(weights).isNotEmpty();
    assertThat(g.aside().keySet())
        .containsExactlyElementsOf(weights.stream().map(Tensor::getName).toList());
    assertThat(g.aside().values()).allMatch(ByteBuffer::isDirect);
    assertThat(g.model().getGraph().getInitializerList()).noneMatch(Tensor::hasRawData);
    for (Tensor t : weights) { // read from the source, as a rewrite reads them
      if (t.getDataType() == GraphEditor.FLOAT) {
        assertThat(g.initializerFloats(t.getName()))
            .containsExactly(new GraphEditor(expected).initializerFloats(t.getName()));
      } else if (t.getDataType() == GraphEditor.INT64) {
        assertThat(g.constantInts(t.getName()))
            .containsExactly(new GraphEditor(expected).constantInts(t.getName()));
      }
    }
    assertThat(joined(g)).isEqualTo(expected);
  }

  @Test
  void smallRawDataStaysInTheModel() throws IOException {
    byte[] bytes = withInitializers(TinyModels.BUNDLE.resolve("flow_lm_main_int8.onnx"));

    GraphEditor g = GraphEditor.parse(direct(bytes)); // 64 KiB and more aside: none here

    assertThat(g.aside()).isEmpty();
    assertThat(g.model()).isEqualTo(Model.parseFrom(bytes));
  }

  @Test
  void fieldsThatComeTwiceAreMergedAsProtobufMergesThem() throws IOException {
    byte[] one = withInitializers(TinyModels.BUNDLE.resolve("flow_lm_flow_int8.onnx"));
    byte[] two = withInitializers(TinyModels.BUNDLE.resolve("text_conditioner.onnx"));
    byte[] both = Arrays.copyOf(one, one.length + two.length);
    System.arraycopy(two, 0, both, one.length, two.length);

    GraphEditor g = GraphEditor.parse(direct(both), 1);

    assertThat(joined(g)).isEqualTo(Model.parseFrom(both));
    assertThat(g.aside())
        .hasSize(
            Model.parseFrom(one).getGraph().getInitializerCount()
                + Model.parseFrom(two).getGraph().getInitializerCount());
  }

  @Test
  void aTensorWhoseRawDataComesTwiceKeepsTheLastAsProtobufDoes() throws IOException {
    float[] first = new float[16]; // 64 bytes: under the 128-byte threshold below
    float[] last = new float[64];
    Arrays.fill(first, 1f);
    Arrays.fill(last, 2f);
    Tensor once =
        Tensor.newBuilder()
            .setName("w")
            .setDataType(GraphEditor.FLOAT)
            .addDims(64)
            .setRawData(com.google.protobuf.ByteString.copyFrom(littleEndian(first)))
            .build();
    // the same tensor with a second raw_data field (9, length-delimited) after the first
    java.io.ByteArrayOutputStream tensor = new java.io.ByteArrayOutputStream();
    tensor.writeBytes(once.toByteArray());
    tensor.write(9 << 3 | 2);
    tensor.write(64 * 4 % 128 | 0x80);
    tensor.write(64 * 4 / 128);
    tensor.writeBytes(littleEndian(last));
    java.io.ByteArrayOutputStream graph = new java.io.ByteArrayOutputStream();
    graph.write(5 << 3 | 2);
    graph.write(tensor.size() % 128 | 0x80);
    graph.write(tensor.size() / 128);
    tensor.writeTo(graph);
    java.io.ByteArrayOutputStream model = new java.io.ByteArrayOutputStream();
    model.write(7 << 3 | 2);
    model.write(graph.size() % 128 | 0x80);
    model.write(graph.size() / 128);
    graph.writeTo(model);
    byte[] bytes = model.toByteArray();

    for (int asideAt : new int[] {1, 128, Integer.MAX_VALUE}) {
      GraphEditor g = GraphEditor.parse(direct(bytes), asideAt);

      assertThat(g.initializerFloats("w")).containsExactly(last);
      assertThat(joined(g)).isEqualTo(Model.parseFrom(bytes));
    }
  }

  private static byte[] littleEndian(float[] values) {
    ByteBuffer b = ByteBuffer.allocate(4 * values.length).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    b.asFloatBuffer().put(values);
    return b.array();
  }

  @Test
  void thePublishedFlowLmLeavesAlmostNothingOnTheHeap() throws IOException {
    assumeThat(Files.isDirectory(BENCH))
        .as("../shared/bench-model is not here (a user's clone): skipping the real-export check")
        .isTrue();
    try (FileChannel ch = FileChannel.open(BENCH.resolve("flow_lm_main_int8.onnx"))) {
      MappedByteBuffer mapped = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size());
      try {
        GraphEditor g = GraphEditor.parse(mapped);
        byte[] rest = g.model().toByteArray();
        assertThat(rest.length).isLessThan((int) (ch.size() / 50));
        ByteBuffer all = OnnxWire.concat(OnnxWire.join(rest, g.aside()));
        assertThat(all.isDirect()).isTrue();
        assertThat(all.remaining()).isEqualTo((int) ch.size());
        assertThat(Model.parseFrom(all)).isEqualTo(Model.parseFrom(mapped.duplicate()));
        Tensors.free(all);
      } finally {
        Tensors.free(mapped);
      }
    }
  }

  @Test
  void aTruncatedModelIsDeclinedWithTheReason() throws IOException {
    byte[] bytes = Files.readAllBytes(TinyModels.BUNDLE.resolve("mimi_decoder_int8.onnx"));
    ByteBuffer half = direct(Arrays.copyOf(bytes, bytes.length / 2));

    assertThatThrownBy(() -> GraphEditor.parse(half))
        .isInstanceOf(GraphRewrite.NotRecognized.class)
        .hasMessageContaining("not a readable ONNX model");
  }

  @Test
  void aLengthPastItsMessageOrAGroupIsDeclined() {
    // field 7 (graph), length-delimited, claiming 100 bytes of which 2 follow
    ByteBuffer overlong = direct(new byte[] {(byte) 0x3a, 100, 1, 2});
    // field 1, wire type 3 (a group: not in ONNX)
    ByteBuffer group = direct(new byte[] {(byte) 0x0b, 0});

    assertThatThrownBy(() -> OnnxWire.split(overlong, 1))
        .isInstanceOf(GraphRewrite.NotRecognized.class)
        .hasMessageContaining("runs past its message");
    assertThatThrownBy(() -> OnnxWire.split(group, 1))
        .isInstanceOf(GraphRewrite.NotRecognized.class)
        .hasMessageContaining("wire type 3");
  }

  @Test
  void aWeightARewriteAddsStaysOffTheHeapUntilTheModelIsWritten() throws IOException {
    GraphEditor g = OnnxModels.parse(TinyModels.BUNDLE.resolve("mimi_decoder_int8.onnx"));
    float[] large = new float[OnnxWire.ASIDE_AT / 4 + 3];
    for (int i = 0; i < large.length; i++) {
      large[i] = i * 0.25f - 7;
    }
    String big = g.floats("added_weight", new long[] {large.length}, large);
    GraphEditor.NewFloats small = g.floats("added_bias", new long[] {2});
    small.values().put(new float[] {1.5f, -2});
    for (String name : List.of(big, small.name())) {
      g.append(g.node("Identity", List.of(name), List.of(name + "_read")).build());
      g.addOutput(GraphEditor.tensorInfo(name + "_read", GraphEditor.FLOAT));
    }

    // readable before the model is built, the large one from its direct buffer
    assertThat(g.initializerFloats(big)).containsExactly(large);
    assertThat(g.initializerFloats(small.name())).containsExactly(1.5f, -2);
    assertThat(g.aside().get(big).isDirect()).isTrue();
    assertThat(g.aside()).doesNotContainKey(small.name());
    Model built = g.build(java.util.Map.of());
    Tensor bigBuilt = initializer(built, big);
    assertThat(bigBuilt.hasRawData()).isFalse();
    assertThat(bigBuilt.getDimsList()).containsExactly((long) large.length);

    Model written = Model.parseFrom(OnnxWire.concat(OnnxWire.join(built.toByteArray(), g.aside())));
    GraphEditor back = new GraphEditor(written);
    assertThat(back.initializerFloats(big)).containsExactly(large);
    assertThat(back.initializerFloats(small.name())).containsExactly(1.5f, -2);
    g.free();
    assertThat(back.initializerFloats(big)).containsExactly(large); // the written copy is its own
  }

  private static Tensor initializer(Model m, String name) {
    return m.getGraph().getInitializerList().stream()
        .filter(t -> t.getName().equals(name))
        .findFirst()
        .orElseThrow();
  }
}
