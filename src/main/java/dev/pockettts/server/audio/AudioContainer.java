package dev.pockettts.server.audio;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * The audio containers an uploaded reference recording may come in, told apart by their first bytes
 * before FFmpeg sees the file, each with the one FFmpeg demuxer that reads it. FFmpeg is then held
 * to that demuxer and to the upload's own file: playlists (HLS, DASH), concat lists, image
 * sequences and every other format that names another file or URL are never opened, whatever
 * FFmpeg's own probing would have made of the bytes.
 */
public enum AudioContainer {
  WAV("wav", "WAV"),
  AIFF("aiff", "AIFF"),
  FLAC("flac", "FLAC"),
  OGG("ogg", "Ogg (Vorbis, Opus, FLAC)"),
  MP3("mp3", "MP3"),
  AAC("aac", "AAC (ADTS)"),
  MP4("mov", "MP4/M4A"),
  MATROSKA("matroska", "WebM/Matroska"),
  CAF("caf", "CAF"),
  AMR("amr", "AMR");

  /** Bytes to read from the start of a file to tell its container. */
  public static final int HEAD_BYTES = 16;

  private final String demuxer;
  private final String label;

  AudioContainer(String demuxer, String label) {
    this.demuxer = demuxer;
    this.label = label;
  }

  /** FFmpeg's name of the one demuxer allowed for this container. */
  public String demuxer() {
    return demuxer;
  }

  /** How the container is named to a user. */
  public String label() {
    return label;
  }

  /** The names users know, for a message that lists what is accepted. */
  public static String accepted() {
    return String.join(", ", Arrays.stream(values()).map(AudioContainer::label).toList());
  }

  /** The container the file's first bytes announce, or null when none of these. */
  public static AudioContainer sniff(byte[] head) {
    if (is(head, 0, "RIFF") || is(head, 0, "RF64")) {
      return is(head, 8, "WAVE") ? WAV : null;
    }
    if (is(head, 0, "FORM")) {
      return is(head, 8, "AIFF") || is(head, 8, "AIFC") ? AIFF : null;
    }
    if (is(head, 0, "fLaC")) {
      return FLAC;
    }
    if (is(head, 0, "OggS")) {
      return OGG;
    }
    if (is(head, 0, "ID3")) {
      return MP3; // an ID3v2 tag, then MPEG audio frames
    }
    if (is(head, 0, "caff")) {
      return CAF;
    }
    if (is(head, 0, "#!AMR")) {
      return AMR;
    }
    if (head.length >= 4
        && (head[0] & 0xff) == 0x1a
        && (head[1] & 0xff) == 0x45
        && (head[2] & 0xff) == 0xdf
        && (head[3] & 0xff) == 0xa3) {
      return MATROSKA; // EBML header: WebM, MKA
    }
    if (is(head, 4, "ftyp") || is(head, 4, "moov") || is(head, 4, "mdat")) {
      return MP4; // ISO base media: MP4, M4A, 3GP, MOV
    }
    if (head.length >= 2 && (head[0] & 0xff) == 0xff && (head[1] & 0xe0) == 0xe0) {
      int layer = (head[1] >> 1) & 0x3;
      if (layer != 0) {
        return MP3; // MPEG audio frame sync, layer I-III
      }
      return (head[1] & 0xf6) == 0xf0 ? AAC : null; // ADTS sync, layer 0
    }
    return null;
  }

  private static boolean is(byte[] head, int at, String magic) {
    byte[] m = magic.getBytes(StandardCharsets.US_ASCII);
    if (head.length < at + m.length) {
      return false;
    }
    for (int i = 0; i < m.length; i++) {
      if (head[at + i] != m[i]) {
        return false;
      }
    }
    return true;
  }
}
