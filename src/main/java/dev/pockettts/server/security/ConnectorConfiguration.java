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
   * Tomcat's error answers as problem documents: the host's error report valve (Spring Boot adds
   * Tomcat's own) is replaced by one that writes RFC 9457 JSON. Runs after Spring Boot's own
   * customizers, so that its valve is there to be replaced.
   */
  @Bean
  WebServerFactoryCustomizer<TomcatServletWebServerFactory> problemErrorReports() {
    return new ProblemReports();
  }

  @Order(Ordered.LOWEST_PRECEDENCE)
  static final class ProblemReports
      implements WebServerFactoryCustomizer<TomcatServletWebServerFactory>, Ordered {
    @Override
    public void customize(TomcatServletWebServerFactory factory) {
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
