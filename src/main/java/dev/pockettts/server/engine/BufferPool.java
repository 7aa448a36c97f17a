package dev.pockettts.server.engine;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * Reuses the large direct buffers that hold the chunks' caches, so that each chunk does not leave
 * megabytes of direct memory for the garbage collector. It keeps every buffer given back, so it
 * holds at most what the most chunks running at once needed. Buffers are not cleared: the graphs
 * never read cache positions at or beyond {@code step}, so what an earlier chunk left there is
 * never seen (a run either writes its output caches whole, or, bound in place, the new positions).
 */
final class BufferPool {

  private final Map<Integer, Queue<ByteBuffer>> free = new ConcurrentHashMap<>();

  ByteBuffer acquire(int bytes) {
    Queue<ByteBuffer> q = free.get(bytes);
    ByteBuffer b = q == null ? null : q.poll();
    return b != null ? b.clear() : Tensors.direct(bytes);
  }

  /**
   * A tensor of {@code spec}'s shape over a pooled buffer, which is added to {@code taken} so the
   * caller can give it back (after closing the tensor).
   */
  OnnxTensor tensor(OrtEnvironment env, StateSpec spec, List<ByteBuffer> taken) {
    ByteBuffer b = acquire(Math.toIntExact(spec.elements() * spec.dtype().bytes()));
    taken.add(b);
    return Tensors.of(env, b, spec.shape(), spec.dtype().javaType());
  }

  /** Returns a buffer no tensor refers to any more. */
  void release(ByteBuffer buffer) {
    free.computeIfAbsent(buffer.capacity(), k -> new ConcurrentLinkedQueue<>()).offer(buffer);
  }
}
