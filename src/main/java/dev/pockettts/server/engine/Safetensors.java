package dev.pockettts.server.engine;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.LinkedHashMap;
import java.util.Map;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/** Reads and writes the safetensors format (little-endian header length, JSON header, data). */
public final class Safetensors {

  private static final JsonMapper JSON = JsonMapper.builder().build();
  private static final long MAX_HEADER = 100L * 1024 * 1024;

  /** One tensor: its dtype code ("F32", "BF16", "I64", ...), shape and raw little-endian bytes. */
  public record Tensor(String dtype, long[] shape, ByteBuffer data) {

    public long elements() {
      long n = 1;
      for (long d : shape) {
        n *= d;
      }
      return n;
    }

    /** The values as float32, converting F16, BF16 and F64. */
    public float[] toFloats() {
      int n = Math.toIntExact(elements());
      float[] out = new float[n];
      ByteBuffer b = data.duplicate().order(ByteOrder.LITTLE_ENDIAN);
      switch (dtype) {
        case "F32" -> b.asFloatBuffer().get(out);
        case "F64" -> {
          for (int i = 0; i < n; i++) {
            out[i] = (float) b.getDouble(i * 8);
          }
        }
        case "BF16" -> {
          for (int i = 0; i < n; i++) {
            out[i] = Float.intBitsToFloat((b.getShort(i * 2) & 0xffff) << 16);
          }
        }
        case "F16" -> {
          for (int i = 0; i < n; i++) {
            out[i] = halfToFloat(b.getShort(i * 2));
          }
        }
        default -> throw new EngineException("tensor of dtype " + dtype + " is not a float tensor");
      }
      return out;
    }

    /** The values as int64, converting I32. */
    public long[] toLongs() {
      int n = Math.toIntExact(elements());
      long[] out = new long[n];
      ByteBuffer b = data.duplicate().order(ByteOrder.LITTLE_ENDIAN);
      switch (dtype) {
        case "I64" -> b.asLongBuffer().get(out);
        case "I32" -> {
          for (int i = 0; i < n; i++) {
            out[i] = b.getInt(i * 4);
          }
        }
        default ->
            throw new EngineException("tensor of dtype " + dtype + " is not an integer tensor");
      }
      return out;
    }
  }

  private Safetensors() {}

  /** Parses safetensors bytes; {@code what} names the source in error messages. */
  public static Map<String, Tensor> parse(ByteBuffer bytes, String what) {
    ByteBuffer buf = bytes.duplicate().order(ByteOrder.LITTLE_ENDIAN);
    if (buf.remaining() < 8) {
      throw new EngineException(what + " is not a safetensors file (too short)");
    }
    long headerLength = buf.getLong(0);
    if (headerLength <= 0 || headerLength > MAX_HEADER || 8 + headerLength > buf.remaining()) {
      throw new EngineException(what + " is not a safetensors file (bad header length)");
    }
    byte[] header = new byte[(int) headerLength];
    buf.get(8, header);
    JsonNode root;
    try {
      root = JSON.readTree(header);
    } catch (RuntimeException e) {
      throw new EngineException(what + " is not a safetensors file (header is not JSON)", e);
    }
    int dataStart = 8 + (int) headerLength;
    int dataLength = buf.remaining() - dataStart;
    Map<String, Tensor> out = new LinkedHashMap<>();
    for (Map.Entry<String, JsonNode> field : root.properties()) {
      if (field.getKey().equals("__metadata__")) {
        continue;
      }
      JsonNode t = field.getValue();
      String dtype = t.path("dtype").asString("");
      JsonNode shapeNode = t.path("shape");
      if (!shapeNode.isArray() || shapeNode.size() > 8) {
        throw new EngineException(what + ": tensor " + field.getKey() + " has no shape list");
      }
      long[] shape = new long[shapeNode.size()];
      long elements = 1;
      for (int i = 0; i < shape.length; i++) {
        JsonNode d = shapeNode.get(i);
        if (!d.isIntegralNumber() || !d.canConvertToLong() || d.asLong() < 0) {
          throw new EngineException(
              what + ": tensor " + field.getKey() + " has a shape that is not whole numbers >= 0");
        }
        shape[i] = d.asLong();
        try {
          elements = Math.multiplyExact(elements, shape[i]);
        } catch (ArithmeticException e) {
          throw new EngineException(what + ": tensor " + field.getKey() + " has a shape too large");
        }
      }
      if (elements > Integer.MAX_VALUE) {
        throw new EngineException(what + ": tensor " + field.getKey() + " has a shape too large");
      }
      long begin = t.path("data_offsets").path(0).asLong(-1);
      long end = t.path("data_offsets").path(1).asLong(-1);
      if (begin < 0 || end < begin || end > dataLength) {
        throw new EngineException(what + ": tensor " + field.getKey() + " has bad data offsets");
      }
      ByteBuffer slice =
          buf.slice(dataStart + (int) begin, (int) (end - begin)).order(ByteOrder.LITTLE_ENDIAN);
      Tensor tensor = new Tensor(dtype, shape, slice);
      long expected = elements * elementSize(dtype);
      if (expected != end - begin) {
        throw new EngineException(
            what
                + ": tensor "
                + field.getKey()
                + " holds "
                + (end - begin)
                + " bytes, expected "
                + expected);
      }
      out.put(field.getKey(), tensor);
    }
    return out;
  }

  /** Writes tensors to a safetensors byte array (F32 and I64 as given by their dtype). */
  public static byte[] write(Map<String, Tensor> tensors) {
    StringBuilder header = new StringBuilder("{");
    long offset = 0;
    boolean first = true;
    for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
      Tensor t = e.getValue();
      long size = t.data().remaining();
      if (!first) {
        header.append(',');
      }
      first = false;
      header.append(JSON.writeValueAsString(e.getKey())).append(":{\"dtype\":\"").append(t.dtype());
      header.append("\",\"shape\":[");
      for (int i = 0; i < t.shape().length; i++) {
        header.append(i == 0 ? "" : ",").append(t.shape()[i]);
      }
      header
          .append("],\"data_offsets\":[")
          .append(offset)
          .append(',')
          .append(offset + size)
          .append("]}");
      offset += size;
    }
    header.append('}');
    while ((header.length() + 8) % 8 != 0) {
      header.append(' ');
    }
    byte[] h = header.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8);
    ByteBuffer out =
        ByteBuffer.allocate(Math.toIntExact(8 + h.length + offset)).order(ByteOrder.LITTLE_ENDIAN);
    out.putLong(h.length).put(h);
    for (Tensor t : tensors.values()) {
      out.put(t.data().duplicate());
    }
    return out.array();
  }

  static int elementSize(String dtype) {
    return switch (dtype) {
      case "F64", "I64", "U64" -> 8;
      case "F32", "I32", "U32" -> 4;
      case "F16", "BF16", "I16", "U16" -> 2;
      case "I8", "U8", "BOOL", "F8_E4M3", "F8_E5M2" -> 1;
      default -> throw new EngineException("unknown safetensors dtype " + dtype);
    };
  }

  static float halfToFloat(short h) {
    int bits = h & 0xffff;
    int sign = (bits & 0x8000) << 16;
    int exp = (bits >>> 10) & 0x1f;
    int mant = bits & 0x3ff;
    if (exp == 0) {
      float v = mant * 0x1p-24f;
      return sign == 0 ? v : -v;
    }
    if (exp == 31) {
      return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13));
    }
    return Float.intBitsToFloat(sign | ((exp - 15 + 127) << 23) | (mant << 13));
  }
}
