package dev.pockettts.server.security;

import dev.pockettts.server.api.ErrorBodies;
import dev.pockettts.server.config.ServerSettings;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import org.springframework.core.Ordered;
import org.springframework.core.annotation.Order;
import org.springframework.http.HttpHeaders;
import org.springframework.stereotype.Component;
import org.springframework.web.filter.OncePerRequestFilter;
import tools.jackson.databind.json.JsonMapper;

/**
 * Requires the API key on every request except {@code /}, {@code /health} and {@code /voice/**}.
 * The key is accepted as {@code API_KEY} (the seed's header), {@code X-API-Key} or {@code
 * Authorization: Bearer}, since proxies such as nginx drop header names with underscores by
 * default. Keys are compared in constant time.
 */
@Component
@Order(Ordered.HIGHEST_PRECEDENCE + 10)
class ApiKeyFilter extends OncePerRequestFilter {

  private static final JsonMapper JSON = JsonMapper.builder().build();

  private final byte[] keyDigest;
  private final int perMinute;
  private final int failuresPerMinute;

  /**
   * Requests with the key (the bucket named after the key's digest, so deployments with other keys
   * sharing a Redis count apart) and failed authentications per client address.
   */
  private final RateLimits limits;

  private final String keyBucket;

  private final WarmUpToken warmUp;

  ApiKeyFilter(ServerSettings settings, RateLimits limits, WarmUpToken warmUp) {
    this.warmUp = warmUp;
    this.perMinute = settings.rateLimitPerMinute();
    this.failuresPerMinute = settings.authFailuresPerMinute();
    this.limits = limits;
    this.keyDigest =
        settings.authDisabled() || settings.apiKey() == null ? null : digest(settings.apiKey());
    this.keyBucket = keyDigest == null ? null : "key:" + HexFormat.of().formatHex(keyDigest, 0, 8);
  }

  @Override
  protected boolean shouldNotFilter(HttpServletRequest request) {
    String path = request.getRequestURI().substring(request.getContextPath().length());
    if (keyDigest == null) {
      return true;
    }
    // an open path only as written plainly: a dot segment, an encoded character, a parameter or a
    // doubled slash could be read as another path by whatever handles it next
    if (path.contains("/.")
        || path.contains("%")
        || path.contains(";")
        || path.contains("//")
        || path.contains("\\")) {
      return false;
    }
    return path.equals("/")
        || path.equals("/favicon.ico")
        || path.equals("/health")
        || path.startsWith("/voice/")
        || path.equals("/error")
        || path.equals("/ui")
        || path.startsWith("/ui/")
        || path.equals("/docs")
        || path.startsWith("/docs/")
        || path.startsWith("/v3/api-docs")
        || path.startsWith("/swagger-ui/")
        || path.equals("/actuator/health")
        || path.startsWith("/actuator/health/");
  }

  @Override
  protected void doFilterInternal(
      HttpServletRequest request, HttpServletResponse response, FilterChain chain)
      throws ServletException, IOException {
    if (warmUp.recognises(request)) {
      chain.doFilter(request, response); // the server's own request at start
      return;
    }
    String client = request.getRemoteAddr();
    long blocked =
        failuresPerMinute > 0 ? limits.peek(failureBucket(client), failuresPerMinute) : 0;
    if (blocked > 0) {
      // no key is checked from an address over its failures, or guessing would go on unhindered
      refuse(request, response);
      response.setStatus(429);
      response.setHeader(HttpHeaders.RETRY_AFTER, Long.toString(blocked));
      writeProblem(
          response,
          request,
          "rate-limited",
          "Too many failed authentications",
          "this address sent a wrong key too often (AUTH_FAILURES_PER_MINUTE); retry in "
              + blocked
              + " s");
      return;
    }
    String presented = presentedKey(request);
    if (presented != null && MessageDigest.isEqual(keyDigest, digest(presented))) {
      long wait = perMinute > 0 ? limits.tryAcquire(keyBucket, perMinute) : 0;
      if (wait > 0) {
        response.setStatus(429);
        response.setHeader(HttpHeaders.RETRY_AFTER, Long.toString(wait));
        writeProblem(
            response,
            request,
            "rate-limited",
            "Too many requests",
            "this key may make "
                + perMinute
                + " requests a minute (RATE_LIMIT_PER_MINUTE); retry in "
                + wait
                + " s");
        return;
      }
      chain.doFilter(request, response);
      return;
    }
    if (failuresPerMinute > 0 && presented != null) {
      // a wrong key is a guess; a request without one (a browser's favicon) is not
      limits.tryAcquire(failureBucket(client), failuresPerMinute);
    }
    refuse(request, response);
    response.setStatus(HttpServletResponse.SC_UNAUTHORIZED);
    response.setHeader(HttpHeaders.WWW_AUTHENTICATE, "Bearer");
    writeProblem(
        response,
        request,
        "unauthorized",
        "Unauthorized",
        presented == null
            ? "send the API key in the API_KEY header (or X-API-Key, or Authorization: Bearer <key>)"
            : "the API key is not valid");
  }

  private static String failureBucket(String client) {
    return "auth-failures:" + client;
  }

  /**
   * A refused request's body is never asked for (no {@code 100 Continue}: Tomcat sends it only on a
   * read) nor read afterwards: the connection closes after the answer.
   */
  private static void refuse(HttpServletRequest request, HttpServletResponse response) {
    if (request.getContentLengthLong() > 0 || request.getHeader("Transfer-Encoding") != null) {
      TomcatRequests.dontReadBody(request);
      response.setHeader(HttpHeaders.CONNECTION, "close");
    }
  }

  private static void writeProblem(
      HttpServletResponse response,
      HttpServletRequest request,
      String slug,
      String title,
      String detail)
      throws IOException {
    String uri = request.getRequestURI();
    response.setContentType(ErrorBodies.contentType(uri));
    response.setCharacterEncoding("UTF-8");
    response
        .getWriter()
        .write(
            JSON.writeValueAsString(
                ErrorBodies.of(response.getStatus(), slug, title, detail, uri)));
  }

  private static String presentedKey(HttpServletRequest request) {
    String key = request.getHeader("API_KEY");
    if (key == null) {
      key = request.getHeader("X-API-Key");
    }
    if (key == null) {
      String auth = request.getHeader(HttpHeaders.AUTHORIZATION);
      if (auth != null && auth.regionMatches(true, 0, "Bearer ", 0, 7)) {
        key = auth.substring(7).strip();
      }
    }
    return key;
  }

  private static byte[] digest(String key) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
