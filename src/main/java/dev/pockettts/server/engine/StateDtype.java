package dev.pockettts.server.engine;

import ai.onnxruntime.OnnxJavaType;

/** Element types that occur in PocketTTS state tensors. */
public enum StateDtype {
  FLOAT32("float32", OnnxJavaType.FLOAT, 4),
  INT64("int64", OnnxJavaType.INT64, 8),
  BOOL("bool", OnnxJavaType.BOOL, 1);

  private final String label;
  private final OnnxJavaType javaType;
  private final int bytes;

  StateDtype(String label, OnnxJavaType javaType, int bytes) {
    this.label = label;
    this.javaType = javaType;
    this.bytes = bytes;
  }

  public String label() {
    return label;
  }

  public OnnxJavaType javaType() {
    return javaType;
  }

  public int bytes() {
    return bytes;
  }

  /** The dtype for a manifest label ("float32", "int64", "bool"). */
  public static StateDtype fromLabel(String label) {
    for (StateDtype d : values()) {
      if (d.label.equals(label)) {
        return d;
      }
    }
    throw new IncompatibleModelException("unsupported state dtype '" + label + "'");
  }

  /** The dtype for an ONNX Runtime tensor type, or null when it is none of ours. */
  public static StateDtype fromJavaType(OnnxJavaType type) {
    for (StateDtype d : values()) {
      if (d.javaType == type) {
        return d;
      }
    }
    return null;
  }
}
