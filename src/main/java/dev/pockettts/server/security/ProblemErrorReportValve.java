package dev.pockettts.server.security;

import dev.pockettts.server.api.ErrorBodies;
import java.io.IOException;
import java.io.Writer;
import java.util.Locale;
import org.apache.catalina.connector.Request;
import org.apache.catalina.connector.Response;
import org.apache.catalina.valves.ErrorReportValve;
import org.apache.tomcat.util.res.StringManager;
import tools.jackson.databind.json.JsonMapper;

/**
 * Tomcat's own error answers (a request it cannot parse, a header too large, a path it refuses) as
 * RFC 9457 problem documents instead of its HTML page, with nothing of the server in them.
 */
public final class ProblemErrorReportValve extends ErrorReportValve {

  private static final StringManager SM = StringManager.getManager("org.apache.catalina.valves");
  private static final JsonMapper JSON = JsonMapper.builder().build();

  @Override
  protected void report(Request request, Response response, Throwable throwable) {
    int status = response.getStatus();
    if (status < 400 || response.getContentWritten() > 0 || !response.setErrorReported()) {
      return;
    }
    String reason;
    try {
      reason = SM.getString("http." + status + ".reason", Locale.ENGLISH);
    } catch (RuntimeException e) {
      reason = null;
    }
    if (reason == null || reason.startsWith("http.")) {
      org.springframework.http.HttpStatus s = org.springframework.http.HttpStatus.resolve(status);
      reason = s != null ? s.getReasonPhrase() : "Error";
    }
    String slug = reason.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9]+", "-");
    String detail =
        status == 400
            ? "the request is not valid HTTP (request line, header or path)"
            : "the server cannot answer this request (" + reason + ")";
    // no URI: the request may be one Tomcat could not even parse
    String body = JSON.writeValueAsString(ErrorBodies.of(status, slug, reason, detail, null));
    try {
      response.setContentType(ErrorBodies.contentType(null));
      response.setCharacterEncoding("UTF-8");
      Writer w = response.getReporter();
      if (w != null) {
        w.write(body);
        response.finishResponse();
      }
    } catch (IOException | IllegalStateException e) {
      // the connection is going away; nothing more to say
    }
  }
}
