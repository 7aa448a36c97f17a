package dev.pockettts.server.engine;

import com.google.protobuf.UnsafeByteOperations;
import dev.pockettts.server.engine.onnx.Attribute;
import dev.pockettts.server.engine.onnx.Graph;
import dev.pockettts.server.engine.onnx.Model;
import dev.pockettts.server.engine.onnx.Node;
import dev.pockettts.server.engine.onnx.OperatorSet;
import dev.pockettts.server.engine.onnx.StringEntry;
import dev.pockettts.server.engine.onnx.Tensor;
import dev.pockettts.server.engine.onnx.ValueInfo;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * An ONNX model opened for a load-time rewrite: its nodes in a list that the rewrite edits, with
 * the producer and consumers of every tensor and the values of constants. Everything the rewrite
 * does not touch (initializers, attributes, fields this server does not model) is written back
 * unchanged.
 */
final class GraphEditor {

  static final int FLOAT = 1;
  static final int INT64 = 7;

  private final Model model;
  // initializers' raw data not in the model: views of the source, and the added large data
  private final Map<String, ByteBuffer> aside;
  private final List<Node> nodes;
  private final Map<String, Tensor> initializers = new HashMap<>();
  private final Map<String, Tensor> addedInitializers = new LinkedHashMap<>();
  private final Set<String> graphInputs = new HashSet<>();
  private final Set<String> graphOutputs = new HashSet<>();
  private final Map<String, Node> producer = new HashMap<>();
  private final Map<String, List<Node>> consumers = new HashMap<>();
  private static final Set<String> SUBGRAPH_OPS = Set.of("If", "Loop", "Scan");

  private final List<ByteBuffer> offHeap = new ArrayList<>(); // added initializers' large data
  private final List<ValueInfo> addedInputs = new ArrayList<>();
  private final List<ValueInfo> addedOutputs = new ArrayList<>();
  private final Set<String> removedOutputs = new HashSet<>();
  private final Map<String, Map<Integer, String>> symbolicDims = new HashMap<>();
  private final Map<String, Long> addedDomains = new LinkedHashMap<>();
  private int fresh;

  GraphEditor(Model model) {
    this(model, Map.of());
  }

  private GraphEditor(Model model, Map<String, ByteBuffer> aside) {
    this.model = model;
    this.aside = new LinkedHashMap<>(aside); // added initializers' large data joins it
    Graph g = model.getGraph();
    this.nodes = new ArrayList<>(g.getNodeList());
    for (Tensor t : g.getInitializerList()) {
      initializers.put(t.getName(), t);
    }
    g.getInputList().forEach(v -> graphInputs.add(v.getName()));
    g.getOutputList().forEach(v -> graphOutputs.add(v.getName()));
    index();
  }

  /**
   * Parses a model; the raw data of its large initializers (the weights) stays in {@code data} and
   * is read from there (see {@link OnnxWire}), so {@code data} must outlive what is made of it.
   */
  static GraphEditor parse(ByteBuffer data) {
    return parse(data, OnnxWire.ASIDE_AT);
  }

  /** As {@link #parse(ByteBuffer)}, leaving aside raw data of at least {@code asideAt} bytes. */
  static GraphEditor parse(ByteBuffer data, int asideAt) {
    OnnxWire.Split split = OnnxWire.split(data, asideAt);
    try {
      com.google.protobuf.CodedInputStream in =
          com.google.protobuf.CodedInputStream.newInstance(split.rest());
      in.setSizeLimit(Integer.MAX_VALUE);
      return new GraphEditor(Model.parseFrom(in), split.aside());
    } catch (IOException e) {
      throw new GraphRewrite.NotRecognized("not a readable ONNX model: " + e.getMessage());
    }
  }

  private void index() {
    producer.clear();
    consumers.clear();
    for (Node n : nodes) {
      for (String o : n.getOutputList()) {
        producer.put(o, n);
      }
      for (String i : n.getInputList()) {
        consumers.computeIfAbsent(i, k -> new ArrayList<>()).add(n);
      }
    }
  }

