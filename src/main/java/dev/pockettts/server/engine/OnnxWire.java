package dev.pockettts.server.engine;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The protobuf wire format of an ONNX model, walked by hand for one purpose: a rewrite that never
 * holds the weights on the Java heap. protobuf-java (4.36) copies a direct buffer into a heap array
 * before decoding it, and a byte string made of one is a copy too, so a mapped 76 MB graph would
 * cost 76 MB of heap, which the heap keeps after the rewrite. {@link #split} copies the model
 * without the large {@code raw_data} of the main graph's initializers (the weights: {@code
 * Model.graph = 7}, {@code Graph.initializer = 5}, {@code Tensor.raw_data = 9}) and returns views
 * of them by name; {@link #join} puts them back into the serialized rewritten model, as pieces to
 * write one after another.
 */
final class OnnxWire {

  /** Raw data of at least this many bytes is left aside (the weights; constants stay in). */
  static final int ASIDE_AT = 64 * 1024;

  private static final int MODEL_GRAPH = 7;
  private static final int GRAPH_INITIALIZER = 5;
  private static final int TENSOR_NAME = 8;
  private static final int TENSOR_RAW_DATA = 9;
  private static final int LENGTH_DELIMITED = 2;

  /** The model without the raw data left aside, and views of that raw data by tensor name. */
  record Split(byte[] rest, Map<String, ByteBuffer> aside) {}

  private final ByteBuffer src;
  private final int asideAt;
  private final boolean joining;
  private final Map<String, ByteBuffer> aside;

  private OnnxWire(ByteBuffer src, int asideAt, boolean joining, Map<String, ByteBuffer> aside) {
    this.src = src;
    this.asideAt = asideAt;
    this.joining = joining;
    this.aside = aside;
  }

  /**
   * Splits the model in {@code src} (from its position to its limit, which are not changed),
   * leaving aside raw data of at least {@code asideAt} bytes; the views share {@code src}'s memory.
   *
   * @throws GraphRewrite.NotRecognized when the bytes are not a well-formed protobuf message, or
   *     two initializers with raw data left aside have one name
   */
  static Split split(ByteBuffer src, int asideAt) {
    OnnxWire w = new OnnxWire(src.duplicate(), asideAt, false, new LinkedHashMap<>());
    Pieces out = new Pieces();
    w.walk(src.position(), src.limit(), Level.MODEL, out);
    return new Split(out.toByteArray(), w.aside);
  }

  /**
   * The serialized {@code model} with the raw data of {@code aside} given back to the main graph's
   * initializers of those names that have none, as pieces to write in order (the views of {@code
   * aside} among them).
   */
  static List<ByteBuffer> join(byte[] model, Map<String, ByteBuffer> aside) {
    OnnxWire w = new OnnxWire(ByteBuffer.wrap(model), Integer.MAX_VALUE, true, aside);
    Pieces out = new Pieces();
    w.walk(0, model.length, Level.MODEL, out);
    return out.finish();
  }

  /**
   * The pieces as one direct buffer, off the Java heap (for a model kept in memory: free it with
   * {@link Tensors#free} once its session is made).
   */
  static ByteBuffer concat(List<ByteBuffer> pieces) {
    long size = size(pieces);
    if (size > Integer.MAX_VALUE - 8) {
      throw new GraphRewrite.NotRecognized("a model of " + size + " bytes is too large");
    }
    ByteBuffer all = ByteBuffer.allocateDirect((int) size);
    putAll(pieces, all);
    return all.flip();
  }

  /** How many bytes the pieces hold together. */
  static long size(List<ByteBuffer> pieces) {
    return pieces.stream().mapToLong(ByteBuffer::remaining).sum();
  }

  /** Writes the pieces one after another into {@code target} (the pieces are left as they are). */
  static void putAll(List<ByteBuffer> pieces, ByteBuffer target) {
    pieces.forEach(p -> target.put(p.duplicate()));
  }

  private enum Level {
    MODEL,
    GRAPH,
    TENSOR
  }

  /**
   * Copies the message in [from, to) at {@code level} into {@code out}, splitting or joining the
   * main graph's initializers on the way.
   */
  private void walk(int from, int to, Level level, Pieces out) {
    String name = null;
    boolean hasRaw = false;
    int rawStart = -1; // splitting: the tensor's raw data field (the last, which is what counts)
    int rawContent = -1;
    int rawEnd = -1;
    int at = from;
    while (at < to) {
      int start = at;
      long tag = varint(at, to);
      at += varintSize(tag);
      int end = skip(tag, at, to);
      boolean delimited = wireType(tag) == LENGTH_DELIMITED;
      int content = delimited ? at + varintSize(varint(at, to)) : at;
      Level inner =
          !delimited
              ? null
              : level == Level.MODEL && field(tag) == MODEL_GRAPH
                  ? Level.GRAPH
                  : level == Level.GRAPH && field(tag) == GRAPH_INITIALIZER ? Level.TENSOR : null;
      if (inner != null) {
        Pieces message = new Pieces();
        walk(content, end, inner, message);
        out.write(tag);
        out.write(message.length());
        out.addAll(message);
      } else if (level == Level.TENSOR && delimited && field(tag) == TENSOR_NAME) {
        byte[] bytes = new byte[end - content];
        src.get(content, bytes);
        name = new String(bytes, StandardCharsets.UTF_8);
        out.copy(src, start, end);
      } else if (level == Level.TENSOR && delimited && field(tag) == TENSOR_RAW_DATA) {
        hasRaw = true;
        if (joining) {
          out.copy(src, start, end);
        } else { // decided after the other fields, once the name is known
          rawStart = start;
          rawContent = content;
          rawEnd = end;
        }
      } else {
        out.copy(src, start, end);
      }
      at = end;
    }
    if (rawStart >= 0) {
      if (name != null && rawEnd - rawContent >= asideAt) {
        if (aside.put(name, src.slice(rawContent, rawEnd - rawContent)) != null) {
          throw new GraphRewrite.NotRecognized("two initializers are named " + name);
        }
      } else {
        out.copy(src, rawStart, rawEnd);
      }
    } else if (joining && !hasRaw && name != null && aside.containsKey(name)) {
      appendRaw(aside.get(name), out); // the raw data left aside goes back at the tensor's end
    }
  }

  private static void appendRaw(ByteBuffer raw, Pieces out) {
    out.write((long) TENSOR_RAW_DATA << 3 | LENGTH_DELIMITED);
    out.write(raw.remaining());
    out.add(raw.duplicate());
  }

  /** Where the field whose tag was read before {@code at} ends. */
  private int skip(long tag, int at, int to) {
    switch (wireType(tag)) {
      case 0:
        return at + varintSize(varint(at, to));
      case 1:
        return end(at, 8, to);
      case LENGTH_DELIMITED:
        long length = varint(at, to);
        return end(at + varintSize(length), length, to);
      case 5:
        return end(at, 4, to);
      default: // groups (3, 4) are not used by ONNX; 6 and 7 do not exist
        throw malformed("wire type " + wireType(tag) + " at byte " + at);
    }
  }

  private long varint(int at, int to) {
    long value = 0;
    for (int shift = 0, i = at; shift < 64; shift += 7, i++) {
      if (i >= to) {
        throw malformed("a truncated varint at byte " + at);
      }
      byte b = src.get(i);
      value |= (long) (b & 0x7f) << shift;
      if (b >= 0) {
        return value;
      }
    }
    throw malformed("a varint longer than 10 bytes at byte " + at);
  }

  private static int varintSize(long value) {
    int size = 1;
    while ((value & ~0x7fL) != 0) {
      value >>>= 7;
      size++;
    }
    return size;
  }

  private static int end(int at, long length, int to) {
    if (length < 0 || length > to - at) {
      throw malformed("a field of " + length + " bytes at byte " + at + " runs past its message");
    }
    return (int) (at + length);
  }

  private static int field(long tag) {
    return (int) (tag >>> 3);
  }

  private static int wireType(long tag) {
    return (int) (tag & 7);
  }

  private static GraphRewrite.NotRecognized malformed(String what) {
    return new GraphRewrite.NotRecognized("not a readable ONNX model: " + what);
  }

  /** Bytes in order: runs of small copied bytes, and views of large ones. */
  private static final class Pieces {
    private final List<ByteBuffer> done = new ArrayList<>();
    private ByteArrayOutputStream run = new ByteArrayOutputStream();
    private long length;

    void write(long varint) {
      while ((varint & ~0x7fL) != 0) {
        run.write((int) ((varint & 0x7f) | 0x80));
        varint >>>= 7;
        length++;
      }
      run.write((int) varint);
      length++;
    }

    void copy(ByteBuffer from, int start, int end) {
      byte[] bytes = new byte[end - start];
      from.get(start, bytes);
      run.writeBytes(bytes);
      length += bytes.length;
    }

    void add(ByteBuffer view) {
      flush();
      length += view.remaining();
      done.add(view);
    }

    void addAll(Pieces other) {
      for (ByteBuffer b : other.finish()) {
        add(b);
      }
    }

    long length() {
      return length;
    }

    List<ByteBuffer> finish() {
      flush();
      return done;
    }

    byte[] toByteArray() {
      if (length > Integer.MAX_VALUE - 8) {
        throw new GraphRewrite.NotRecognized("a model of " + length + " bytes is too large");
      }
      byte[] all = new byte[(int) length];
      int at = 0;
      for (ByteBuffer b : finish()) {
        int n = b.remaining();
        b.duplicate().get(all, at, n);
        at += n;
      }
      return all;
    }

    private void flush() {
      if (run.size() > 0) {
        done.add(ByteBuffer.wrap(run.toByteArray()));
        run = new ByteArrayOutputStream();
      }
    }
  }
}
