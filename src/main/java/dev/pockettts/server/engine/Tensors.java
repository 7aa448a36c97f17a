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
import org.slf4j.LoggerFactory;

/** Creates ONNX Runtime tensors over direct buffers (no copy) and reads outputs. */
final class Tensors {

  private Tensors() {}

  static ByteBuffer direct(long bytes) {
    return ByteBuffer.allocateDirect(Math.toIntExact(bytes)).order(ByteOrder.nativeOrder());
  }

  /**
   * Frees a direct buffer (or releases a file mapping) now instead of at some later garbage
   * collection, through {@code sun.misc.Unsafe.invokeCleaner}, the supported way on Java 9 and
   * later; nothing may use the buffer afterwards. Where that is not available (or the buffer is a
   * view of another) the collector frees it.
   */
  static void free(ByteBuffer buffer) {
    try {
      Class<?> unsafe = Class.forName("sun.misc.Unsafe");
      java.lang.reflect.Field field = unsafe.getDeclaredField("theUnsafe");
      field.setAccessible(true);
      unsafe.getMethod("invokeCleaner", ByteBuffer.class).invoke(field.get(null), buffer);
    } catch (ReflectiveOperationException | RuntimeException e) {
      LoggerFactory.getLogger(Tensors.class)
          .debug("Cannot free a direct buffer at once: {}", e.toString());
    }
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
    return of(env, direct(spec.bytes()), spec.shape(), spec.dtype().javaType());
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

  static long[] readLongs(OnnxTensor t) {
    java.nio.LongBuffer b = t.getLongBuffer();
    long[] out = new long[b.remaining()];
    b.get(out);
    return out;
  }
}
