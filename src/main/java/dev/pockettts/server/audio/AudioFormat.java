package dev.pockettts.server.audio;

import java.util.List;
import java.util.Locale;

/**
 * Output formats, with the FFmpeg encoder arguments the server builds for each (never user text).
 */
public enum AudioFormat {
  // WAV and PCM are written by the server; FFmpeg makes them only when the speed changes (raw
  // 16-bit samples, the WAV header written by the server)
  WAV("wav", "audio/wav", List.of("-c:a", "pcm_s16le", "-f", "s16le")),
  MP3("mp3", "audio/mpeg", List.of("-c:a", "libmp3lame", "-b:a", "96k", "-f", "mp3")),
  OGG(
      "ogg",
      "audio/ogg",
      List.of("-c:a", "libvorbis", "-q:a", "4", "-page_duration", "100000", "-f", "ogg")),
  OPUS(
      "opus",
      "audio/ogg; codecs=opus",
      List.of("-c:a", "libopus", "-b:a", "32k", "-page_duration", "100000", "-f", "ogg")),
  AAC("aac", "audio/aac", List.of("-c:a", "aac", "-b:a", "96k", "-f", "adts")),
  FLAC("flac", "audio/flac", List.of("-c:a", "flac", "-f", "flac")),
  /** Raw 16-bit little-endian mono samples at the model's rate (24 kHz), as OpenAI's pcm. */
  PCM("pcm", "audio/pcm", List.of("-c:a", "pcm_s16le", "-f", "s16le"));

  private final String extension;
  private final String contentType;
  private final List<String> ffmpegArgs;

  AudioFormat(String extension, String contentType, List<String> ffmpegArgs) {
    this.extension = extension;
    this.contentType = contentType;
    this.ffmpegArgs = ffmpegArgs;
  }

  public String extension() {
    return extension;
  }

  public String contentType() {
    return contentType;
  }

  List<String> ffmpegArgs() {
    return ffmpegArgs;
  }

  /** Whether the server writes this format itself (no FFmpeg) at normal speed. */
  public boolean native16Bit() {
    return this == WAV || this == PCM;
  }

  /** Every format name, for messages: "wav, mp3, ...". */
  public static String names() {
    return String.join(
        ", ", java.util.Arrays.stream(values()).map(AudioFormat::extension).toList());
  }

  /** The format called {@code name} (any case), or null. */
  public static AudioFormat fromName(String name) {
    if (name == null) {
      return null;
    }
    for (AudioFormat f : values()) {
      if (f.extension.equals(name.strip().toLowerCase(Locale.ROOT))) {
        return f;
      }
    }
    return null;
  }
}
