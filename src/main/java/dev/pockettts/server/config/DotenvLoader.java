package dev.pockettts.server.config;

import io.github.cdimascio.dotenv.Dotenv;
import io.github.cdimascio.dotenv.DotenvEntry;
import java.util.HashMap;
import java.util.Map;

/** Reads {@code .env} from the working folder; the process environment wins over it. */
public final class DotenvLoader {

  private DotenvLoader() {}

  /** The entries of .env that the environment does not set. */
  public static Map<String, Object> defaults() {
    Dotenv dotenv = Dotenv.configure().ignoreIfMissing().ignoreIfMalformed().load();
    Map<String, Object> out = new HashMap<>();
    for (DotenvEntry e : dotenv.entries(Dotenv.Filter.DECLARED_IN_ENV_FILE)) {
      if (System.getenv(e.getKey()) == null) {
        out.put(e.getKey(), e.getValue());
      }
    }
    return out;
  }
}
