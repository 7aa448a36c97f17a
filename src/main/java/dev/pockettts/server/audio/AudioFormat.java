package dev.pockettts.server.audio;

import java.util.List;
import java.util.Locale;

/**
 * Output formats, with the FFmpeg encoder arguments the server builds for each (never user text).
 */
public enum AudioFormat {
  WAV("wav", "audio/wav", List.of()),
  MP3("mp3", "audio/mpeg", List.of("-c:a", "libmp3lame", "-b:a", "96k", "-f", "mp3")),
  OGG(
      "ogg",
      "audio/ogg",
      List.of("-c:a", "libvorbis", "-q:a", "4", "-page_duration", "100000", "-f", "ogg"));

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
