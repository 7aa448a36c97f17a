package dev.pockettts.server.system;

/** How any layer quotes a value the client sent in a message meant for that client. */
public final class ClientText {

  private ClientText() {}

  /**
   * What went wrong in an I/O failure, as a client may read it: the file system's reason ("No space
   * left on device", "Permission denied", "missing file") without the paths of the server.
   */
  public static String reason(Throwable e) {
    if (e instanceof java.nio.file.NoSuchFileException) {
      return "a file is missing";
    }
    if (e instanceof java.nio.file.AccessDeniedException) {
      return "permission denied";
    }
    if (e instanceof java.nio.file.FileSystemException f && f.getReason() != null) {
      return withoutPaths(f.getReason());
    }
    String m = e.getMessage();
    return m == null ? e.getClass().getSimpleName() : withoutPaths(m);
  }

  /** A message with every absolute path in it replaced by "a file". */
  public static String withoutPaths(String message) {
    if (message == null) {
      return "";
    }
    return message
        .replaceAll("[A-Za-z]:\\\\[^\\s:'\"]+", "a file")
        .replaceAll("(?<![\\w.:/])/[^\\s:'\",;)]+", "a file")
        .strip();
  }

  /**
   * A message with every absolute path in it cut to its last part ({@code /srv/models/x/a.onnx}
   * becomes {@code a.onnx}): the file is still named, the server's folders are not.
   */
  public static String fileNamesOnly(String message) {
    if (message == null) {
      return "";
    }
    java.util.regex.Matcher m =
        java.util.regex.Pattern.compile("(?<![\\w.:/])/(?:[^\\s:'\",;()/]+/)*([^\\s:'\",;()/]+)")
            .matcher(message);
    return m.replaceAll(r -> java.util.regex.Matcher.quoteReplacement(r.group(1)));
  }

  /** The value as a message quotes it: at most 64 characters, never null. */
  public static String shown(String value) {
    if (value == null) {
      return "";
    }
    return value.length() > 64 ? value.substring(0, 64) + "..." : value;
  }
}
