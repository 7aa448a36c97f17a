package dev.pockettts.server.engine;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The flow LM's KV-cache state after the voice prompt: immutable, shared by every request that uses
 * the voice. Caches are kept compact (only the {@link #positions()} written positions); each chunk
 * gets its own full-size copy of them through {@link #materialize}.
 */
public final class VoiceState {

  /** One state tensor; for caches the time axis (axis 2) holds only the written positions. */
  record Part(StateDtype dtype, long[] shape, ByteBuffer data, boolean cache) {}

  private final int positions;
  private final Map<String, Part> parts;
  private final long bytes;

  VoiceState(int positions, Map<String, Part> parts) {
    this.positions = positions;
    this.parts = Map.copyOf(parts);
    this.bytes = parts.values().stream().mapToLong(p -> p.data().capacity()).sum();
  }

  /** Cache positions taken by the voice prompt (BOS-before-voice included). */
  public int positions() {
    return positions;
  }

  /** Bytes held, for cache weighing. */
  public long bytes() {
    return bytes;
  }

  /** Compact cache data of one state input, for export; null when absent. */
  Part part(String inputName) {
    return parts.get(inputName);
  }

  /** Tensors holding this state at full size, and the pooled buffers under them. */
  record Materialized(Map<String, OnnxTensor> tensors, List<ByteBuffer> buffers) {

    /** Closes the tensors and gives their buffers back; call once the run that read them ended. */
    void release(BufferPool pool) {
      tensors.values().forEach(OnnxTensor::close);
      buffers.forEach(pool::release);
    }
  }

  /** New tensors, owned by the caller, holding this state at full size for a flow LM run. */
  Materialized materialize(OrtEnvironment env, List<StateSpec> specs, BufferPool pool) {
    Map<String, OnnxTensor> out = new HashMap<>();
    List<ByteBuffer> buffers = new ArrayList<>();
    try {
      for (StateSpec spec : specs) {
        Part part = parts.get(spec.inputName());
        if (part == null) {
          throw new EngineException("voice state has no tensor for " + spec);
        }
        int size = Math.toIntExact(spec.bytes());
        ByteBuffer full;
        if (part.cache()) {
          full = pool.acquire(size);
          buffers.add(full);
          copyPrefix(part, spec, full);
        } else {
          full = Tensors.direct(size);
          full.put(part.data().duplicate().rewind());
          full.rewind();
        }
        out.put(spec.inputName(), Tensors.of(env, full, spec.shape(), spec.dtype().javaType()));
      }
      return new Materialized(out, buffers);
    } catch (RuntimeException e) {
      new Materialized(out, buffers).release(pool);
      throw e;
    }
  }

  /** Copies [outer, T, inner] into [outer, capacity, inner] (time axis 2 of [2,1,C,H,D]). */
  private static void copyPrefix(Part part, StateSpec spec, ByteBuffer full) {
    long[] s = spec.shape();
    int outer = (int) (s[0] * s[1]);
    int capacity = (int) s[2];
    int inner = 1;
    for (int i = 3; i < s.length; i++) {
      inner *= (int) s[i];
    }
    int used = (int) part.shape()[2];
    int bytesPer = spec.dtype().bytes();
    ByteBuffer src = part.data().duplicate();
    for (int o = 0; o < outer; o++) {
      src.limit((o * used + used) * inner * bytesPer).position(o * used * inner * bytesPer);
      full.position(o * capacity * inner * bytesPer);
      full.put(src);
    }
    full.rewind();
  }
}
