package dev.pockettts.server.wyoming;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.JsonNodeFactory;
import tools.jackson.databind.node.ObjectNode;

/**
 * One Wyoming protocol event: a line of JSON ({@code type}, optional {@code data}, {@code
 * data_length}, {@code payload_length}), then {@code data_length} bytes of JSON merged into the
 * data, then {@code payload_length} bytes of binary payload.
 */
record WyomingEvent(String type, ObjectNode data, byte[] payload) {

  /** The protocol version this server writes in each event. */
  static final String VERSION = "1.8.0";

  private static final JsonMapper JSON = JsonMapper.builder().build();

  WyomingEvent(String type, ObjectNode data) {
    this(type, data, null);
  }

  static ObjectNode object() {
    return JsonNodeFactory.instance.objectNode();
  }

  /** A text field of the data, or null when absent or not a string. */
  String text(String field) {
    JsonNode v = data.get(field);
    return v != null && v.isString() ? v.asString() : null;
  }

  /** What the stream held that is not an event of the protocol. */
  static final class ProtocolException extends IOException {
    /** True when the connection cannot go on (the stream is no longer at an event's start). */
    final boolean fatal;

    ProtocolException(String message, boolean fatal) {
      super(message);
      this.fatal = fatal;
    }
  }

  /** Bounds on what a client may send in one event. */
  record Limits(int maxHeaderBytes, int maxDataBytes, int maxPayloadBytes) {}

  /**
   * Reads the next event; null at the end of the stream before an event starts.
   *
   * @throws ProtocolException for a line that is not a Wyoming header or lengths over the limits
   */
  static WyomingEvent read(InputStream in, Limits limits) throws IOException {
    byte[] line = readLine(in, limits.maxHeaderBytes());
    if (line == null) {
      return null;
    }
    ObjectNode header = parseObject(line, "header");
    JsonNode type = header.get("type");
    if (type == null || !type.isString() || type.asString().isEmpty()) {
      throw new ProtocolException("the event header has no type", false);
    }
    long dataLength = length(header, "data_length", limits.maxDataBytes());
    long payloadLength = length(header, "payload_length", limits.maxPayloadBytes());
    ObjectNode data = object();
    JsonNode inline = header.get("data");
    if (inline != null && !inline.isNull()) {
      if (!inline.isObject()) {
        throw new ProtocolException("the event's data is not a JSON object", false);
      }
      data.setAll((ObjectNode) inline);
    }
    if (dataLength > 0) {
      data.setAll(parseObject(readExactly(in, (int) dataLength), "data"));
    }
    byte[] payload = payloadLength > 0 ? readExactly(in, (int) payloadLength) : null;
    return new WyomingEvent(type.asString(), data, payload);
  }

  private static long length(ObjectNode header, String field, int max) throws ProtocolException {
    JsonNode v = header.get(field);
    if (v == null || v.isNull()) {
      return 0;
    }
    if (!v.isIntegralNumber() || v.asLong() < 0) {
      throw new ProtocolException(field + " is not a length", true);
    }
    if (v.asLong() > max) {
      throw new ProtocolException(
          field + " " + v.asLong() + " is over this server's limit of " + max + " bytes", true);
    }
    return v.asLong();
  }

  private static ObjectNode parseObject(byte[] json, String what) throws ProtocolException {
    try {
      JsonNode n = JSON.readTree(json);
      if (n == null || !n.isObject()) {
        throw new ProtocolException("the event " + what + " is not a JSON object", false);
      }
      return (ObjectNode) n;
    } catch (JacksonException e) {
      throw new ProtocolException("the event " + what + " is not valid JSON", false);
    }
  }

  /** The bytes up to a newline (without it); null at the end before any byte. */
  private static byte[] readLine(InputStream in, int max) throws IOException {
    ByteArrayOutputStream line = new ByteArrayOutputStream(128);
    while (true) {
      int b = in.read();
      if (b < 0) {
        if (line.size() == 0) {
          return null;
        }
        throw new EOFException("the connection ended inside an event header");
      }
      if (b == '\n') {
        return line.toByteArray();
      }
      if (line.size() >= max) {
        throw new ProtocolException(
            "an event header is longer than this server's limit of " + max + " bytes", true);
      }
      line.write(b);
    }
  }

  private static byte[] readExactly(InputStream in, int n) throws IOException {
    byte[] b = in.readNBytes(n);
    if (b.length < n) {
      throw new EOFException("the connection ended inside an event");
    }
    return b;
  }

  /** Writes the event (header line, data, payload) and flushes. */
  void write(OutputStream out) throws IOException {
    ObjectNode header = object();
    header.put("type", type);
    header.put("version", VERSION);
    byte[] dataBytes = null;
    if (data != null && !data.isEmpty()) {
      dataBytes = JSON.writeValueAsBytes(data);
      header.put("data_length", dataBytes.length);
    }
    if (payload != null && payload.length > 0) {
      header.put("payload_length", payload.length);
    }
    out.write(JSON.writeValueAsBytes(header));
    out.write('\n');
    if (dataBytes != null) {
      out.write(dataBytes);
    }
    if (payload != null && payload.length > 0) {
      out.write(payload);
    }
    out.flush();
  }

  @Override
  public String toString() {
    return type + (data == null ? "" : " " + data) + (payload == null ? "" : " +" + payload.length);
  }
}
