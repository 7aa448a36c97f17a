package dev.pockettts.server.engine;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads little-endian float32 arrays from NumPy's .npy format (C order), such as
 * bos_before_voice.npy.
 */
public final class Npy {

  private static final Pattern DESCR = Pattern.compile("'descr'\\s*:\\s*'([^']*)'");
  private static final Pattern FORTRAN = Pattern.compile("'fortran_order'\\s*:\\s*(True|False)");
  private static final Pattern SHAPE = Pattern.compile("'shape'\\s*:\\s*\\(([^)]*)\\)");

  /** A float32 array and its shape. */
  public record FloatArray(long[] shape, float[] data) {}

  private Npy() {}

  public static FloatArray readFloats(Path file) throws IOException {
    ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
    if (b.remaining() < 10 || b.get(0) != (byte) 0x93 || b.get(1) != 'N' || b.get(2) != 'U') {
      throw new EngineException(file + " is not a .npy file");
    }
    int major = b.get(6);
    int headerLength;
    int dataStart;
    if (major == 1) {
      headerLength = b.getShort(8) & 0xffff;
      dataStart = 10 + headerLength;
    } else {
      headerLength = b.getInt(8);
      dataStart = 12 + headerLength;
    }
    String header =
        new String(b.array(), dataStart - headerLength, headerLength, StandardCharsets.ISO_8859_1);
    Matcher descr = DESCR.matcher(header);
    Matcher fortran = FORTRAN.matcher(header);
    Matcher shape = SHAPE.matcher(header);
    if (!descr.find() || !fortran.find() || !shape.find()) {
      throw new EngineException(file + ": unreadable .npy header");
    }
    if (!descr.group(1).equals("<f4") || fortran.group(1).equals("True")) {
      throw new EngineException(
          file + ": expected little-endian float32 in C order, found " + descr.group(1));
    }
    String[] parts = shape.group(1).split(",");
    long[] dims =
        java.util.Arrays.stream(parts)
            .map(String::trim)
            .filter(s -> !s.isEmpty())
            .mapToLong(Long::parseLong)
            .toArray();
    long n = 1;
    for (long d : dims) {
      n *= d;
    }
    if (dataStart + n * 4 > b.capacity()) {
      throw new EngineException(file + ": .npy data is shorter than its shape");
    }
    float[] data = new float[(int) n];
    b.position(dataStart);
    b.asFloatBuffer().get(data);
    return new FloatArray(dims, data);
  }
}
