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

  private NativeHeap() {}

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
