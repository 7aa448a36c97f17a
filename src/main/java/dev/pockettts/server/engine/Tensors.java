package dev.pockettts.server.engine;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/** Creates ONNX Runtime tensors over direct buffers (no copy) and reads outputs. */
final class Tensors {

  private Tensors() {}

  static ByteBuffer direct(long bytes) {
    return ByteBuffer.allocateDirect(Math.toIntExact(bytes)).order(ByteOrder.nativeOrder());
  }

  static OnnxTensor floats(OrtEnvironment env, float[] data, long... shape) {
    ByteBuffer b = direct(4L * data.length);
    b.asFloatBuffer().put(data);
    return of(env, b, shape, OnnxJavaType.FLOAT);
  }

  static OnnxTensor longs(OrtEnvironment env, long[] data, long... shape) {
    ByteBuffer b = direct(8L * data.length);
    b.asLongBuffer().put(data);
    return of(env, b, shape, OnnxJavaType.INT64);
  }

  /** A zero-filled (false, 0) tensor of a state spec; zero-length shapes give empty tensors. */
  static OnnxTensor zeros(OrtEnvironment env, StateSpec spec) {
    return of(
        env, direct(spec.elements() * spec.dtype().bytes()), spec.shape(), spec.dtype().javaType());
  }

  /** A tensor over {@code buffer} (direct, native order), which ONNX Runtime reads in place. */
  static OnnxTensor of(OrtEnvironment env, ByteBuffer buffer, long[] shape, OnnxJavaType type) {
    try {
      return switch (type) {
        case FLOAT -> OnnxTensor.createTensor(env, buffer.asFloatBuffer(), shape);
        case INT64 -> OnnxTensor.createTensor(env, buffer.asLongBuffer(), shape);
        default -> OnnxTensor.createTensor(env, buffer, shape, type);
      };
    } catch (OrtException e) {
      throw new EngineException(
          "cannot create a " + type + Arrays.toString(shape) + " tensor: " + e.getMessage(), e);
    }
  }

  /** The output tensor called {@code name}; fails naming the graph when it is missing. */
  static OnnxTensor output(OrtSession.Result result, String name, String graph) {
    OnnxValue v = result.get(name).orElse(null);
    if (v instanceof OnnxTensor t) {
      return t;
    }
    throw new EngineException(graph + " returned no tensor called " + name);
  }

  /** The first output tensor (for graphs whose output names are uncertain). */
  static OnnxTensor first(OrtSession.Result result, String graph) {
    if (result.size() > 0 && result.get(0) instanceof OnnxTensor t) {
      return t;
    }
    throw new EngineException(graph + " returned no tensor");
  }

  static float[] readFloats(OnnxTensor t) {
    java.nio.FloatBuffer b = t.getFloatBuffer();
    float[] out = new float[b.remaining()];
    b.get(out);
    return out;
  }
}
