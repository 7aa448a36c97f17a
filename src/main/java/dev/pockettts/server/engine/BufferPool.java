package dev.pockettts.server.engine;

import java.nio.ByteBuffer;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Reuses the large direct buffers that hold a chunk's starting caches, so that each chunk does not
 * leave megabytes of direct memory for the garbage collector. Buffers are not cleared: the graphs
 * never read cache positions at or beyond {@code step}.
 */
final class BufferPool {

  private final int perSize;
  private final Map<Integer, ArrayBlockingQueue<ByteBuffer>> free = new ConcurrentHashMap<>();

  BufferPool(int perSize) {
    this.perSize = perSize;
  }

  ByteBuffer acquire(int bytes) {
    ArrayBlockingQueue<ByteBuffer> q = free.get(bytes);
    ByteBuffer b = q == null ? null : q.poll();
    return b != null ? b.clear() : Tensors.direct(bytes);
  }

  /** Returns a buffer no tensor refers to any more. */
  void release(ByteBuffer buffer) {
    free.computeIfAbsent(buffer.capacity(), k -> new ArrayBlockingQueue<>(perSize)).offer(buffer);
  }
}
