package dev.pockettts.server.audio;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * 16-bit PCM WAV, or raw 16-bit samples without a header. Streamed, the header cannot know the
 * length, so it carries the largest sizes (players read to the end of the stream); {@link
 * #header(int, long)} gives the exact header for a file once the length is known.
 */
public final class WavEncoder implements PcmEncoder {

  static final long STREAMING = 0xFFFFFFFFL;
  private final OutputStream out;
  private final int sampleRate;
  private boolean headerWritten;

  public WavEncoder(OutputStream out, int sampleRate) {
    this(out, sampleRate, true);
  }

  /** With {@code header} false, raw samples only (OpenAI's {@code pcm}). */
  public WavEncoder(OutputStream out, int sampleRate, boolean header) {
    this.out = out;
    this.sampleRate = sampleRate;
    this.headerWritten = !header;
  }

  /** A 44-byte header for {@code dataBytes} of 16-bit mono PCM. */
  public static byte[] header(int sampleRate, long dataBytes) {
    long riff = dataBytes >= STREAMING - 36 ? STREAMING : dataBytes + 36;
    ByteBuffer b = ByteBuffer.allocate(44).order(ByteOrder.LITTLE_ENDIAN);
    b.put("RIFF".getBytes(java.nio.charset.StandardCharsets.US_ASCII)).putInt((int) riff);
    b.put("WAVEfmt ".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
    b.putInt(16).putShort((short) 1).putShort((short) 1).putInt(sampleRate).putInt(sampleRate * 2);
    b.putShort((short) 2).putShort((short) 16);
    b.put("data".getBytes(java.nio.charset.StandardCharsets.US_ASCII))
        .putInt((int) Math.min(dataBytes, STREAMING));
    return b.array();
  }

  /** Samples as 16-bit little-endian, clamped to [-1, 1] as the reference writer does. */
  public static byte[] toPcm16(float[] samples) {
    ByteBuffer b = ByteBuffer.allocate(samples.length * 2).order(ByteOrder.LITTLE_ENDIAN);
    for (float s : samples) {
      float c = Float.isNaN(s) ? 0 : Math.max(-1f, Math.min(1f, s));
      b.putShort((short) Math.round(c * 32767f));
    }
    return b.array();
  }

  @Override
  public void write(float[] samples) throws IOException {
    if (!headerWritten) {
      out.write(header(sampleRate, STREAMING));
      headerWritten = true;
    }
    out.write(toPcm16(samples));
    out.flush();
  }

  @Override
  public void finish() throws IOException {
    if (!headerWritten) {
      out.write(header(sampleRate, 0));
      headerWritten = true;
    }
    out.flush();
  }

  @Override
  public void close() {
    // the caller owns the stream
  }

  /** A WAV file written whole gets its exact sizes (the streaming header has placeholders). */
  public static void fixHeader(java.nio.file.Path file, int sampleRate) throws IOException {
    try (java.io.RandomAccessFile raf = new java.io.RandomAccessFile(file.toFile(), "rw")) {
      long data = raf.length() - 44;
      raf.seek(0);
      raf.write(header(sampleRate, Math.max(0, data)));
    }
  }
}