  // ------------------------------------------------------------------ reading

  /**
   * The model as parsed, before any edit, without the raw data left in the source (see {@link
   * #aside}).
   */
  Model model() {
    return model;
  }

  /**
   * The raw data of the source's initializers that {@link #model} and {@link #build} leave out, by
   * name: views of the parsed buffer, for {@link OnnxWire#join}.
   */
  Map<String, ByteBuffer> aside() {
    return aside;
  }

  /** A tensor's raw data (also when left aside), little-endian; null when it has none. */
  private ByteBuffer rawData(Tensor t) {
    ByteBuffer b = null;
    if (t.hasRawData()) {
      b = t.getRawData().asReadOnlyByteBuffer();
    } else if ((initializers.get(t.getName()) == t || addedInitializers.get(t.getName()) == t)
        && aside.containsKey(t.getName())) {
      b = aside.get(t.getName()).asReadOnlyBuffer();
    }
    return b == null ? null : b.order(ByteOrder.LITTLE_ENDIAN);
  }

  List<ValueInfo> inputs() {
    return model.getGraph().getInputList();
  }

  List<ValueInfo> outputs() {
    return model.getGraph().getOutputList();
  }

  /** Names of the model's initializers (weights and constants), as parsed. */
  List<String> initializerNames() {
    return model.getGraph().getInitializerList().stream().map(Tensor::getName).toList();
  }

  List<Node> nodes() {
    return List.copyOf(nodes);
  }

  /** The model's version of the default ONNX operator set. */
  long opset() {
    return model.getOpsetImportList().stream()
        .filter(o -> o.getDomain().isEmpty() || o.getDomain().equals("ai.onnx"))
        .mapToLong(o -> o.getVersion())
        .findFirst()
        .orElse(1);
  }

  boolean isGraphInput(String tensor) {
    return graphInputs.contains(tensor);
  }

  boolean isGraphOutput(String tensor) {
    return graphOutputs.contains(tensor);
  }

  /** The node writing {@code tensor}, or null for graph inputs and initializers. */
  Node producer(String tensor) {
    return producer.get(tensor);
  }

  /** The nodes reading {@code tensor}, in graph order (a node reading it twice appears once). */
  List<Node> consumers(String tensor) {
    List<Node> list = consumers.getOrDefault(tensor, List.of());
    return list.stream().distinct().toList();
  }

  Tensor initializer(String name) {
    Tensor t = initializers.get(name);
    return t != null ? t : addedInitializers.get(name);
  }

  /** Integer values of a constant (Constant node or initializer) of int64 type; null otherwise. */
  long[] constantInts(String tensor) {
    Tensor t = constantTensor(tensor);
    if (t == null || t.getDataType() != INT64) {
      return null;
    }
    ByteBuffer b = rawData(t);
    if (b != null) {
      long[] out = new long[b.remaining() / 8];
      b.asLongBuffer().get(out);
      return out;
    }
    return t.getInt64DataList().stream().mapToLong(Long::longValue).toArray();
  }

  /** A constant's dimensions (empty for a scalar); null when the tensor is not a constant. */
  long[] constantDims(String tensor) {
    Tensor t = constantTensor(tensor);
    return t == null ? null : t.getDimsList().stream().mapToLong(Long::longValue).toArray();
  }

  /** The single integer of a scalar int64 constant, or null. */
  Long scalarInt(String tensor) {
    long[] dims = constantDims(tensor);
    long[] v = constantInts(tensor);
    return dims != null && dims.length == 0 && v != null && v.length == 1 ? v[0] : null;
  }

  /**
   * The single float of a constant (a Constant node's {@code value_float} or {@code value}, or an
   * initializer) holding one float, or null.
   */
  Float scalarFloat(String tensor) {
    Node p = producer.get(tensor);
    if (is(p, "Constant")) {
      Attribute f = attribute(p, "value_float");
      if (f != null) {
        return f.getF();
      }
    }
    float[] v = constantFloats(tensor);
    return v != null && v.length == 1 ? v[0] : null;
  }

