package dev.pockettts.server;

import dev.pockettts.server.bench.EngineBenchmark;
import dev.pockettts.server.bench.GraphCheckCommand;
import dev.pockettts.server.bench.HttpBenchmark;
import dev.pockettts.server.bench.LoadTest;
import dev.pockettts.server.config.DotenvLoader;
import dev.pockettts.server.config.ServerSettings;
import dev.pockettts.server.config.SettingsException;
import java.util.HashMap;
import java.util.Map;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.scheduling.annotation.EnableScheduling;

/** Entry point of the PocketTTS server. */
@SpringBootApplication
@EnableScheduling
public class TtsApplication {

  public static void main(String[] args) throws Exception {
    if (args.length > 0 && args[0].equals("load-test")) {
      LoadTest.main(java.util.Arrays.copyOfRange(args, 1, args.length));
      return;
    }
    if (args.length > 0 && args[0].equals("bench")) {
      HttpBenchmark.main(java.util.Arrays.copyOfRange(args, 1, args.length));
      return;
    }
    if (args.length > 0 && args[0].equals("check-graphs")) {
      GraphCheckCommand.main(java.util.Arrays.copyOfRange(args, 1, args.length));
      return;
    }
    if (args.length > 0 && args[0].equals("bench-engine")) {
      EngineBenchmark.main(java.util.Arrays.copyOfRange(args, 1, args.length));
      return;
    }
    Map<String, Object> dotenv = DotenvLoader.defaults();
    try {
      // fail fast, naming the setting, before Spring starts
      ServerSettings.parse(
          name -> {
            String v = System.getenv(name);
            return v != null ? v : (String) dotenv.get(name);
          });
    } catch (SettingsException e) {
      System.err.println("pockettts-server: " + e.getMessage());
      System.exit(2);
    }
    SpringApplication app = new SpringApplication(TtsApplication.class);
    app.setDefaultProperties(new HashMap<>(dotenv));
    app.run(args);
  }
}
