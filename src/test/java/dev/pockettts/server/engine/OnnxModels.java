package dev.pockettts.server.engine;

import dev.pockettts.server.engine.onnx.Attribute;
import dev.pockettts.server.engine.onnx.Graph;
import dev.pockettts.server.engine.onnx.Model;
import dev.pockettts.server.engine.onnx.Node;
import dev.pockettts.server.engine.onnx.OperatorSet;
import dev.pockettts.server.engine.onnx.Shape;
import dev.pockettts.server.engine.onnx.Tensor;
import dev.pockettts.server.engine.onnx.TypeInfo;
import dev.pockettts.server.engine.onnx.ValueInfo;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

/** Small ONNX models built in the tests, through the server's own ONNX messages. */
final class OnnxModels {

  private final Graph.Builder graph = Graph.newBuilder().setName("test");

  /** {@code n} standard normal values from {@code seed}. */
  static float[] random(int n, long seed) {
    java.util.Random r = new java.util.Random(seed);
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) r.nextGaussian();
    }
    return v;
  }

  /** The model in {@code file}, parsed for the rewrites. */
  static GraphEditor parse(Path file) throws IOException {
    return GraphEditor.parse(ByteBuffer.wrap(Files.readAllBytes(file)));
  }

  OnnxModels input(String name, int type, long... dims) {
    graph.addInput(value(name, type, dims));
    return this;
  }

  /** An input whose dimension {@code -1} is symbolic. */
  OnnxModels output(String name, int type, long... dims) {
    graph.addOutput(value(name, type, dims));
    return this;
  }

  OnnxModels node(String op, String[] inputs, String[] outputs, Attribute... attributes) {
    Node.Builder n = Node.newBuilder().setOpType(op).setName(outputs[0] + "_node");
    for (String i : inputs) {
      n.addInput(i);
    }
    for (String o : outputs) {
      n.addOutput(o);
    }
    for (Attribute a : attributes) {
      n.addAttribute(a);
    }
    graph.addNode(n);
    return this;
  }

  OnnxModels floats(String name, float[] values, long... dims) {
    ByteBuffer b = ByteBuffer.allocate(4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
    b.asFloatBuffer().put(values);
    return initializer(name, GraphEditor.FLOAT, b.array(), dims);
  }

  OnnxModels longs(String name, long[] values, long... dims) {
    ByteBuffer b = ByteBuffer.allocate(8 * values.length).order(ByteOrder.LITTLE_ENDIAN);
    b.asLongBuffer().put(values);
    return initializer(name, GraphEditor.INT64, b.array(), dims);
  }

  private OnnxModels initializer(String name, int type, byte[] raw, long... dims) {
    Tensor.Builder t =
        Tensor.newBuilder()
            .setName(name)
            .setDataType(type)
            .setRawData(com.google.protobuf.ByteString.copyFrom(raw));
    for (long d : dims) {
      t.addDims(d);
    }
    graph.addInitializer(t);
    return this;
  }

  Path write(Path file) throws IOException {
    Model m =
        Model.newBuilder()
            .setIrVersion(8)
            .addOpsetImport(OperatorSet.newBuilder().setDomain("").setVersion(17))
            .setGraph(graph)
            .build();
    Files.createDirectories(file.toAbsolutePath().getParent());
    Files.write(file, m.toByteArray());
    return file;
  }

  private static ValueInfo value(String name, int type, long... dims) {
    Shape.Builder shape = Shape.newBuilder();
    for (long d : dims) {
      shape.addDim(
          d < 0
              ? Shape.Dimension.newBuilder().setDimParam("n" + shape.getDimCount())
              : Shape.Dimension.newBuilder().setDimValue(d));
    }
    return ValueInfo.newBuilder()
        .setName(name)
        .setType(
            TypeInfo.newBuilder()
                .setTensorType(TypeInfo.TensorType.newBuilder().setElemType(type).setShape(shape)))
        .build();
  }
}