  /** Float values of a constant (Constant node or initializer) of float type; null otherwise. */
  float[] constantFloats(String tensor) {
    return floats(constantTensor(tensor));
  }

  private Tensor constantTensor(String tensor) {
    Node p = producer.get(tensor);
    if (p != null) {
      if (!p.getOpType().equals("Constant") || !p.getDomain().isEmpty()) {
        return null;
      }
      for (Attribute a : p.getAttributeList()) {
        if (a.getName().equals("value") && a.hasT()) {
          return a.getT();
        }
      }
      return null;
    }
    return graphInputs.contains(tensor) ? null : initializer(tensor);
  }

  /** Float values of an initializer; null when it is not a float initializer. */
  float[] initializerFloats(String name) {
    return floats(initializer(name));
  }

  private float[] floats(Tensor t) {
    FloatBuffer b = floatView(t);
    if (b == null) {
      return null;
    }
    float[] out = new float[b.remaining()];
    b.get(out);
    return out;
  }

  /**
   * The values of a float initializer as a read-only view (of the source's memory where its data
   * was left aside, so a weight is not copied onto the Java heap); null when it is not one.
   */
  FloatBuffer initializerFloatView(String name) {
    return floatView(initializer(name));
  }

  private FloatBuffer floatView(Tensor t) {
    if (t == null || t.getDataType() != FLOAT || t.getDataLocation() != 0) {
      return null;
    }
    ByteBuffer b = rawData(t);
    if (b != null) {
      return b.asFloatBuffer();
    }
    float[] out = new float[t.getFloatDataCount()];
    for (int i = 0; i < out.length; i++) {
      out[i] = t.getFloatData(i);
    }
    return FloatBuffer.wrap(out).asReadOnlyBuffer();
  }

  static Attribute attribute(Node n, String name) {
    for (Attribute a : n.getAttributeList()) {
      if (a.getName().equals(name)) {
        return a;
      }
    }
    return null;
  }

  static long intAttribute(Node n, String name, long fallback) {
    Attribute a = attribute(n, name);
    return a == null ? fallback : a.getI();
  }

  static long[] intsAttribute(Node n, String name) {
    Attribute a = attribute(n, name);
    return a == null ? null : a.getIntsList().stream().mapToLong(Long::longValue).toArray();
  }

  /** True when {@code node} is a plain ONNX operator of the given type. */
  static boolean is(Node node, String opType) {
    return node != null && node.getOpType().equals(opType) && node.getDomain().isEmpty();
  }

  /** Every node {@code target} depends on, directly or not. */
  Set<Node> ancestors(Node target) {
    Set<Node> seen = new HashSet<>();
    ArrayDeque<Node> todo = new ArrayDeque<>(List.of(target));
    while (!todo.isEmpty()) {
      for (String in : todo.pop().getInputList()) {
        Node p = producer.get(in);
        if (p != null && seen.add(p)) {
          todo.push(p);
        }
      }
    }
    return seen;
  }

  // ------------------------------------------------------------------ editing

  /** A tensor name not used in the graph, made from {@code hint}. */
  String freshName(String hint) {
    String name;
    do {
      name = "pockettts_rw/" + hint + "_" + fresh++;
    } while (producer.containsKey(name)
        || consumers.containsKey(name)
        || initializer(name) != null);
    return name;
  }

  /** Adds a 1-D int64 initializer and returns its name. */
  String int64s(String hint, long... values) {
    return int64Tensor(hint, new long[] {values.length}, values);
  }

  /** Adds a scalar int64 initializer and returns its name. */
  String int64Scalar(String hint, long value) {
    return int64Tensor(hint, new long[0], new long[] {value});
  }

