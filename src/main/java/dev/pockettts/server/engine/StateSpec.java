package dev.pockettts.server.engine;

import java.util.Arrays;

/**
 * One streaming-state tensor of a stateful graph: fed as {@code inputName}, returned as {@code
 * outputName}. {@code module} and {@code key} name it as upstream's state dictionary does.
 */
public record StateSpec(
    int index,
    String module,
    String key,
    StateDtype dtype,
    long[] shape,
    String inputName,
    String outputName) {

  /** The same state with another shape (a cache of another length). */
  public StateSpec withShape(long[] other) {
    return new StateSpec(index, module, key, dtype, other, inputName, outputName);
  }

  /** Number of elements of a tensor of this spec's shape. */
  public long elements() {
    long n = 1;
    for (long d : shape) {
      n *= d;
    }
    return n;
  }

  /** Bytes of a tensor of this spec. */
  public long bytes() {
    return elements() * dtype.bytes();
  }

  @Override
  public String toString() {
    return inputName
        + " ("
        + module
        + "/"
        + key
        + ", "
        + dtype.label()
        + Arrays.toString(shape)
        + ")";
  }
}
