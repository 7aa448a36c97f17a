package dev.pockettts.server.voice;

import java.util.List;
import java.util.Map;

/** OpenAI's voice names and the built-in voice each one speaks with (README.md has the table). */
public final class OpenAiVoices {

  public static final Map<String, String> ALIASES =
      Map.ofEntries(
          Map.entry("alloy", "alba"),
          Map.entry("ash", "marius"),
          Map.entry("ballad", "jean"),
          Map.entry("cedar", "charles"),
          Map.entry("coral", "azelma"),
          Map.entry("echo", "jean"),
          Map.entry("fable", "fantine"),
          Map.entry("marin", "anna"),
          Map.entry("nova", "cosette"),
          Map.entry("onyx", "javert"),
          Map.entry("sage", "eponine"),
          Map.entry("shimmer", "eponine"),
          Map.entry("verse", "marius"));

  private OpenAiVoices() {}

  /** The OpenAI names that speak with {@code voice}, sorted. */
  public static List<String> aliasesOf(String voice) {
    return ALIASES.entrySet().stream()
        .filter(e -> e.getValue().equals(voice))
        .map(Map.Entry::getKey)
        .sorted()
        .toList();
  }
}