  /** Adds an int64 initializer of shape {@code dims} holding {@code values}; returns its name. */
  String int64Tensor(String hint, long[] dims, long[] values) {
    Added a = addInitializer(hint, INT64, dims, 8L * values.length);
    a.data().asLongBuffer().put(values);
    return a.name();
  }

  /** Adds an int64 initializer of the given shape, every element {@code value}. */
  String int64Filled(String hint, long[] dims, long value) {
    long[] values = new long[Math.toIntExact(elements(dims))];
    java.util.Arrays.fill(values, value);
    return int64Tensor(hint, dims, values);
  }

  /** Adds a float initializer of the given shape and returns its name. */
  String floats(String hint, long[] dims, float[] values) {
    return floats(hint, dims).put(values).name();
  }

  /**
   * Adds a float initializer of the given shape whose values the caller writes into the returned
   * buffer (positioned at the start, in row-major order) before {@link #build}.
   */
  NewFloats floats(String hint, long[] dims) {
    Added a = addInitializer(hint, FLOAT, dims, 4 * elements(dims));
    return new NewFloats(a.name(), a.data().asFloatBuffer());
  }

  private static long elements(long[] dims) {
    long n = 1;
    for (long d : dims) {
      n *= d;
    }
    return n;
  }

  /** A float initializer being added: its name, and the buffer its values go into. */
  record NewFloats(String name, FloatBuffer values) {

    NewFloats put(float[] v) {
      values.put(v);
      return this;
    }
  }

  private record Added(String name, ByteBuffer data) {}

  /**
   * Frees the large data of the added initializers now (not at some later collection); nothing made
   * of this editor, {@link #aside} and {@link OnnxWire#join}'s pieces included, may be used
   * afterwards.
   */
  void free() {
    offHeap.forEach(Tensors::free);
    offHeap.clear();
  }

  /**
   * Adds an initializer of {@code bytes} bytes, its data still to be written into the returned
   * buffer. Large data (a weight) is kept off the Java heap, aside like the source's weights, and
   * joins the model only when it is written ({@link OnnxWire#join}); smaller data is the tensor's
   * raw data.
   */
  private Added addInitializer(String hint, int type, long[] dims, long bytes) {
    String name = freshName(hint);
    Tensor.Builder t = Tensor.newBuilder().setName(name).setDataType(type);
    for (long d : dims) {
      t.addDims(d);
    }
    boolean large = bytes >= OnnxWire.ASIDE_AT;
    ByteBuffer data =
        (large
                ? ByteBuffer.allocateDirect(Math.toIntExact(bytes))
                : ByteBuffer.allocate(Math.toIntExact(bytes)))
            .order(ByteOrder.LITTLE_ENDIAN);
    if (large) {
      aside.put(name, data);
      offHeap.add(data);
    } else {
      // the byte string shares the array, so what the caller writes is in the tensor
      t.setRawData(UnsafeByteOperations.unsafeWrap(data.array()));
    }
    addedInitializers.put(name, t.build());
    return new Added(name, data);
  }

  /** A new node (not yet in the graph). */
  Node.Builder node(String opType, List<String> inputs, List<String> outputs) {
    return Node.newBuilder()
        .setOpType(opType)
        .setName(freshName(opType))
        .addAllInput(inputs)
        .addAllOutput(outputs);
  }

  static Attribute intAttr(String name, long value) {
    return Attribute.newBuilder().setName(name).setType(Attribute.Type.INT).setI(value).build();
  }

  static Attribute intsAttr(String name, long... values) {
    Attribute.Builder a = Attribute.newBuilder().setName(name).setType(Attribute.Type.INTS);
    for (long v : values) {
      a.addInts(v);
    }
    return a.build();
  }

  /** Makes the built model import operator set {@code domain} at {@code version} if it does not. */
  void useDomain(String domain, long version) {
    if (model.getOpsetImportList().stream().noneMatch(o -> o.getDomain().equals(domain))) {
      addedDomains.put(domain, version);
    }
  }

