package dev.pockettts.server.engine;

import java.lang.management.ManagementFactory;
import javax.management.JMException;
import javax.management.MBeanServer;
import javax.management.ObjectName;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Gives the C heap's free pages back to the system. ONNX Runtime allocates the graphs' intermediate
 * tensors with malloc; glibc keeps what was freed inside its heaps (only the top of a heap is
 * returned), so after several streams at once the process stayed about 130 MB larger than it needed
 * to be, and a voice encoded then (about 200 MB for a moment) came on top of that. This runs the
 * JVM's own {@code System.trim_native_heap} (glibc's {@code malloc_trim}), through the
 * diagnostic-command bean, which every HotSpot JVM since 17.0.9 has; where it is missing (another
 * JVM, another C library) trimming is off and the log says so once.
 */
final class NativeHeap {

  private static final Logger log = LoggerFactory.getLogger(NativeHeap.class);
  private static final String[] SIGNATURE = {String[].class.getName()};

  /**
   * The engine's memory housekeeping thread: background trims, and the buffer pools' timed frees
   * (which end in a trim).
   */
  static final java.util.concurrent.ScheduledExecutorService LATER =
      java.util.concurrent.Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "native-heap-trim");
            t.setDaemon(true);
            return t;
          });

  private static final java.util.concurrent.atomic.AtomicBoolean PENDING =
      new java.util.concurrent.atomic.AtomicBoolean();

  private static volatile boolean unavailable;

  /**
   * How long the engine must have had nothing to do before its idle trim (a field for the tests).
   */
  static volatile java.time.Duration idleDelay = java.time.Duration.ofSeconds(30);

  private static final Object LOCK = new Object();
  private static int working; // guarded by LOCK
  private static java.util.concurrent.ScheduledFuture<?> idleTrim; // guarded by LOCK
  private static final java.util.concurrent.atomic.AtomicLong IDLE_TRIMS =
      new java.util.concurrent.atomic.AtomicLong();

  private NativeHeap() {}

  /**
   * The engine starts a piece of work (a synthesis, a voice): no idle trim until it has ended and
   * {@link #idleDelay} has passed with no other work.
   */
  static void busy() {
    synchronized (LOCK) {
      working++;
      if (idleTrim != null) {
        idleTrim.cancel(false);
        idleTrim = null;
      }
    }
  }

  /**
   * A piece of work begun with {@link #busy} has ended. When it was the last, the C heap is trimmed
   * once {@link #idleDelay} has passed with nothing new begun: what the graphs' intermediate
   * tensors took (75–95 MB after the start-up warm-ups or a request, on the published graphs) goes
   * back while the server waits, and the next request maps it again (about 18 ms of its first
   * byte).
   */
  static void idle() {
    synchronized (LOCK) {
      if (--working == 0 && !unavailable) {
        idleTrim =
            LATER.schedule(
                NativeHeap::trimIfIdle,
                idleDelay.toNanos(),
                java.util.concurrent.TimeUnit.NANOSECONDS);
      }
    }
  }

  private static void trimIfIdle() {
    synchronized (LOCK) {
      if (working > 0) {
        return;
      }
      idleTrim = null;
    }
    if (trim() != null) {
      IDLE_TRIMS.incrementAndGet();
    }
  }

  /** How many idle trims have run (for the tests). */
  static long idleTrims() {
    return IDLE_TRIMS.get();
  }

  /** Trims on a background thread (once for any number of calls while one is waiting). */
  static void trimLater() {
    if (!unavailable && PENDING.compareAndSet(false, true)) {
      LATER.execute(
          () -> {
            PENDING.set(false);
            trim();
          });
    }
  }

  /**
   * Trims the C heap now; a few milliseconds. Returns the JVM's report (resident size before and
   * after), or null when trimming is unavailable.
   */
  static String trim() {
    if (unavailable) {
      return null;
    }
    try {
      MBeanServer server = ManagementFactory.getPlatformMBeanServer();
      ObjectName commands = new ObjectName("com.sun.management:type=DiagnosticCommand");
      Object report =
          server.invoke(commands, "systemTrimNativeHeap", new Object[] {new String[0]}, SIGNATURE);
      String text = String.valueOf(report).strip();
      if (!text.contains("->")) { // "Not available" on a C library without malloc_trim
        unavailable = true;
        log.info("native heap trimming is unavailable here: {}", text);
        return null;
      }
      log.debug("{}", text);
      return text;
    } catch (JMException | RuntimeException e) {
      unavailable = true;
      log.info(
          "native heap trimming is unavailable on this JVM ({}); memory ONNX Runtime frees stays"
              + " with the process until it is used again",
          e.toString());
      return null;
    }
  }
}
