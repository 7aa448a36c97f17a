package dev.pockettts.server.engine;

import java.util.List;
import java.util.Locale;

/**
 * The language family of a model, read from the {@code language} field of its {@code bundle.json}.
 * The exporter writes the name of the model's config there ({@code english_2026-04}, {@code
 * french_24l}, {@code german}, {@code spanish_24l}, ...), not a bare language, so the family is the
 * known language that the value is or starts with (followed by {@code _}).
 */
public final class Language {

  /** The families of upstream's model configs, with their BCP 47 codes. */
  private static final List<String[]> FAMILIES =
      List.of(
          new String[] {"english", "en"},
          new String[] {"french", "fr"},
          new String[] {"german", "de"},
          new String[] {"italian", "it"},
          new String[] {"portuguese", "pt"},
          new String[] {"spanish", "es"},
          new String[] {"dutch", "nl"});

  public static final String ENGLISH = "english";

  private Language() {}

  /**
   * The family of a bundle's {@code language} value ({@code english_2026-04} is {@code english}),
   * or null when it names no known language.
   */
  public static String family(String raw) {
    if (raw == null) {
      return null;
    }
    String v = raw.strip().toLowerCase(Locale.ROOT);
    for (String[] f : FAMILIES) {
      if (v.equals(f[0]) || v.startsWith(f[0] + "_") || v.startsWith(f[0] + "-")) {
        return f[0];
      }
    }
    return null;
  }

  /** The family of {@code raw}, or {@code raw} itself when it names no known language. */
  public static String familyOr(String raw) {
    String family = family(raw);
    return family != null ? family : raw;
  }

  /** The BCP 47 code of a family ({@code en} for english), or null for an unknown one. */
  public static String code(String family) {
    for (String[] f : FAMILIES) {
      if (f[0].equals(family)) {
        return f[1];
      }
    }
    return null;
  }
}