  /** Adds a graph input. */
  void addInput(ValueInfo v) {
    addedInputs.add(v);
    graphInputs.add(v.getName());
  }

  /** Adds a graph output (a tensor some node writes). */
  void addOutput(ValueInfo v) {
    addedOutputs.add(v);
    graphOutputs.add(v.getName());
  }

  /** Removes a graph output (the node writing it goes with {@link #removeUnused}). */
  void removeOutput(String name) {
    removedOutputs.add(name);
    graphOutputs.remove(name);
  }

  /**
   * A float or int64 tensor's type and shape; each dimension a {@code Long} size or a {@code
   * String} symbol. No dimensions at all: the shape is left unknown.
   */
  static ValueInfo tensorInfo(String name, int elemType, Object... dims) {
    ValueInfo.Builder b = ValueInfo.newBuilder().setName(name);
    var type = b.getTypeBuilder().getTensorTypeBuilder().setElemType(elemType);
    if (dims.length > 0) {
      var shape = type.getShapeBuilder();
      for (Object d : dims) {
        if (d instanceof String param) {
          shape.addDimBuilder().setDimParam(param);
        } else {
          shape.addDimBuilder().setDimValue((Long) d);
        }
      }
    }
    return b.build();
  }

  /** Replaces {@code old} by {@code replacements} (in that order, where {@code old} stood). */
  void replace(Node old, List<Node> replacements) {
    int at = indexOf(old);
    nodes.remove(at);
    nodes.addAll(at, replacements);
    index();
  }

  /** Adds {@code n} to the graph (the built model orders the nodes). */
  void append(Node n) {
    nodes.add(n);
    index();
  }

  void remove(Node old) {
    nodes.remove(indexOf(old));
    index();
  }

  /** Removes every node whose outputs nothing reads (and that writes no graph output). */
  void removeUnused() {
    boolean removed;
    do {
      removed =
          nodes.removeIf(
              n ->
                  n.getOutputList().stream()
                      .allMatch(o -> !graphOutputs.contains(o) && consumers(o).isEmpty()));
      index();
    } while (removed);
  }

  /** Makes {@code consumer} read {@code to} wherever it read {@code from}. */
  void rewire(Node consumer, String from, String to) {
    Node.Builder b = consumer.toBuilder();
    for (int i = 0; i < b.getInputCount(); i++) {
      if (b.getInput(i).equals(from)) {
        b.setInput(i, to);
      }
    }
    replace(consumer, List.of(b.build()));
  }

  private int indexOf(Node n) {
    for (int i = 0; i < nodes.size(); i++) {
      if (nodes.get(i) == n) {
        return i;
      }
    }
    throw new IllegalStateException("node " + n.getName() + " is not in the graph");
  }

