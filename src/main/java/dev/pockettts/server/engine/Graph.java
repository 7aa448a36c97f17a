package dev.pockettts.server.engine;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;

/** One ONNX graph in an ONNX Runtime session; errors name the graph. Thread-safe. */
final class Graph implements AutoCloseable {

  private final String name;
  private final Path file;
  private final OrtSession session;
  private final AtomicBoolean closed = new AtomicBoolean();

  private Graph(String name, Path file, OrtSession session) {
    this.name = name;
    this.file = file;
    this.session = session;
  }

  static Graph open(OrtEnvironment env, String name, Path file, OrtSession.SessionOptions options) {
    try {
      return new Graph(name, file, env.createSession(file.toString(), options));
    } catch (OrtException e) {
      throw new EngineException("cannot load " + name + " from " + file + ": " + e.getMessage(), e);
    }
  }

  /**
   * Opens a model held in memory (a direct buffer, which ONNX Runtime no longer needs once this
   * returns); {@code file} names its source in messages.
   */
  static Graph open(
      OrtEnvironment env,
      String name,
      Path file,
      java.nio.ByteBuffer model,
      OrtSession.SessionOptions options) {
    try {
      return new Graph(name, file, env.createSession(model, options));
    } catch (OrtException e) {
      throw new EngineException("cannot load " + name + " from " + file + ": " + e.getMessage(), e);
    }
  }

  /**
   * A metadata value that lists names separated by commas (as the rewrites write them), as a set;
   * empty when the key is absent or blank.
   */
  java.util.Set<String> metadataSet(String key) {
    String v = metadata(key);
    return v == null || v.isBlank() ? java.util.Set.of() : java.util.Set.of(v.split(","));
  }

  /** A value of the model's metadata, or null. */
  String metadata(String key) {
    try {
      return session.getMetadata().getCustomMetadataValue(key).orElse(null);
    } catch (OrtException e) {
      throw new EngineException("cannot read the metadata of " + name + ": " + e.getMessage(), e);
    }
  }

  String name() {
    return name;
  }

  Path file() {
    return file;
  }

  /** Runs the graph; the caller closes the result. */
  OrtSession.Result run(Map<String, ? extends OnnxTensor> inputs) {
    try {
      return session.run(inputs);
    } catch (OrtException e) {
      throw new EngineException(name + " failed: " + e.getMessage(), e);
    }
  }

  /** Runs the graph with run options; the caller closes the result. */
  OrtSession.Result run(Map<String, ? extends OnnxTensor> inputs, OrtSession.RunOptions options) {
    try {
      return session.run(inputs, options);
    } catch (OrtException e) {
      throw new EngineException(name + " failed: " + e.getMessage(), e);
    }
  }

  /**
   * Runs the graph writing the outputs named in {@code pinned} into those caller-owned tensors
   * (ONNX Runtime allocates nothing for them); the result holds the {@code requested} outputs.
   */
  OrtSession.Result run(
      Map<String, ? extends OnnxTensor> inputs,
      java.util.Set<String> requested,
      Map<String, ? extends OnnxTensor> pinned) {
    try {
      return session.run(inputs, requested, pinned);
    } catch (OrtException e) {
      throw new EngineException(name + " failed: " + e.getMessage(), e);
    }
  }

  Map<String, NodeInfo> inputs() {
    try {
      return session.getInputInfo();
    } catch (OrtException e) {
      throw new EngineException("cannot read the inputs of " + name + ": " + e.getMessage(), e);
    }
  }

  Map<String, NodeInfo> outputs() {
    try {
      return session.getOutputInfo();
    } catch (OrtException e) {
      throw new EngineException("cannot read the outputs of " + name + ": " + e.getMessage(), e);
    }
  }

  /** Tensor info of an input, or null when the graph has no such tensor input. */
  TensorInfo input(String inputName) {
    NodeInfo info = inputs().get(inputName);
    return info != null && info.getInfo() instanceof TensorInfo t ? t : null;
  }

  @Override
  public void close() {
    if (closed.compareAndSet(false, true)) {
      try {
        session.close();
      } catch (OrtException e) {
        throw new EngineException("cannot close " + name + ": " + e.getMessage(), e);
      }
    }
  }
}
