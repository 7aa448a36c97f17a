package dev.pockettts.server.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Resident memory of a process from /proc (Linux), in MB; -1 elsewhere. */
final class NativeMemory {

  private NativeMemory() {}

  static long residentMb() throws IOException {
    return residentMb("self");
  }

  static long peakResidentMb() throws IOException {
    return peakResidentMb("self");
  }

  /** Resident now of the process {@code pid} ("self" for this one). */
  static long residentMb(String pid) throws IOException {
    return field(pid, "VmRSS:");
  }

  /** Peak resident size of the process {@code pid}. */
  static long peakResidentMb(String pid) throws IOException {
    return field(pid, "VmHWM:");
  }

  private static long field(String pid, String name) throws IOException {
    Path status = Path.of("/proc", pid, "status");
    if (!Files.isReadable(status)) {
      return -1;
    }
    for (String line : Files.readAllLines(status)) {
      if (line.startsWith(name)) {
        return Long.parseLong(line.replaceAll("\\D", "")) / 1024;
      }
    }
    return -1;
  }
}
