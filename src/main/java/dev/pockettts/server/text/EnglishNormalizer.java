package dev.pockettts.server.text;

import com.ibm.icu.text.RuleBasedNumberFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Writes English text the way it is read aloud, so that the model speaks "twenty-five percent"
 * rather than spelling digits: URLs and e-mail addresses, currency, percentages, times, ISO dates,
 * ordinals, years after "in"/"since", decimals and plain numbers (ICU's spell-out rules), and
 * common abbreviations. Thread-safe.
 */
public final class EnglishNormalizer {

  private static final String[] MONTHS = {
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December"
  };

  private static final Map<String, String> ABBREVIATIONS =
      Map.ofEntries(
          Map.entry("Mr.", "Mister"),
          Map.entry("Mrs.", "Missus"),
          Map.entry("Ms.", "Miz"),
          Map.entry("Dr.", "Doctor"),
          Map.entry("Prof.", "Professor"),
          Map.entry("e.g.", "for example"),
          Map.entry("i.e.", "that is"),
          Map.entry("etc.", "et cetera"),
          Map.entry("vs.", "versus"),
          Map.entry("approx.", "approximately"));

  private static final Pattern URL =
      Pattern.compile("\\b(?:https?://|www\\.)[^\\s<>\"]+[^\\s<>\".,;:!?)]");
  private static final Pattern EMAIL =
      Pattern.compile("\\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\\.[A-Za-z0-9-]+)+\\b");
  private static final Pattern CURRENCY =
      Pattern.compile("([$£€])(\\d{1,3}(?:,\\d{3})+|\\d+)(?:\\.(\\d{2}))?(?!\\d)");
  private static final Pattern PERCENT = Pattern.compile("(\\d+(?:\\.\\d+)?)\\s?%");
  private static final Pattern TIME =
      Pattern.compile(
          "\\b([01]?\\d|2[0-3]):([0-5]\\d)(?:\\s?([ap])(?:m\\b|\\.m\\.))?(?![\\w:])",
          Pattern.CASE_INSENSITIVE);
  private static final Pattern DATE =
      Pattern.compile("\\b(\\d{4})-(0[1-9]|1[0-2])-(0[1-9]|[12]\\d|3[01])\\b");
  private static final Pattern ORDINAL =
      Pattern.compile("\\b(\\d{1,3}(?:,\\d{3})+|\\d+)(st|nd|rd|th)\\b", Pattern.CASE_INSENSITIVE);
  private static final Pattern YEAR =
      Pattern.compile("\\b(in|since|by|of|until|from|year)\\s+(1[1-9]\\d\\d|20\\d\\d)\\b");
  private static final Pattern NUMBER =
      Pattern.compile("(?<![\\w.])(-)?(\\d{1,3}(?:,\\d{3})+|\\d+)(\\.\\d+)?(?![\\w])");
  private static final Pattern ABBREVIATION;

  static {
    StringBuilder alternatives = new StringBuilder();
    for (String a : ABBREVIATIONS.keySet()) {
      alternatives.append(alternatives.length() == 0 ? "" : "|").append(Pattern.quote(a));
    }
    ABBREVIATION = Pattern.compile("(?<![\\w.])(" + alternatives + ")");
  }

  private final ThreadLocal<RuleBasedNumberFormat> spellout =
      ThreadLocal.withInitial(
          () -> new RuleBasedNumberFormat(Locale.ENGLISH, RuleBasedNumberFormat.SPELLOUT));

  /** The text as it is read aloud. */
  public String normalize(String text) {
    String t = text;
    t = replace(t, URL, m -> spokenAddress(m.group().replaceFirst("^https?://", "")));
    t = replace(t, EMAIL, m -> spokenAddress(m.group().replace("@", " at ")));
    t = replace(t, CURRENCY, this::currency);
    t = replace(t, PERCENT, m -> number(m.group(1)) + " percent");
    t = replace(t, DATE, this::date);
    t = replace(t, TIME, this::time);
    t = replace(t, ORDINAL, m -> ordinal(m.group(1).replace(",", "")));
    t = replace(t, YEAR, m -> m.group(1) + " " + year(Integer.parseInt(m.group(2))));
    t = replace(t, ABBREVIATION, m -> ABBREVIATIONS.get(m.group(1)));
    t =
        replace(
            t,
            NUMBER,
            m ->
                (m.group(1) != null ? "minus " : "")
                    + number(m.group(2) + (m.group(3) == null ? "" : m.group(3))));
    return t.replace(" & ", " and ");
  }

  private static String replace(String text, Pattern p, Function<Matcher, String> f) {
    Matcher m = p.matcher(text);
    StringBuilder out = new StringBuilder();
    while (m.find()) {
      m.appendReplacement(out, Matcher.quoteReplacement(f.apply(m)));
    }
    m.appendTail(out);
    return out.toString();
  }

  private static String spokenAddress(String s) {
    return s.replaceAll("/+$", "")
        .replace(".", " dot ")
        .replace("/", " slash ")
        .replace("-", " dash ")
        .replace("_", " underscore ")
        .replaceAll("\\s+", " ")
        .strip();
  }

  private String currency(Matcher m) {
    String unit =
        switch (m.group(1)) {
          case "$" -> "dollar";
          case "£" -> "pound";
          default -> "euro";
        };
    String digits = m.group(2).replace(",", "");
    String out = whole(digits) + " " + unit + (digits.matches("0*1") ? "" : "s");
    if (m.group(3) != null && !m.group(3).equals("00")) {
      int cents = Integer.parseInt(m.group(3));
      String small =
          m.group(1).equals("£") ? (cents == 1 ? "penny" : "pence") : cents == 1 ? "cent" : "cents";
      out += " and " + cardinal(cents) + " " + small;
    }
    return out;
  }

  private String time(Matcher m) {
    int hour = Integer.parseInt(m.group(1));
    int minute = Integer.parseInt(m.group(2));
    String suffix = m.group(3) == null ? "" : " " + m.group(3).toLowerCase(Locale.ROOT) + " m";
    String minutes;
    if (minute == 0) {
      minutes = suffix.isEmpty() ? " o'clock" : "";
    } else if (minute < 10) {
      minutes = " oh " + cardinal(minute);
    } else {
      minutes = " " + cardinal(minute);
    }
    return cardinal(hour) + minutes + suffix;
  }

  private String date(Matcher m) {
    int year = Integer.parseInt(m.group(1));
    int month = Integer.parseInt(m.group(2));
    int day = Integer.parseInt(m.group(3));
    return MONTHS[month - 1] + " " + ordinal(day) + ", " + year(year);
  }

  /** A year as it is said: nineteen ninety-nine, two thousand five, twenty twenty-five. */
  String year(int year) {
    if (year >= 2000 && year < 2010) {
      return cardinal(year);
    }
    int hi = year / 100;
    int lo = year % 100;
    if (lo == 0) {
      return cardinal(hi) + " hundred";
    }
    return cardinal(hi) + (lo < 10 ? " oh " : " ") + cardinal(lo);
  }

  private String cardinal(long n) {
    return spellout.get().format(n, "%spellout-numbering");
  }

  private String ordinal(long n) {
    return spellout.get().format(n, "%spellout-ordinal");
  }

  /** A plain number, with commas between thousands or a decimal part: 1,234.5 and 3.14. */
  private String number(String digits) {
    String plain = digits.replace(",", "");
    int dot = plain.indexOf('.');
    if (dot < 0) {
      return whole(plain);
    }
    return whole(plain.substring(0, dot)) + " point " + digitByDigit(plain.substring(dot + 1));
  }

  /**
   * A whole number of any length: by ICU's rules up to 15 digits (under a thousand trillion), digit
   * by digit beyond, where a listener would not follow the words anyway.
   */
  private String whole(String digits) {
    return digits.length() > MAX_SPELLED_DIGITS
        ? digitByDigit(digits)
        : cardinal(Long.parseLong(digits));
  }

  /** An ordinal of any length: the 21st, or digit by digit with the last one ordinal. */
  private String ordinal(String digits) {
    if (digits.length() <= MAX_SPELLED_DIGITS) {
      return ordinal(Long.parseLong(digits));
    }
    int last = digits.length() - 1;
    return digitByDigit(digits.substring(0, last)) + " " + ordinal(digits.charAt(last) - '0');
  }

  private static final int MAX_SPELLED_DIGITS = 15;

  private String digitByDigit(String digits) {
    StringBuilder b = new StringBuilder();
    for (char c : digits.toCharArray()) {
      b.append(b.length() == 0 ? "" : " ").append(cardinal(c - '0'));
    }
    return b.toString();
  }

  /** The abbreviations this normaliser expands, for documentation. */
  static List<String> abbreviations() {
    return ABBREVIATIONS.keySet().stream().sorted().toList();
  }
}
