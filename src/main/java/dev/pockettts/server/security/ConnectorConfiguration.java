package dev.pockettts.server.security;

import dev.pockettts.server.config.ServerSettings;
import org.apache.catalina.Pipeline;
import org.apache.catalina.Valve;
import org.apache.catalina.core.StandardHost;
import org.apache.catalina.valves.ErrorReportValve;
import org.springframework.boot.tomcat.TomcatConnectorCustomizer;
import org.springframework.boot.tomcat.TomcatContextCustomizer;
import org.springframework.boot.tomcat.servlet.TomcatServletWebServerFactory;
import org.springframework.boot.web.server.WebServerFactoryCustomizer;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.Ordered;
import org.springframework.core.annotation.Order;

/** Tomcat settings that the properties cannot express. */
@Configuration(proxyBeanMethods = false)
class ConnectorConfiguration {

  /**
   * {@code 100 Continue} only when the application reads the body: a request refused by the key
   * check is answered before its client sends the body.
   */
  @Bean
  TomcatConnectorCustomizer continueOnRead() {
    return connector -> connector.setProperty("continueResponseTiming", "onRead");
  }

  /**
   * What must come after Spring Boot's own customizers: Tomcat's error answers as problem documents
   * (the host's error report valve, which Spring Boot adds, is replaced by one that writes RFC 9457
   * JSON), and the swallow bound (Spring Boot sets its own).
   */
  @Bean
  WebServerFactoryCustomizer<TomcatServletWebServerFactory> afterSpringBoot(
      ServerSettings settings) {
    return new AfterSpringBoot(settings.maxUploadBytes());
  }

  @Order(Ordered.LOWEST_PRECEDENCE)
  static final class AfterSpringBoot
      implements WebServerFactoryCustomizer<TomcatServletWebServerFactory>, Ordered {
    private final long maxUploadBytes;

    AfterSpringBoot(long maxUploadBytes) {
      this.maxUploadBytes = maxUploadBytes;
    }

    @Override
    public void customize(TomcatServletWebServerFactory factory) {
      // what is left of an upload refused as too large is read, so that its client gets the 413,
      // up to twice MAX_UPLOAD_MB (Tomcat compares the whole rest of the body with this bound); a
      // request refused for its key is never read at all
      factory.addConnectorCustomizers(
          connector ->
              connector.setProperty(
                  "maxSwallowSize",
                  Long.toString(Math.min(Integer.MAX_VALUE, 2 * maxUploadBytes))));
      factory.addContextCustomizers(
          context -> {
            Pipeline host = context.getParent().getPipeline();
            for (Valve v : host.getValves()) {
              if (v instanceof ErrorReportValve && !(v instanceof ProblemErrorReportValve)) {
                host.removeValve(v);
              }
            }
            host.addValve(new ProblemErrorReportValve());
            if (context.getParent() instanceof StandardHost h) {
              h.setErrorReportValveClass(ProblemErrorReportValve.class.getName());
            }
          });
    }

    @Override
    public int getOrder() {
      return Ordered.LOWEST_PRECEDENCE;
    }
  }

  /** Request bodies must arrive within BODY_TIMEOUT. */
  @Bean
  TomcatContextCustomizer bodyDeadline(ServerSettings settings) {
    return context ->
        context.getPipeline().addValve(new BodyDeadlineValve(settings.bodyTimeout().toNanos()));
  }
}
