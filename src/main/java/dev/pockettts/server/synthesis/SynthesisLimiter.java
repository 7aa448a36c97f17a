package dev.pockettts.server.synthesis;

import dev.pockettts.server.config.ServerSettings;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.springframework.stereotype.Component;

/**
 * Bounds concurrent syntheses: a fixed number run at once, a bounded number wait (up to a time
 * limit) and the rest are told to come back later (503 with Retry-After), so the CPU is never
 * oversubscribed and no request waits forever.
 */
@Component
public class SynthesisLimiter {

  private final Semaphore workers;
  private final int capacity;
  private final int queueSize;
  private final long queueTimeoutMillis;
  private final long requestTimeoutNanos;
  private final AtomicInteger waiting = new AtomicInteger();

  public SynthesisLimiter(ServerSettings settings) {
    this.capacity = settings.synthesisWorkers();
    this.queueSize = settings.queueSize();
    this.queueTimeoutMillis = settings.queueTimeout().toMillis();
    this.requestTimeoutNanos = settings.requestTimeout().toNanos();
    this.workers = new Semaphore(capacity, true);
  }

  /**
   * A slot held while one synthesis runs; release it exactly once. Its work (decoding an upload,
   * synthesis, encoding) must end by its deadline, {@code REQUEST_TIMEOUT} after it was taken.
   */
  public final class Slot implements AutoCloseable {
    private boolean released;
    final long waitedNanos;
    private final long deadlineNanos;

    private Slot(long waitedNanos) {
      this.waitedNanos = waitedNanos;
      this.deadlineNanos = System.nanoTime() + requestTimeoutNanos;
    }

    public long waitedNanos() {
      return waitedNanos;
    }

    /** Milliseconds left until the deadline (at least 1). */
    public long remainingMillis() {
      return Math.max(1, (deadlineNanos - System.nanoTime()) / 1_000_000);
    }

    @Override
    public synchronized void close() {
      if (!released) {
        released = true;
        workers.release();
      }
    }
  }

  /**
   * Takes a slot, waiting in the queue if needed; 503 when the queue is full or the wait too long.
   */
  public Slot acquire() {
    long start = System.nanoTime();
    if (workers.tryAcquire()) {
      return new Slot(0);
    }
    if (waiting.incrementAndGet() > queueSize) {
      waiting.decrementAndGet();
      throw busy(
          "all "
              + capacity
              + " synthesis workers are busy and "
              + queueSize
              + " requests are waiting");
    }
    try {
      if (!workers.tryAcquire(queueTimeoutMillis, TimeUnit.MILLISECONDS)) {
        throw busy("no synthesis worker became free within " + queueTimeoutMillis / 1000 + " s");
      }
      return new Slot(System.nanoTime() - start);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw busy("interrupted while waiting for a synthesis worker");
    } finally {
      waiting.decrementAndGet();
    }
  }

  private static SynthesisException busy(String detail) {
    return new SynthesisException.Busy(detail, 5);
  }

  public int active() {
    return capacity - workers.availablePermits();
  }

  public int waiting() {
    return Math.max(0, waiting.get());
  }

  public int capacity() {
    return capacity;
  }
}