  /**
   * The edited model: nodes in a topological order (ONNX requires it; replacements may read tensors
   * written later in the original order), the added initializers, and {@code metadata} added to the
   * model's metadata.
   */
  Model build(Map<String, String> metadata) {
    Graph.Builder g = model.getGraph().toBuilder().clearNode().addAllNode(sorted());
    for (int i = g.getOutputCount() - 1; i >= 0; i--) {
      if (removedOutputs.contains(g.getOutput(i).getName())) {
        g.removeOutput(i);
      }
    }
    g.addAllInput(addedInputs).addAllOutput(addedOutputs);
    Set<Long> madeSymbolic = new HashSet<>();
    for (int i = 0; i < g.getInputCount(); i++) {
      g.setInput(i, withSymbolicDims(g.getInput(i), madeSymbolic));
    }
    for (int i = 0; i < g.getOutputCount(); i++) {
      g.setOutput(i, withSymbolicDims(g.getOutput(i), madeSymbolic));
    }
    if (!madeSymbolic.isEmpty()) {
      // shape hints that name a size made symbolic would contradict the graph; the others stay
      // (ONNX Runtime chose other kernels without them, which changed the results' rounding)
      List<ValueInfo> hints = new ArrayList<>(g.getValueInfoList());
      hints.removeIf(
          v ->
              v.getType().getTensorType().getShape().getDimList().stream()
                  .anyMatch(d -> d.hasDimValue() && madeSymbolic.contains(d.getDimValue())));
      g.clearValueInfo().addAllValueInfo(hints);
    }
    g.addAllInitializer(addedInitializers.values());
    // weights and constants no node reads any more (those of replaced nodes): ONNX Runtime drops
    // them too, with a warning for each at every start. A subgraph (If, Loop, Scan) may read outer
    // initializers by name, so a graph with one keeps them all
    if (nodes.stream().noneMatch(n -> SUBGRAPH_OPS.contains(n.getOpType()))) {
      Set<String> read = new HashSet<>(graphOutputs);
      read.addAll(graphInputs);
      nodes.forEach(n -> read.addAll(n.getInputList()));
      List<Tensor> kept = new ArrayList<>(g.getInitializerList());
      kept.removeIf(t -> !read.contains(t.getName()));
      g.clearInitializer().addAllInitializer(kept);
    }
    Model.Builder m = model.toBuilder().setGraph(g);
    addedDomains.forEach(
        (d, v) -> m.addOpsetImport(OperatorSet.newBuilder().setDomain(d).setVersion(v)));
    Map<String, String> meta = new LinkedHashMap<>();
    for (StringEntry e : model.getMetadataPropsList()) {
      meta.put(e.getKey(), e.getValue());
    }
    meta.putAll(metadata);
    m.clearMetadataProps();
    meta.forEach((k, v) -> m.addMetadataProps(StringEntry.newBuilder().setKey(k).setValue(v)));
    return m.build();
  }

  /**
   * Gives axis {@code axis} of the graph input or output {@code name} the symbolic size {@code
   * param} in the built model (shape hints, {@code value_info}, naming the size it had are left
   * out).
   */
  void symbolicDim(String name, int axis, String param) {
    symbolicDims.computeIfAbsent(name, k -> new HashMap<>()).put(axis, param);
  }

  private ValueInfo withSymbolicDims(ValueInfo v, Set<Long> sizes) {
    Map<Integer, String> dims = symbolicDims.get(v.getName());
    if (dims == null) {
      return v;
    }
    ValueInfo.Builder b = v.toBuilder();
    var shape = b.getTypeBuilder().getTensorTypeBuilder().getShapeBuilder();
    dims.forEach(
        (axis, param) -> {
          if (shape.getDimBuilder(axis).hasDimValue()) {
            sizes.add(shape.getDimBuilder(axis).getDimValue());
          }
          shape.getDimBuilder(axis).clearDimValue().setDimParam(param);
        });
    return b.build();
  }

  private List<Node> sorted() {
    Set<String> available = new HashSet<>(graphInputs);
    available.addAll(initializers.keySet());
    available.addAll(addedInitializers.keySet());
    available.add("");
    Map<String, Node> writers = new HashMap<>(producer);
    List<Node> out = new ArrayList<>(nodes.size());
    Set<Node> placed = new HashSet<>();
    ArrayDeque<Node> stack = new ArrayDeque<>();
    for (Node root : nodes) {
      if (placed.contains(root)) {
        continue;
      }
      stack.push(root);
      while (!stack.isEmpty()) {
        Node n = stack.peek();
        boolean ready = true;
        for (String in : n.getInputList()) {
          Node w = available.contains(in) ? null : writers.get(in);
          if (w != null && !placed.contains(w)) {
            // the stack is a chain of nodes each needed by the one below: w on it is a cycle
            if (stack.contains(w)) {
              throw new IllegalStateException("the rewritten graph has a cycle at " + in);
            }
            stack.push(w);
            ready = false;
            break;
          }
        }
        if (ready) {
          stack.pop();
          if (placed.add(n)) {
            out.add(n);
            available.addAll(n.getOutputList());
          }
        }
      }
    }
    return out;
  }
}
