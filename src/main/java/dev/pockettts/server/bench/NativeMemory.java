package dev.pockettts.server.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Resident memory of this process from /proc (Linux), in MB; -1 elsewhere. */
final class NativeMemory {

  private NativeMemory() {}

  static long residentMb() throws IOException {
    return field("VmRSS:");
  }

  static long peakResidentMb() throws IOException {
    return field("VmHWM:");
  }

  private static long field(String name) throws IOException {
    Path status = Path.of("/proc/self/status");
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
