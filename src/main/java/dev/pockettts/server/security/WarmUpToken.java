package dev.pockettts.server.security;

import jakarta.servlet.http.HttpServletRequest;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.HexFormat;
import org.springframework.stereotype.Component;

/**
 * The secret of the server's request to itself at start ({@code api/HttpWarmUp}): made at random
 * when the process starts and never shown or logged. A request from a loopback address that carries
 * it in {@link #HEADER} is that warm-up: it needs no key, counts against no rate limit and is left
 * out of the speech metrics.
 */
@Component
public class WarmUpToken {

  /** The header the warm-up request carries the secret in. */
  public static final String HEADER = "X-PocketTTS-Warm-Up";

  private final String value;

  public WarmUpToken() {
    byte[] b = new byte[32];
    new SecureRandom().nextBytes(b);
    this.value = HexFormat.of().formatHex(b);
  }

  /** The secret, for the warm-up request alone. */
  public String value() {
    return value;
  }

  /** Whether {@code request} is the warm-up: the secret, from this machine. */
  public boolean recognises(HttpServletRequest request) {
    String presented = request.getHeader(HEADER);
    if (presented == null
        || !MessageDigest.isEqual(
            presented.getBytes(StandardCharsets.UTF_8), value.getBytes(StandardCharsets.UTF_8))) {
      return false;
    }
    try {
      return InetAddress.getByName(request.getRemoteAddr()).isLoopbackAddress();
    } catch (UnknownHostException e) {
      return false;
    }
  }
}
