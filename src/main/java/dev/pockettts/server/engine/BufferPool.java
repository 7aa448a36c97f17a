package dev.pockettts.server.engine;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Reuses the large direct buffers that hold the chunks' caches, so that each chunk does not leave
 * megabytes of direct memory for the garbage collector. Buffers are not cleared: the graphs never
 * read cache positions at or beyond {@code step}, so what an earlier chunk left there is never seen
 * (a run either writes its output caches whole, or, bound in place, the new positions).
 *
 * <p>It keeps what one stream needs ({@code keepBytes}) for the next request. What several streams
 * at once needed beyond that is freed once it has lain unused for {@code idle} (the most recently
 * given back is reused first, so a busy server keeps its buffers and an idle one gives back the
 * memory of its busiest moment).
 */
final class BufferPool {

  private record Idle(ByteBuffer buffer, long since) {}

  private final long keepBytes;
  private final long idleNanos;
  private final Map<Integer, ArrayDeque<Idle>> free = new HashMap<>();
  private long idleBytes;
  private boolean trimScheduled;

  BufferPool(long keepBytes) {
    this(keepBytes, Duration.ofSeconds(10));
  }

  BufferPool(long keepBytes, Duration idle) {
    this.keepBytes = keepBytes;
    this.idleNanos = idle.toNanos();
  }

  synchronized ByteBuffer acquire(int bytes) {
    ArrayDeque<Idle> q = free.get(bytes);
    Idle i = q == null ? null : q.pollLast();
    if (i == null) {
      return Tensors.direct(bytes);
    }
    idleBytes -= bytes;
    return i.buffer().clear();
  }

  /**
   * A tensor of {@code spec}'s shape over a pooled buffer, which is added to {@code taken} so the
   * caller can give it back (after closing the tensor).
   */
  OnnxTensor tensor(OrtEnvironment env, StateSpec spec, List<ByteBuffer> taken) {
    ByteBuffer b = acquire(Math.toIntExact(spec.bytes()));
    taken.add(b);
    return Tensors.of(env, b, spec.shape(), spec.dtype().javaType());
  }

  /** Returns a buffer no tensor refers to any more. */
  synchronized void release(ByteBuffer buffer) {
    free.computeIfAbsent(buffer.capacity(), k -> new ArrayDeque<>())
        .addLast(new Idle(buffer, System.nanoTime()));
    idleBytes += buffer.capacity();
    if (idleBytes > keepBytes) {
      scheduleTrim(idleNanos);
    }
  }

  /** Bytes lying in the pool now. */
  synchronized long idleBytes() {
    return idleBytes;
  }

  private void scheduleTrim(long delayNanos) {
    if (!trimScheduled) {
      trimScheduled = true;
      NativeHeap.LATER.schedule(this::trimIdle, delayNanos, TimeUnit.NANOSECONDS);
    }
  }

  /**
   * Frees what the pool holds beyond what it keeps, at once: before a large allocation of another
   * kind (a voice from 10 s of audio takes about 200 MB for a moment), buffers that only several
   * streams at once needed are not worth keeping.
   */
  synchronized void trimNow() {
    trim(true);
  }

  private void trimIdle() {
    boolean freed;
    synchronized (this) {
      trimScheduled = false;
      freed = trim(false);
    }
    if (freed) {
      // the busy moment is over: what ONNX Runtime malloc'ed for it goes back too
      NativeHeap.trim();
    }
  }

  /**
   * Frees the oldest buffers (those unused for {@code idle}, or all) beyond what it keeps; says
   * whether it freed any.
   */
  private boolean trim(boolean all) {
    long now = System.nanoTime();
    boolean freed = false;
    while (idleBytes > keepBytes) {
      ArrayDeque<Idle> oldest = null;
      for (ArrayDeque<Idle> q : free.values()) {
        if (!q.isEmpty()
            && (oldest == null || q.peekFirst().since() < oldest.peekFirst().since())) {
          oldest = q;
        }
      }
      long waited = now - oldest.peekFirst().since();
      if (!all && waited < idleNanos) {
        scheduleTrim(idleNanos - waited);
        return freed;
      }
      ByteBuffer b = oldest.pollFirst().buffer();
      idleBytes -= b.capacity();
      Tensors.free(b);
      freed = true;
    }
    return freed;
  }
}
