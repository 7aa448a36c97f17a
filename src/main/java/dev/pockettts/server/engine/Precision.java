package dev.pockettts.server.engine;

/** Which weights of the flow LM, flow head and decoder to run. */
public enum Precision {
  /** Dynamic int8 (MatMulInteger) graphs: the default, about 4x smaller and faster on CPU. */
  INT8,
  /** Full-precision graphs. */
  FP32
}
